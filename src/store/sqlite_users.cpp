// SqliteStore: users and what they keep (store.h UserRecord ...): accounts, API keys, stars,
// ratings, plays, playlists (play queues and bookmarks: sqlite_play_queue.cpp), the re-attachment of their song references, and their copy.
#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/sqlite.h"
#include "store/sqlite_internal.h"
#include "store/sqlite_store.h"
#include "store/user_data.h"

namespace clap::store {

using namespace sqlite_impl;

namespace {

UserRecord decode_user(const sql::Stmt& s) {
  UserRecord u;
  u.id = s.int64(0);
  u.name = s.text(1);
  u.password_encrypted = s.text(2);
  u.admin = s.int64(3) != 0;
  u.created_at = s.int64(4);
  return u;
}

constexpr const char* kUserColumns = "id, name, password_encrypted, admin, created_at";

ApiKeyRecord decode_key(const sql::Stmt& s) {
  ApiKeyRecord k;
  k.id = s.int64(0);
  k.user_id = s.int64(1);
  k.key_hash = s.text(2);
  k.label = s.text(3);
  k.created_at = s.int64(4);
  return k;
}

// user_id, item_kind, item_id, track_id, content_hash, path, at [, rating]
FeedbackRecord decode_feedback(const sql::Stmt& s, bool rating) {
  FeedbackRecord f;
  f.user_id = s.int64(0);
  f.kind = s.text(1);
  f.item_id = s.text(2);
  f.song = {s.int64(3), s.text(4), s.text(5)};
  f.at = s.int64(6);
  if (rating) f.rating = static_cast<int>(s.int64(7));
  return f;
}

constexpr const char* kPlayColumns = "id, user_id, track_id, content_hash, path, played_at, seconds_played, skipped, source";

PlayRecord decode_play(const sql::Stmt& s) {
  PlayRecord p;
  p.id = s.int64(0);
  p.user_id = s.int64(1);
  p.song = {s.int64(2), s.text(3), s.text(4)};
  p.played_at = s.int64(5);
  p.seconds_played = s.real(6);
  p.skipped = s.int64(7) != 0;
  p.source = s.text(8);
  return p;
}

constexpr const char* kPlaylistColumns =
    "p.id, p.owner, p.name, p.comment, p.public, p.created_at, p.changed_at, "
    "(SELECT COUNT(*) FROM playlist_entries e WHERE e.playlist_id = p.id)";

PlaylistRecord decode_playlist(const sql::Stmt& s) {
  PlaylistRecord p;
  p.id = s.int64(0);
  p.owner = s.int64(1);
  p.name = s.text(2);
  p.comment = s.text(3);
  p.is_public = s.int64(4) != 0;
  p.created_at = s.int64(5);
  p.changed_at = s.int64(6);
  p.entry_count = s.int64(7);
  return p;
}

std::vector<SongRef> entries_of(sqlite3* db, int64_t playlist_id) {
  std::vector<SongRef> out;
  sql::Stmt s(db, "SELECT track_id, content_hash, path FROM playlist_entries WHERE playlist_id = ? ORDER BY position");
  s.bind(1, playlist_id);
  while (s.step()) out.push_back({s.int64(0), s.text(1), s.text(2)});
  return out;
}

void write_user(sqlite3* db, const UserRecord& u, bool with_id) {
  sql::Stmt s(db, with_id ? "INSERT INTO users(id, name, password_encrypted, admin, created_at) VALUES (?, ?, ?, ?, ?)"
                          : "INSERT INTO users(name, password_encrypted, admin, created_at) VALUES (?, ?, ?, ?)");
  int i = 1;
  if (with_id) s.bind(i++, u.id);
  s.bind(i, u.name).bind(i + 1, u.password_encrypted).bind(i + 2, u.admin ? 1 : 0).bind(i + 3, u.created_at);
  s.run();
}

void write_key(sqlite3* db, const ApiKeyRecord& k, bool with_id) {
  sql::Stmt s(db, with_id ? "INSERT INTO api_keys(id, user_id, key_hash, label, created_at) VALUES (?, ?, ?, ?, ?)"
                          : "INSERT INTO api_keys(user_id, key_hash, label, created_at) VALUES (?, ?, ?, ?)");
  int i = 1;
  if (with_id) s.bind(i++, k.id);
  s.bind(i, k.user_id).bind(i + 1, k.key_hash).bind(i + 2, k.label).bind(i + 3, k.created_at);
  s.run();
}

void write_feedback(sqlite3* db, const FeedbackRecord& f, bool rating) {
  sql::Stmt s(db, rating ? "INSERT INTO ratings(user_id, item_kind, item_id, track_id, content_hash, path, rated_at, rating) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                         : "INSERT INTO stars(user_id, item_kind, item_id, track_id, content_hash, path, starred_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)");
  s.bind(1, f.user_id).bind(2, f.kind).bind(3, f.item_id).bind(4, f.song.track_id).bind(5, f.song.content_hash);
  s.bind(6, f.song.path).bind(7, f.at);
  if (rating) s.bind(8, f.rating);
  s.run();
}

// Deletes a user's star or rating of one item (a song: by track id).
int64_t delete_feedback(sqlite3* db, const char* table, int64_t user_id, const std::string& kind, const std::string& item_id,
                        int64_t track_id) {
  sql::Stmt s(db, (std::string("DELETE FROM ") + table +
                   " WHERE user_id = ? AND item_kind = ? AND item_id = ? AND track_id = ?")
                      .c_str());
  s.bind(1, user_id).bind(2, kind).bind(3, item_id).bind(4, track_id).run();
  return sqlite3_changes(db);
}

int64_t write_play(sqlite3* db, const PlayRecord& p, bool with_id) {
  sql::Stmt s(db, with_id ? "INSERT INTO plays(id, user_id, track_id, content_hash, path, played_at, seconds_played, "
                            "skipped, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                          : "INSERT INTO plays(user_id, track_id, content_hash, path, played_at, seconds_played, skipped, "
                            "source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  int i = 1;
  if (with_id) s.bind(i++, p.id);
  s.bind(i, p.user_id).bind(i + 1, p.song.track_id).bind(i + 2, p.song.content_hash).bind(i + 3, p.song.path);
  s.bind(i + 4, p.played_at).bind(i + 5, p.seconds_played).bind(i + 6, p.skipped ? 1 : 0).bind(i + 7, p.source);
  s.run();
  return sqlite3_last_insert_rowid(db);
}

void write_entries(sqlite3* db, int64_t playlist_id, const std::vector<SongRef>& entries) {
  sql::Stmt(db, "DELETE FROM playlist_entries WHERE playlist_id = ?").bind(1, playlist_id).run();
  sql::Stmt s(db, "INSERT INTO playlist_entries(playlist_id, position, track_id, content_hash, path) VALUES (?, ?, ?, ?, ?)");
  for (size_t i = 0; i < entries.size(); ++i) {
    s.bind(1, playlist_id).bind(2, static_cast<int64_t>(i)).bind(3, entries[i].track_id).bind(4, entries[i].content_hash);
    s.bind(5, entries[i].path);
    s.run();
  }
}

int64_t write_playlist(sqlite3* db, const PlaylistRecord& p, bool insert_with_id) {
  int64_t id = p.id;
  if (id == 0 || insert_with_id) {
    sql::Stmt s(db, insert_with_id ? "INSERT INTO playlists(id, owner, name, comment, public, created_at, changed_at) "
                                     "VALUES (?, ?, ?, ?, ?, ?, ?)"
                                   : "INSERT INTO playlists(owner, name, comment, public, created_at, changed_at) "
                                     "VALUES (?, ?, ?, ?, ?, ?)");
    int i = 1;
    if (insert_with_id) s.bind(i++, p.id);
    s.bind(i, p.owner).bind(i + 1, p.name).bind(i + 2, p.comment).bind(i + 3, p.is_public ? 1 : 0);
    s.bind(i + 4, p.created_at).bind(i + 5, p.changed_at);
    s.run();
    if (!insert_with_id) id = sqlite3_last_insert_rowid(db);
  } else {
    sql::Stmt s(db, "UPDATE playlists SET owner = ?, name = ?, comment = ?, public = ?, changed_at = ? WHERE id = ?");
    s.bind(1, p.owner).bind(2, p.name).bind(3, p.comment).bind(4, p.is_public ? 1 : 0).bind(5, p.changed_at).bind(6, id);
    s.run();
    if (sqlite3_changes(db) == 0) throw Error("playlist " + std::to_string(id) + " does not exist");
  }
  write_entries(db, id, p.entries);
  return id;
}

}  // namespace

bool SqliteStore::has_users() const {
  sql::Stmt s(db_, "SELECT 1 FROM users LIMIT 1");
  return s.step();
}

std::vector<UserRecord> SqliteStore::users() const {
  std::vector<UserRecord> out;
  sql::Stmt s(db_, (std::string("SELECT ") + kUserColumns + " FROM users ORDER BY name").c_str());
  while (s.step()) out.push_back(decode_user(s));
  return out;
}

std::optional<UserRecord> SqliteStore::user(const std::string& name) const {
  sql::Stmt s(db_, (std::string("SELECT ") + kUserColumns + " FROM users WHERE name = ?").c_str());
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return decode_user(s);
}

std::optional<UserRecord> SqliteStore::user_by_id(int64_t id) const {
  sql::Stmt s(db_, (std::string("SELECT ") + kUserColumns + " FROM users WHERE id = ?").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return decode_user(s);
}

int64_t SqliteStore::add_user(const UserRecord& user) {
  sql::Transaction tx(db_);
  if (this->user(user.name)) throw Error("user " + quote_name(user.name) + " already exists");
  write_user(db_, user, false);
  const int64_t id = sqlite3_last_insert_rowid(db_);
  tx.commit();
  return id;
}

void SqliteStore::set_password(int64_t user_id, const std::string& password_encrypted) {
  sql::Transaction tx(db_);
  sql::Stmt(db_, "UPDATE users SET password_encrypted = ? WHERE id = ?").bind(1, password_encrypted).bind(2, user_id).run();
  if (sqlite3_changes(db_) == 0) throw Error("user " + std::to_string(user_id) + " does not exist");
  tx.commit();
}

bool SqliteStore::remove_user(int64_t user_id) {
  sql::Transaction tx(db_);
  // Children first: the cascade needs foreign keys on, and this does not depend on it.
  for (const char* table : {"api_keys", "stars", "ratings", "plays", "bookmarks", "play_queue_entries", "play_queues"})
    sql::Stmt(db_, (std::string("DELETE FROM ") + table + " WHERE user_id = ?").c_str()).bind(1, user_id).run();
  sql::Stmt(db_, "DELETE FROM playlist_entries WHERE playlist_id IN (SELECT id FROM playlists WHERE owner = ?)")
      .bind(1, user_id)
      .run();
  sql::Stmt(db_, "DELETE FROM playlists WHERE owner = ?").bind(1, user_id).run();
  sql::Stmt(db_, "DELETE FROM users WHERE id = ?").bind(1, user_id).run();
  const bool removed = sqlite3_changes(db_) > 0;
  tx.commit();
  return removed;
}

int64_t SqliteStore::add_api_key(const ApiKeyRecord& key) {
  sql::Transaction tx(db_);
  write_key(db_, key, false);
  const int64_t id = sqlite3_last_insert_rowid(db_);
  tx.commit();
  return id;
}

std::optional<ApiKeyRecord> SqliteStore::api_key(const std::string& key_hash) const {
  sql::Stmt s(db_, "SELECT id, user_id, key_hash, label, created_at FROM api_keys WHERE key_hash = ?");
  s.bind(1, key_hash);
  if (!s.step()) return std::nullopt;
  return decode_key(s);
}

std::vector<ApiKeyRecord> SqliteStore::api_keys(int64_t user_id) const {
  std::vector<ApiKeyRecord> out;
  sql::Stmt s(db_, "SELECT id, user_id, key_hash, label, created_at FROM api_keys WHERE user_id = ? ORDER BY id");
  s.bind(1, user_id);
  while (s.step()) out.push_back(decode_key(s));
  return out;
}

bool SqliteStore::remove_api_key(int64_t user_id, int64_t key_id) {
  sql::Stmt(db_, "DELETE FROM api_keys WHERE id = ? AND user_id = ?").bind(1, key_id).bind(2, user_id).run();
  return sqlite3_changes(db_) > 0;
}

void SqliteStore::put_star(const FeedbackRecord& star) {
  check_feedback(star, false);
  sql::Transaction tx(db_);
  delete_feedback(db_, "stars", star.user_id, star.kind, star.item_id, star.song.track_id);
  write_feedback(db_, star, false);
  tx.commit();
}

bool SqliteStore::remove_star(int64_t user_id, const std::string& kind, const std::string& item_id, int64_t track_id) {
  sql::Transaction tx(db_);
  const bool removed = delete_feedback(db_, "stars", user_id, kind, item_id, track_id) > 0;
  tx.commit();
  return removed;
}

std::vector<FeedbackRecord> SqliteStore::stars(int64_t user_id) const {
  std::vector<FeedbackRecord> out;
  sql::Stmt s(db_,
              "SELECT user_id, item_kind, item_id, track_id, content_hash, path, starred_at FROM stars WHERE user_id = ? "
              "ORDER BY starred_at DESC, item_kind, item_id, track_id");
  s.bind(1, user_id);
  while (s.step()) out.push_back(decode_feedback(s, false));
  return out;
}

void SqliteStore::put_rating(const FeedbackRecord& rating) {
  check_feedback(rating, true);
  sql::Transaction tx(db_);
  delete_feedback(db_, "ratings", rating.user_id, rating.kind, rating.item_id, rating.song.track_id);
  if (rating.rating > 0) write_feedback(db_, rating, true);
  tx.commit();
}

std::vector<FeedbackRecord> SqliteStore::ratings(int64_t user_id) const {
  std::vector<FeedbackRecord> out;
  sql::Stmt s(db_,
              "SELECT user_id, item_kind, item_id, track_id, content_hash, path, rated_at, rating FROM ratings "
              "WHERE user_id = ? ORDER BY rated_at DESC, item_kind, item_id, track_id");
  s.bind(1, user_id);
  while (s.step()) out.push_back(decode_feedback(s, true));
  return out;
}

namespace {
// Inside the caller's transaction. OR IGNORE: a play the unique index plays_imported_once already
// holds (one user, source, start second and song; every source but "beets", schema 13) is
// skipped. Returns the plays added.
int64_t insert_plays(sqlite3* db, const std::vector<PlayRecord>& plays) {
  sql::Stmt s(db, "INSERT OR IGNORE INTO plays(user_id, track_id, content_hash, path, played_at, seconds_played, skipped, "
                  "source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  int64_t added = 0;
  for (const PlayRecord& p : plays) {
    s.bind(1, p.user_id).bind(2, p.song.track_id).bind(3, p.song.content_hash).bind(4, p.song.path);
    s.bind(5, p.played_at).bind(6, p.seconds_played).bind(7, p.skipped ? 1 : 0).bind(8, p.source);
    s.run();
    added += sqlite3_changes(db);
  }
  return added;
}
}  // namespace

int64_t SqliteStore::add_play(const PlayRecord& play) {
  check_play(play);
  sql::Transaction tx(db_);
  int64_t id = 0;
  if (insert_plays(db_, {play}) == 1) {
    id = sqlite3_last_insert_rowid(db_);
  } else {
    // The same play kept already (a retried scrobble, hostile pass 16 H16S-5): its id.
    sql::Stmt s(db_, "SELECT id FROM plays WHERE user_id = ? AND source = ? AND played_at = ? AND "
                     "(CASE WHEN content_hash = '' THEN 'path:' || path ELSE content_hash END) = "
                     "(CASE WHEN ? = '' THEN 'path:' || ? ELSE ? END)");
    s.bind(1, play.user_id).bind(2, play.source).bind(3, play.played_at);
    s.bind(4, play.song.content_hash).bind(5, play.song.path).bind(6, play.song.content_hash);
    if (!s.step()) throw Error("play of " + play.song.path + " was neither added nor found kept");
    id = s.int64(0);
  }
  tx.commit();
  return id;
}

int64_t SqliteStore::add_plays(const std::vector<PlayRecord>& plays) {
  for (const PlayRecord& p : plays) check_play(p);
  sql::Transaction tx(db_);
  const int64_t added = insert_plays(db_, plays);
  tx.commit();
  return added;
}

int64_t SqliteStore::add_new_plays(const std::function<std::vector<PlayRecord>()>& fresh) {
  sql::Transaction tx(db_);  // BEGIN IMMEDIATE: every other writer waits from here to the commit
  const std::vector<PlayRecord> plays = fresh();
  for (const PlayRecord& p : plays) check_play(p);
  const int64_t added = insert_plays(db_, plays);
  tx.commit();
  return added;
}

std::vector<SongPlayCount> SqliteStore::song_play_counts(int64_t user_id, const std::string& source) const {
  sql::Stmt s(db_, "SELECT content_hash, path, skipped, COUNT(*) FROM plays WHERE user_id = ? AND source = ? "
                   "GROUP BY content_hash, path, skipped");
  s.bind(1, user_id).bind(2, source);
  std::vector<SongPlayCount> out;
  while (s.step()) {
    SongPlayCount c;
    c.content_hash = s.text(0);
    c.path = s.text(1);
    c.skipped = s.int64(2) != 0;
    c.count = s.int64(3);
    out.push_back(std::move(c));
  }
  return out;
}

HistoryRemoved SqliteStore::forget_history(int64_t user_id, int64_t before, const std::string& source) {
  HistoryRemoved out;
  sql::Transaction tx(db_);
  sql::Stmt(db_, "DELETE FROM plays WHERE (? = 0 OR user_id = ?) AND (? = 0 OR played_at < ?) AND (? = '' OR source = ?)")
      .bind(1, user_id).bind(2, user_id).bind(3, before).bind(4, before).bind(5, source).bind(6, source).run();
  out.plays = sqlite3_changes(db_);
  if (source.empty()) {
    sql::Stmt(db_, "DELETE FROM stars WHERE (? = 0 OR user_id = ?) AND (? = 0 OR starred_at < ?)")
        .bind(1, user_id).bind(2, user_id).bind(3, before).bind(4, before).run();
    out.stars = sqlite3_changes(db_);
    sql::Stmt(db_, "DELETE FROM ratings WHERE (? = 0 OR user_id = ?) AND (? = 0 OR rated_at < ?)")
        .bind(1, user_id).bind(2, user_id).bind(3, before).bind(4, before).run();
    out.ratings = sqlite3_changes(db_);
  }
  tx.commit();
  return out;
}

std::vector<PlayRecord> SqliteStore::plays(int64_t user_id, int64_t after_id, size_t limit) const {
  std::vector<PlayRecord> out;
  // One statement per case, not "(? = 0 OR user_id = ?)": SQLite plans a statement before it
  // sees the values, and that OR made it read every play after the id in the table's order
  // instead of the user's own from plays_user_id (whose entries end with the id, in order).
  const std::string columns = std::string("SELECT ") + kPlayColumns;
  sql::Stmt s(db_, (columns + (user_id == 0 ? " FROM plays WHERE id > ? ORDER BY id LIMIT ?"
                                            : " FROM plays WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?"))
                       .c_str());
  const int first = user_id != 0 ? 2 : 1;  // the column of after_id
  if (user_id != 0) s.bind(1, user_id);
  s.bind(first, after_id).bind(first + 1, limit ? static_cast<int64_t>(limit) : int64_t{-1});
  while (s.step()) out.push_back(decode_play(s));
  return out;
}

int64_t SqliteStore::count_plays(int64_t user_id, int64_t up_to_id) const {
  // A range of plays_user_id (the user's entries end with the id, in order): the plays counted
  // are the ones read.
  sql::Stmt s(db_, "SELECT COUNT(*) FROM plays WHERE user_id = ? AND id <= ?");
  s.bind(1, user_id).bind(2, up_to_id);
  return s.step() ? s.int64(0) : 0;
}

int64_t SqliteStore::put_playlist(const PlaylistRecord& playlist) {
  check_playlist(playlist);
  sql::Transaction tx(db_);
  const int64_t id = write_playlist(db_, playlist, false);
  tx.commit();
  return id;
}

std::vector<PlaylistRecord> SqliteStore::playlists(int64_t user_id) const { return playlist_headers(user_id); }

std::vector<PlaylistRecord> SqliteStore::playlist_headers(PlaylistsOf which) const {
  std::vector<PlaylistRecord> out;
  sql::Stmt s(db_, (std::string("SELECT ") + kPlaylistColumns + " FROM playlists p WHERE " +
                    playlists_where(which, "p.public <> 0") + " ORDER BY p.id")
                       .c_str());
  while (s.step()) out.push_back(decode_playlist(s));
  return out;
}

std::optional<PlaylistRecord> SqliteStore::playlist(int64_t id) const {
  sql::Stmt s(db_, (std::string("SELECT ") + kPlaylistColumns + " FROM playlists p WHERE p.id = ?").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  PlaylistRecord p = decode_playlist(s);
  p.entries = entries_of(db_, id);
  return p;
}

void SqliteStore::playlist_entries(PlaylistsOf which, bool whole, const std::function<void(int64_t, const SongRef&)>& each) const {
  // The statement is stepped row by row (and finalized when `each` throws), so the rows are never
  // held together. Without `whole` only the track id is read.
  sql::Stmt s(db_, (std::string("SELECT e.playlist_id, e.track_id") + (whole ? ", e.content_hash, e.path" : "") +
                    " FROM playlist_entries e JOIN playlists p ON p.id = e.playlist_id WHERE " +
                    playlists_where(which, "p.public <> 0") + " ORDER BY e.playlist_id, e.position")
                       .c_str());
  SongRef entry;
  while (s.step()) {
    entry.track_id = s.int64(1);
    if (whole) entry.content_hash = s.text(2), entry.path = s.text(3);
    each(s.int64(0), entry);
  }
}

int64_t SqliteStore::playlist_count(int64_t owner) const {
  sql::Stmt s(db_, "SELECT COUNT(*) FROM playlists WHERE owner = ?");
  s.bind(1, owner);
  return s.step() ? s.int64(0) : 0;
}

bool SqliteStore::change_playlist(int64_t id, const std::function<bool(PlaylistRecord&)>& change) {
  sql::Transaction tx(db_);  // BEGIN IMMEDIATE: another process's change of it waits to the commit
  std::optional<PlaylistRecord> p = playlist(id);
  if (!p) return false;
  if (!change(*p)) return true;
  p->id = id;
  check_playlist(*p);
  write_playlist(db_, *p, false);
  tx.commit();
  return true;
}

bool SqliteStore::remove_playlist(int64_t id) {
  sql::Transaction tx(db_);
  sql::Stmt(db_, "DELETE FROM playlist_entries WHERE playlist_id = ?").bind(1, id).run();
  sql::Stmt(db_, "DELETE FROM playlists WHERE id = ?").bind(1, id).run();
  const bool removed = sqlite3_changes(db_) > 0;
  tx.commit();
  return removed;
}

int64_t SqliteStore::reattach_songs() {
  sql::Transaction tx(db_);
  int64_t moved = 0;
  for (const SongRefTable& table : kSongRefTables) {
    sql::exec(db_, reattach_sql(table));
    moved += sqlite3_changes(db_);
    sql::exec(db_, refresh_sql(table));
  }
  tx.commit();
  return moved;
}

std::vector<Store::Misattached> SqliteStore::misattached_songs() const {
  std::vector<Misattached> out;
  for (const SongRefTable& table : kSongRefTables) {
    sql::Stmt s(db_, misattached_sql(table).c_str());
    while (s.step()) out.push_back({table.name, s.text(3), SongRef{s.int64(0), s.text(1), s.text(2)}, s.int64(4)});
  }
  return out;
}

int64_t SqliteStore::detach_misattached_songs() {
  sql::Transaction tx(db_);
  const std::vector<Misattached> found = misattached_songs();
  int64_t next = 0;
  {
    sql::Stmt s(db_, highest_named_track_id_sql(has_retired_tables(db_)).c_str());
    next = (s.step() && !s.is_null(0) ? s.int64(0) : 0) + 1;
  }
  // One new id per recording (its content hash and path), the same in every table.
  std::map<std::pair<std::string, std::string>, int64_t> new_id;
  int64_t moved = 0;
  for (const Misattached& m : found) {
    const auto [it, added] = new_id.emplace(std::make_pair(m.song.content_hash, m.song.path), next);
    if (added) ++next;
    for (const SongRefTable& table : kSongRefTables) {
      if (m.table != table.name) continue;
      sql::Stmt u(db_, detach_sql(table, true).c_str());
      u.bind(1, m.song.track_id).bind(2, m.song.content_hash).bind(3, m.song.path).bind(4, it->second).run();
      moved += sqlite3_changes(db_);
    }
  }
  tx.commit();
  return moved;
}

UserDataCopy SqliteStore::export_user_data() const {
  UserDataCopy c;
  {
    sql::Stmt s(db_, (std::string("SELECT ") + kUserColumns + " FROM users ORDER BY id").c_str());
    while (s.step()) c.users.push_back(decode_user(s));
  }
  {
    sql::Stmt s(db_, "SELECT id, user_id, key_hash, label, created_at FROM api_keys ORDER BY id");
    while (s.step()) c.api_keys.push_back(decode_key(s));
  }
  {
    sql::Stmt s(db_,
                "SELECT user_id, item_kind, item_id, track_id, content_hash, path, starred_at FROM stars "
                "ORDER BY user_id, starred_at, item_kind, item_id, track_id");
    while (s.step()) c.stars.push_back(decode_feedback(s, false));
  }
  {
    sql::Stmt s(db_,
                "SELECT user_id, item_kind, item_id, track_id, content_hash, path, rated_at, rating FROM ratings "
                "ORDER BY user_id, rated_at, item_kind, item_id, track_id");
    while (s.step()) c.ratings.push_back(decode_feedback(s, true));
  }
  c.plays = plays(0, 0, 0);
  c.playlists = playlist_headers(0);
  attach_entries(c.playlists, [&](const auto& each) { playlist_entries(0, true, each); });
  c.play_queues = read_play_queues(db_, 0);
  c.bookmarks = read_bookmarks(db_, 0);
  return c;
}

void SqliteStore::import_user_data(const UserDataCopy& data) {
  if (!importing_) throw Error(path_ + ": import_user_data outside begin_import");
  for (const UserRecord& u : data.users) write_user(db_, u, true);
  for (const ApiKeyRecord& k : data.api_keys) write_key(db_, k, true);
  for (const FeedbackRecord& f : data.stars) write_feedback(db_, f, false);
  for (const FeedbackRecord& f : data.ratings) write_feedback(db_, f, true);
  for (const PlayRecord& p : data.plays) write_play(db_, p, true);
  for (const PlaylistRecord& p : data.playlists) write_playlist(db_, p, true);
  for (const PlayQueueRecord& q : data.play_queues) write_play_queue(db_, q);
  for (const BookmarkRecord& b : data.bookmarks) write_bookmark(db_, b);
}

}  // namespace clap::store
