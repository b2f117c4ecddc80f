// PostgresStore: users and what they keep (store.h UserRecord ...), as SqliteStore keeps them
// (sqlite_users.cpp). Ids are the largest + 1 under the id lock, as tracks' are
// (postgres_internal.h kIdLock), so both stores give the same ids.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/postgres_internal.h"
#include "store/postgres_store.h"
#include "store/user_data.h"

namespace clap::store {

using namespace pg_impl;

namespace {

constexpr const char* kUserColumns = "id, name, password_encrypted, admin::int, created_at";

UserRecord decode_user(const pg::Result& r, int i) {
  UserRecord u;
  u.id = r.int64(i, 0);
  u.name = r.text(i, 1);
  u.password_encrypted = r.text(i, 2);
  u.admin = r.int64(i, 3) != 0;
  u.created_at = r.int64(i, 4);
  return u;
}

constexpr const char* kKeyColumns = "id, user_id, key_hash, label, created_at";

ApiKeyRecord decode_key(const pg::Result& r, int i) {
  return {r.int64(i, 0), r.int64(i, 1), r.text(i, 2), r.text(i, 3), r.int64(i, 4)};
}

FeedbackRecord decode_feedback(const pg::Result& r, int i, bool rating) {
  FeedbackRecord f;
  f.user_id = r.int64(i, 0);
  f.kind = r.text(i, 1);
  f.item_id = r.text(i, 2);
  f.song = {r.int64(i, 3), r.text(i, 4), r.text(i, 5)};
  f.at = r.int64(i, 6);
  if (rating) f.rating = static_cast<int>(r.int64(i, 7));
  return f;
}

constexpr const char* kPlayColumns =
    "id, user_id, track_id, content_hash, path, played_at, seconds_played, skipped::int, source";

PlayRecord decode_play(const pg::Result& r, int i) {
  PlayRecord p;
  p.id = r.int64(i, 0);
  p.user_id = r.int64(i, 1);
  p.song = {r.int64(i, 2), r.text(i, 3), r.text(i, 4)};
  p.played_at = r.int64(i, 5);
  p.seconds_played = r.real(i, 6);
  p.skipped = r.int64(i, 7) != 0;
  p.source = r.text(i, 8);
  return p;
}

constexpr const char* kPlaylistColumns =
    "p.id, p.owner, p.name, p.comment, p.public::int, p.created_at, p.changed_at, "
    "(SELECT COUNT(*) FROM playlist_entries e WHERE e.playlist_id = p.id)";

PlaylistRecord decode_playlist(const pg::Result& r, int i) {
  PlaylistRecord p;
  p.id = r.int64(i, 0);
  p.owner = r.int64(i, 1);
  p.name = r.text(i, 2);
  p.comment = r.text(i, 3);
  p.is_public = r.int64(i, 4) != 0;
  p.created_at = r.int64(i, 5);
  p.changed_at = r.int64(i, 6);
  p.entry_count = r.int64(i, 7);
  return p;
}

std::vector<SongRef> entries_of(pg::Connection& c, int64_t playlist_id) {
  auto r = c.query("SELECT track_id, content_hash, path FROM playlist_entries WHERE playlist_id = $1::bigint ORDER BY position",
                   pg::Params().add(playlist_id));
  std::vector<SongRef> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.int64(i, 0), r.text(i, 1), r.text(i, 2)});
  return out;
}

// The id a new row of `table` gets (under the id lock, taken here for the transaction).
int64_t next_id(pg::Connection& c, const char* table) {
  lock_ids(c);
  return max_id(c, table) + 1;
}

void write_user(pg::Connection& c, const UserRecord& u) {
  c.query("INSERT INTO users(id, name, password_encrypted, admin, created_at) VALUES ($1::bigint, $2, $3, $4::boolean, "
          "$5::bigint)",
          pg::Params().add(u.id).add(u.name).add(u.password_encrypted).add(boolean(u.admin)).add(u.created_at));
}

void write_key(pg::Connection& c, const ApiKeyRecord& k) {
  c.query("INSERT INTO api_keys(id, user_id, key_hash, label, created_at) VALUES ($1::bigint, $2::bigint, $3, $4, $5::bigint)",
          pg::Params().add(k.id).add(k.user_id).add(k.key_hash).add(k.label).add(k.created_at));
}

void write_feedback(pg::Connection& c, const FeedbackRecord& f, bool rating) {
  pg::Params p;
  p.add(f.user_id).add(f.kind).add(f.item_id).add(f.song.track_id).add(f.song.content_hash).add(f.song.path).add(f.at);
  if (rating) {
    p.add(f.rating);
    c.query("INSERT INTO ratings(user_id, item_kind, item_id, track_id, content_hash, path, rated_at, rating) "
            "VALUES ($1::bigint, $2, $3, $4::bigint, $5, $6, $7::bigint, $8::integer)",
            p);
  } else {
    c.query("INSERT INTO stars(user_id, item_kind, item_id, track_id, content_hash, path, starred_at) "
            "VALUES ($1::bigint, $2, $3, $4::bigint, $5, $6, $7::bigint)",
            p);
  }
}

int64_t delete_feedback(pg::Connection& c, const char* table, int64_t user_id, const std::string& kind,
                        const std::string& item_id, int64_t track_id) {
  return c
      .query(std::string("DELETE FROM ") + table +
                 " WHERE user_id = $1::bigint AND item_kind = $2 AND item_id = $3 AND track_id = $4::bigint",
             pg::Params().add(user_id).add(kind).add(item_id).add(track_id))
      .affected();
}

void write_play(pg::Connection& c, const PlayRecord& p) {
  c.query("INSERT INTO plays(id, user_id, track_id, content_hash, path, played_at, seconds_played, skipped, source) "
          "VALUES ($1::bigint, $2::bigint, $3::bigint, $4, $5, $6::bigint, $7::float8, $8::boolean, $9)",
          pg::Params()
              .add(p.id)
              .add(p.user_id)
              .add(p.song.track_id)
              .add(p.song.content_hash)
              .add(p.song.path)
              .add(p.played_at)
              .add(p.seconds_played)
              .add(boolean(p.skipped))
              .add(p.source));
}

void write_entries(pg::Connection& c, int64_t playlist_id, const std::vector<SongRef>& entries) {
  c.query("DELETE FROM playlist_entries WHERE playlist_id = $1::bigint", pg::Params().add(playlist_id));
  for (size_t i = 0; i < entries.size(); ++i)
    c.query("INSERT INTO playlist_entries(playlist_id, position, track_id, content_hash, path) "
            "VALUES ($1::bigint, $2::integer, $3::bigint, $4, $5)",
            pg::Params()
                .add(playlist_id)
                .add(static_cast<int64_t>(i))
                .add(entries[i].track_id)
                .add(entries[i].content_hash)
                .add(entries[i].path));
}

// Inserts a playlist with p.id (given), or updates it (update = true).
void write_playlist(pg::Connection& c, const PlaylistRecord& p, bool update) {
  if (update) {
    const int64_t n = c.query("UPDATE playlists SET owner = $1::bigint, name = $2, comment = $3, public = $4::boolean, "
                              "changed_at = $5::bigint WHERE id = $6::bigint",
                              pg::Params().add(p.owner).add(p.name).add(p.comment).add(boolean(p.is_public)).add(p.changed_at).add(p.id))
                          .affected();
    if (n == 0) throw Error("playlist " + std::to_string(p.id) + " does not exist");
  } else {
    c.query("INSERT INTO playlists(id, owner, name, comment, public, created_at, changed_at) VALUES ($1::bigint, $2::bigint, "
            "$3, $4, $5::boolean, $6::bigint, $7::bigint)",
            pg::Params().add(p.id).add(p.owner).add(p.name).add(p.comment).add(boolean(p.is_public)).add(p.created_at).add(p.changed_at));
  }
  write_entries(c, p.id, p.entries);
}

}  // namespace

bool PostgresStore::has_users() const { return c_->query("SELECT 1 FROM users LIMIT 1").rows() > 0; }

std::vector<UserRecord> PostgresStore::users() const {
  auto r = c_->query(std::string("SELECT ") + kUserColumns + " FROM users ORDER BY name");
  std::vector<UserRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_user(r, i));
  return out;
}

std::optional<UserRecord> PostgresStore::user(const std::string& name) const {
  auto r = c_->query(std::string("SELECT ") + kUserColumns + " FROM users WHERE name = $1", pg::Params().add(name));
  if (!r.rows()) return std::nullopt;
  return decode_user(r, 0);
}

std::optional<UserRecord> PostgresStore::user_by_id(int64_t id) const {
  auto r = c_->query(std::string("SELECT ") + kUserColumns + " FROM users WHERE id = $1::bigint", pg::Params().add(id));
  if (!r.rows()) return std::nullopt;
  return decode_user(r, 0);
}

int64_t PostgresStore::add_user(const UserRecord& user) {
  pg::Transaction tx(*c_);
  UserRecord u = user;
  u.id = next_id(*c_, "users");
  if (this->user(u.name)) throw Error("user " + quote_name(u.name) + " already exists");
  write_user(*c_, u);
  tx.commit();
  return u.id;
}

void PostgresStore::set_password(int64_t user_id, const std::string& password_encrypted) {
  const int64_t n = c_->query("UPDATE users SET password_encrypted = $1 WHERE id = $2::bigint",
                              pg::Params().add(password_encrypted).add(user_id))
                        .affected();
  if (n == 0) throw Error("user " + std::to_string(user_id) + " does not exist");
}

bool PostgresStore::remove_user(int64_t user_id) {
  pg::Transaction tx(*c_);
  for (const char* table : {"api_keys", "stars", "ratings", "plays", "bookmarks", "play_queue_entries", "play_queues"})
    c_->query(std::string("DELETE FROM ") + table + " WHERE user_id = $1::bigint", pg::Params().add(user_id));
  c_->query("DELETE FROM playlist_entries WHERE playlist_id IN (SELECT id FROM playlists WHERE owner = $1::bigint)",
            pg::Params().add(user_id));
  c_->query("DELETE FROM playlists WHERE owner = $1::bigint", pg::Params().add(user_id));
  const bool removed = c_->query("DELETE FROM users WHERE id = $1::bigint", pg::Params().add(user_id)).affected() > 0;
  tx.commit();
  return removed;
}

int64_t PostgresStore::add_api_key(const ApiKeyRecord& key) {
  pg::Transaction tx(*c_);
  ApiKeyRecord k = key;
  k.id = next_id(*c_, "api_keys");
  write_key(*c_, k);
  tx.commit();
  return k.id;
}

std::optional<ApiKeyRecord> PostgresStore::api_key(const std::string& key_hash) const {
  auto r = c_->query(std::string("SELECT ") + kKeyColumns + " FROM api_keys WHERE key_hash = $1", pg::Params().add(key_hash));
  if (!r.rows()) return std::nullopt;
  return decode_key(r, 0);
}

std::vector<ApiKeyRecord> PostgresStore::api_keys(int64_t user_id) const {
  auto r = c_->query(std::string("SELECT ") + kKeyColumns + " FROM api_keys WHERE user_id = $1::bigint ORDER BY id",
                     pg::Params().add(user_id));
  std::vector<ApiKeyRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_key(r, i));
  return out;
}

bool PostgresStore::remove_api_key(int64_t user_id, int64_t key_id) {
  return c_->query("DELETE FROM api_keys WHERE id = $1::bigint AND user_id = $2::bigint", pg::Params().add(key_id).add(user_id))
             .affected() > 0;
}

void PostgresStore::put_star(const FeedbackRecord& star) {
  check_feedback(star, false);
  pg::Transaction tx(*c_);
  lock_user(*c_, star.user_id);
  delete_feedback(*c_, "stars", star.user_id, star.kind, star.item_id, star.song.track_id);
  write_feedback(*c_, star, false);
  tx.commit();
}

bool PostgresStore::remove_star(int64_t user_id, const std::string& kind, const std::string& item_id, int64_t track_id) {
  return delete_feedback(*c_, "stars", user_id, kind, item_id, track_id) > 0;
}

std::vector<FeedbackRecord> PostgresStore::stars(int64_t user_id) const {
  auto r = c_->query("SELECT user_id, item_kind, item_id, track_id, content_hash, path, starred_at FROM stars "
                     "WHERE user_id = $1::bigint ORDER BY starred_at DESC, item_kind, item_id, track_id",
                     pg::Params().add(user_id));
  std::vector<FeedbackRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_feedback(r, i, false));
  return out;
}

void PostgresStore::put_rating(const FeedbackRecord& rating) {
  check_feedback(rating, true);
  pg::Transaction tx(*c_);
  lock_user(*c_, rating.user_id);
  delete_feedback(*c_, "ratings", rating.user_id, rating.kind, rating.item_id, rating.song.track_id);
  if (rating.rating > 0) write_feedback(*c_, rating, true);
  tx.commit();
}

std::vector<FeedbackRecord> PostgresStore::ratings(int64_t user_id) const {
  auto r = c_->query("SELECT user_id, item_kind, item_id, track_id, content_hash, path, rated_at, rating FROM ratings "
                     "WHERE user_id = $1::bigint ORDER BY rated_at DESC, item_kind, item_id, track_id",
                     pg::Params().add(user_id));
  std::vector<FeedbackRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_feedback(r, i, true));
  return out;
}

int64_t PostgresStore::add_play(const PlayRecord& play) {
  check_play(play);
  pg::Transaction tx(*c_);
  // insert_plays takes the id lock (next_id): a second add of the same play waits for this one's
  // commit, then finds it kept.
  int64_t id = 0;
  if (insert_plays({play}) == 1) {
    id = max_id(*c_, "plays");
  } else {
    // The same play kept already (a retried scrobble, hostile pass 16 H16S-5): its id.
    auto r = c_->query("SELECT id FROM plays WHERE user_id = $1::bigint AND source = $2 AND played_at = $3::bigint AND "
                       "(CASE WHEN content_hash = '' THEN 'path:' || path ELSE content_hash END) = "
                       "(CASE WHEN $4::text = '' THEN 'path:' || $5::text ELSE $4::text END)",
                       pg::Params().add(play.user_id).add(play.source).add(play.played_at).add(play.song.content_hash).add(play.song.path));
    if (!r.rows()) throw Error("play of " + play.song.path + " was neither added nor found kept");
    id = r.int64(0, 0);
  }
  tx.commit();
  return id;
}

namespace {
// Held by add_new_plays from before its reading of the plays kept to its commit. Only
// add_new_plays takes it, and first in its transaction (before the id lock, lock_ids), so no
// writer holding the id lock ever waits for it: no deadlock with scrobbles or the indexer.
constexpr int64_t kNewPlaysLock = 0x636c61704e50;  // "clapNP"
}  // namespace

int64_t PostgresStore::add_plays(const std::vector<PlayRecord>& plays) {
  for (const PlayRecord& p : plays) check_play(p);
  if (plays.empty()) return 0;
  pg::Transaction tx(*c_);
  const int64_t added = insert_plays(plays);
  tx.commit();
  return added;
}

int64_t PostgresStore::add_new_plays(const std::function<std::vector<PlayRecord>()>& fresh) {
  // READ COMMITTED (pg::Transaction's BEGIN): each statement after the lock sees what the run
  // before committed; a snapshot taken before the lock (REPEATABLE READ) would not.
  pg::Transaction tx(*c_);
  c_->query("SELECT pg_advisory_xact_lock($1::bigint)", pg::Params().add(kNewPlaysLock));
  const std::vector<PlayRecord> plays = fresh();
  for (const PlayRecord& p : plays) check_play(p);
  const int64_t added = plays.empty() ? 0 : insert_plays(plays);
  tx.commit();
  return added;
}

std::vector<SongPlayCount> PostgresStore::song_play_counts(int64_t user_id, const std::string& source) const {
  auto r = c_->query("SELECT content_hash, path, skipped::int, COUNT(*) FROM plays WHERE user_id = $1::bigint AND source = $2 "
                     "GROUP BY content_hash, path, skipped",
                     pg::Params().add(user_id).add(source));
  std::vector<SongPlayCount> out;
  for (int i = 0; i < r.rows(); ++i) {
    SongPlayCount c;
    c.content_hash = r.text(i, 0);
    c.path = r.text(i, 1);
    c.skipped = r.int64(i, 2) != 0;
    c.count = r.int64(i, 3);
    out.push_back(std::move(c));
  }
  return out;
}

// Inside the caller's transaction; returns the plays added.
int64_t PostgresStore::insert_plays(const std::vector<PlayRecord>& plays) {
  int64_t added = 0;
  int64_t id = next_id(*c_, "plays");
  // Many rows a statement (a history import writes a million): one round trip per batch, not
  // per play; 9 parameters a row, well within PostgreSQL's 65535.
  constexpr size_t kBatch = 1000;
  for (size_t first = 0; first < plays.size(); first += kBatch) {
    const size_t n = std::min(kBatch, plays.size() - first);
    std::string sql = "INSERT INTO plays(id, user_id, track_id, content_hash, path, played_at, seconds_played, skipped, source) VALUES ";
    pg::Params params;
    for (size_t i = 0; i < n; ++i) {
      const PlayRecord& p = plays[first + i];
      static constexpr const char* kCasts[9] = {"::bigint", "::bigint", "::bigint", "", "", "::bigint", "::float8", "::boolean", ""};
      sql.append(i ? ", (" : "(");
      for (size_t k = 0; k < 9; ++k) {
        if (k) sql.append(", ");
        sql.append("$").append(std::to_string(9 * i + k + 1)).append(kCasts[k]);
      }
      sql.append(")");
      params.add(id++).add(p.user_id).add(p.song.track_id).add(p.song.content_hash).add(p.song.path).add(p.played_at);
      params.add(p.seconds_played).add(boolean(p.skipped)).add(p.source);
    }
    // A play the unique index plays_imported_once already holds is skipped (schema 11); another
    // import writing the same plays at once waits for its transaction, then skips them.
    sql.append(" ON CONFLICT DO NOTHING");
    added += c_->query(sql, params).affected();
  }
  return added;
}

HistoryRemoved PostgresStore::forget_history(int64_t user_id, int64_t before, const std::string& source) {
  HistoryRemoved out;
  pg::Transaction tx(*c_);
  out.plays = c_->query("DELETE FROM plays WHERE ($1::bigint = 0 OR user_id = $1::bigint) AND ($2::bigint = 0 OR played_at < "
                        "$2::bigint) AND ($3::text = '' OR source = $3::text)",
                        pg::Params().add(user_id).add(before).add(source))
                  .affected();
  if (source.empty()) {
    out.stars = c_->query("DELETE FROM stars WHERE ($1::bigint = 0 OR user_id = $1::bigint) AND ($2::bigint = 0 OR starred_at < "
                          "$2::bigint)",
                          pg::Params().add(user_id).add(before))
                    .affected();
    out.ratings = c_->query("DELETE FROM ratings WHERE ($1::bigint = 0 OR user_id = $1::bigint) AND ($2::bigint = 0 OR rated_at "
                            "< $2::bigint)",
                            pg::Params().add(user_id).add(before))
                      .affected();
  }
  tx.commit();
  return out;
}

std::vector<PlayRecord> PostgresStore::plays(int64_t user_id, int64_t after_id, size_t limit) const {
  // A user's plays come from plays_user_id (user_id, id) in id order; plays_user_time orders them
  // by time, so without it the newer plays were found by reading every play after the id (any
  // user's) or by sorting all of the user's. One statement per case keeps the plan plain.
  const int64_t most = limit ? static_cast<int64_t>(limit) : INT64_MAX;
  auto r = user_id == 0 ? c_->query(std::string("SELECT ") + kPlayColumns +
                                        " FROM plays WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint",
                                    pg::Params().add(after_id).add(most))
                        : c_->query(std::string("SELECT ") + kPlayColumns +
                                        " FROM plays WHERE user_id = $1::bigint AND id > $2::bigint ORDER BY id "
                                        "LIMIT $3::bigint",
                                    pg::Params().add(user_id).add(after_id).add(most));
  std::vector<PlayRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_play(r, i));
  return out;
}

int64_t PostgresStore::count_plays(int64_t user_id, int64_t up_to_id) const {
  auto r = c_->query("SELECT COUNT(*) FROM plays WHERE user_id = $1::bigint AND id <= $2::bigint",
                     pg::Params().add(user_id).add(up_to_id));
  return r.int64(0, 0);
}

int64_t PostgresStore::put_playlist(const PlaylistRecord& playlist) {
  check_playlist(playlist);
  pg::Transaction tx(*c_);
  PlaylistRecord p = playlist;
  const bool update = p.id != 0;
  if (!update) p.id = next_id(*c_, "playlists");
  write_playlist(*c_, p, update);
  tx.commit();
  return p.id;
}

std::vector<PlaylistRecord> PostgresStore::playlists(int64_t user_id) const { return playlist_headers(user_id); }

std::vector<PlaylistRecord> PostgresStore::playlist_headers(PlaylistsOf which) const {
  auto r = c_->query(std::string("SELECT ") + kPlaylistColumns + " FROM playlists p WHERE " + playlists_where(which, "p.public") +
                     " ORDER BY p.id");
  std::vector<PlaylistRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_playlist(r, i));
  return out;
}

std::optional<PlaylistRecord> PostgresStore::playlist(int64_t id) const {
  auto r = c_->query(std::string("SELECT ") + kPlaylistColumns + " FROM playlists p WHERE p.id = $1::bigint",
                     pg::Params().add(id));
  if (!r.rows()) return std::nullopt;
  PlaylistRecord p = decode_playlist(r, 0);
  p.entries = entries_of(*c_, id);
  return p;
}

void PostgresStore::playlist_entries(PlaylistsOf which, bool whole, const std::function<void(int64_t, const SongRef&)>& each) const {
  // A cursor fetched a page at a time: a result holds all its rows in memory (libpq), and the
  // entries of every public playlist may be millions. It lives in a transaction: the caller's
  // (its read_scope: the cursor reads what the listing read), else a read-only one of its own.
  // Without `whole` only the track id is read.
  std::optional<pg::Transaction> own;
  if (!c_->in_transaction()) own.emplace(*c_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  c_->query(std::string("DECLARE playlist_entries NO SCROLL CURSOR FOR SELECT e.playlist_id, e.track_id") +
            (whole ? ", e.content_hash, e.path" : "") +
            " FROM playlist_entries e JOIN playlists p ON p.id = e.playlist_id WHERE " + playlists_where(which, "p.public") +
            " ORDER BY e.playlist_id, e.position");
  try {
    SongRef entry;
    for (;;) {
      const pg::Result r = c_->query("FETCH 10000 FROM playlist_entries");
      for (int i = 0; i < r.rows(); ++i) {
        entry.track_id = r.int64(i, 1);
        if (whole) entry.content_hash = r.text(i, 2), entry.path = r.text(i, 3);
        each(r.int64(i, 0), entry);
      }
      if (r.rows() < 10000) break;
    }
  } catch (...) {
    // Closed, so that the caller's transaction may read again (its end would close it too).
    try {
      c_->exec("CLOSE playlist_entries");
    } catch (...) {
    }
    throw;
  }
  c_->exec("CLOSE playlist_entries");
  if (own) own->commit();
}

int64_t PostgresStore::playlist_count(int64_t owner) const {
  return c_->query("SELECT COUNT(*) FROM playlists WHERE owner = $1::bigint", pg::Params().add(owner)).int64(0, 0);
}

bool PostgresStore::change_playlist(int64_t id, const std::function<bool(PlaylistRecord&)>& change) {
  // The row lock is held to the commit: another server process changing this playlist waits at
  // its own FOR UPDATE and then reads what this one wrote (READ COMMITTED reads anew per
  // statement), so two adds at once each keep the other's song.
  pg::Transaction tx(*c_);
  if (!c_->query("SELECT 1 FROM playlists WHERE id = $1::bigint FOR UPDATE", pg::Params().add(id)).rows()) return false;
  std::optional<PlaylistRecord> p = playlist(id);
  if (!p) return false;
  if (!change(*p)) return true;  // nothing to write: the transaction ends unwritten
  p->id = id;
  check_playlist(*p);
  write_playlist(*c_, *p, true);
  tx.commit();
  return true;
}

bool PostgresStore::remove_playlist(int64_t id) {
  pg::Transaction tx(*c_);
  c_->query("DELETE FROM playlist_entries WHERE playlist_id = $1::bigint", pg::Params().add(id));
  const bool removed = c_->query("DELETE FROM playlists WHERE id = $1::bigint", pg::Params().add(id)).affected() > 0;
  tx.commit();
  return removed;
}

int64_t PostgresStore::reattach_songs() {
  pg::Transaction tx(*c_);
  int64_t moved = 0;
  for (const SongRefTable& table : kSongRefTables) {
    moved += c_->query(reattach_sql(table)).affected();
    c_->query(refresh_sql(table));
  }
  tx.commit();
  return moved;
}

std::vector<Store::Misattached> PostgresStore::misattached_songs() const {
  std::vector<Misattached> out;
  for (const SongRefTable& table : kSongRefTables) {
    auto r = c_->query(misattached_sql(table));
    for (int i = 0; i < r.rows(); ++i)
      out.push_back({table.name, r.text(i, 3), SongRef{r.int64(i, 0), r.text(i, 1), r.text(i, 2)}, r.int64(i, 4)});
  }
  return out;
}

int64_t PostgresStore::detach_misattached_songs() {
  pg::Transaction tx(*c_);
  const std::vector<Misattached> found = misattached_songs();
  int64_t next = c_->query(highest_named_track_id_sql(true)).int64(0, 0) + 1;
  // One new id per recording (its content hash and path), the same in every table.
  std::map<std::pair<std::string, std::string>, int64_t> new_id;
  int64_t moved = 0;
  for (const Misattached& m : found) {
    const auto [it, added] = new_id.emplace(std::make_pair(m.song.content_hash, m.song.path), next);
    if (added) ++next;
    for (const SongRefTable& table : kSongRefTables)
      if (m.table == table.name)
        moved += c_->query(detach_sql(table, false),
                           pg::Params().add(m.song.track_id).add(m.song.content_hash).add(m.song.path).add(it->second))
                     .affected();
  }
  tx.commit();
  return moved;
}

UserDataCopy PostgresStore::export_user_data() const {
  UserDataCopy c;
  {
    auto r = c_->query(std::string("SELECT ") + kUserColumns + " FROM users ORDER BY id");
    for (int i = 0; i < r.rows(); ++i) c.users.push_back(decode_user(r, i));
  }
  {
    auto r = c_->query(std::string("SELECT ") + kKeyColumns + " FROM api_keys ORDER BY id");
    for (int i = 0; i < r.rows(); ++i) c.api_keys.push_back(decode_key(r, i));
  }
  {
    auto r = c_->query("SELECT user_id, item_kind, item_id, track_id, content_hash, path, starred_at FROM stars "
                       "ORDER BY user_id, starred_at, item_kind, item_id, track_id");
    for (int i = 0; i < r.rows(); ++i) c.stars.push_back(decode_feedback(r, i, false));
  }
  {
    auto r = c_->query(
        "SELECT user_id, item_kind, item_id, track_id, content_hash, path, rated_at, rating FROM ratings ORDER BY user_id, rated_at, item_kind, item_id, track_id");
    for (int i = 0; i < r.rows(); ++i) c.ratings.push_back(decode_feedback(r, i, true));
  }
  c.plays = plays(0, 0, 0);
  c.playlists = playlist_headers(0);
  attach_entries(c.playlists, [&](const auto& each) { playlist_entries(0, true, each); });
  c.play_queues = read_play_queues(*c_, 0);
  c.bookmarks = read_bookmarks(*c_, 0);
  return c;
}

void PostgresStore::import_user_data(const UserDataCopy& data) {
  if (!importing_) throw Error(where_ + ": import_user_data outside begin_import");
  for (const UserRecord& u : data.users) write_user(*c_, u);
  for (const ApiKeyRecord& k : data.api_keys) write_key(*c_, k);
  for (const FeedbackRecord& f : data.stars) write_feedback(*c_, f, false);
  for (const FeedbackRecord& f : data.ratings) write_feedback(*c_, f, true);
  for (const PlayRecord& p : data.plays) write_play(*c_, p);
  for (const PlaylistRecord& p : data.playlists) write_playlist(*c_, p, false);
  for (const PlayQueueRecord& q : data.play_queues) write_play_queue(*c_, q);
  for (const BookmarkRecord& b : data.bookmarks) write_bookmark(*c_, b);
}

}  // namespace clap::store
