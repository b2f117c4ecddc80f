// PostgresStore: writing tracks (put, add windows, move, tags, fingerprints, remove) and retiring them.
#include "store/postgres_store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "core/error.h"
#include "store/postgres.h"
#include "store/postgres_internal.h"
#include "store/user_data.h"
#include "store/rows.h"

namespace clap::store {

using namespace pg_impl;

namespace pg_impl {

void insert_windows(pg::Connection& c, int64_t id, const std::vector<WindowRecord>& windows);

// One above every id anything may still name: tracks, kept and retired ids, user data
// (user_data.h highest_named_track_id_sql).
int64_t next_free_track_id(pg::Connection& c) { return c.query(highest_named_track_id_sql(true)).int64(0, 0) + 1; }

// The id a new file takes (write_track of a path the index does not hold; Store::wipe says why):
// the id kept for its path, else one kept for its content hash whose path is no longer a file
// (the file moved), else next_free_track_id. Under the id lock.
int64_t new_track_id(pg::Connection& c, const Track& t) {
  const std::string free_id = " AND NOT EXISTS (SELECT 1 FROM tracks WHERE tracks.id = kept_track_ids.id)";
  if (auto r = c.query("SELECT id FROM kept_track_ids WHERE path = $1" + free_id, pg::Params().add(t.path)); r.rows())
    return r.int64(0, 0);
  if (!t.content_hash.empty()) {
    auto r = c.query("SELECT id, path FROM kept_track_ids WHERE content_hash = $1" + free_id + " ORDER BY id",
                     pg::Params().add(t.content_hash));
    std::error_code ec;
    for (int i = 0; i < r.rows(); ++i)
      if (!std::filesystem::exists(r.text(i, 1), ec)) return r.int64(i, 0);
  }
  return next_free_track_id(c);
}

// The rows of put_track, inside the caller's transaction.
int64_t write_track(pg::Connection& c, int dim, const Track& t, const std::vector<WindowRecord>& windows,
                    const float* track_embedding) {
  lock_ids(c);
  int64_t id = 0;
  {
    auto r = c.query("SELECT id FROM tracks WHERE path = $1", pg::Params().add(t.path));
    if (r.rows()) id = r.int64(0, 0);
  }
  if (id) {
    c.query("DELETE FROM windows WHERE track_id = $1::bigint", pg::Params().add(id));
    c.query("DELETE FROM track_labels WHERE track_id = $1::bigint", pg::Params().add(id));
    c.query("DELETE FROM fingerprints WHERE track_id = $1::bigint", pg::Params().add(id));
    // The inactive sets' embeddings were of the file as it was.
    c.query("DELETE FROM set_windows WHERE track_id = $1::bigint", pg::Params().add(id));
    c.query("DELETE FROM set_tracks WHERE track_id = $1::bigint", pg::Params().add(id));
  }
  {
    // Upsert by path: an existing row keeps its id (labels elsewhere may refer to it); a new
    // one gets the next id (see kIdLock).
    pg::Params p;
    p.add(id ? id : new_track_id(c, t));
    p.add(t.path).add(t.size).add(t.mtime_ns).add(t.ctime_ns).add_text_or_null(t.content_hash).add(t.duration_s);
    p.add(t.title).add(t.artist).add(t.album).add(t.genre).add(t.date).add(t.track_no).add(status_text(t.status));
    p.add_text_or_null(t.error).add(boolean(t.silent)).add_floats(track_embedding, static_cast<size_t>(dim));
    p.add(t.indexed_at ? t.indexed_at : now_seconds());
    p.add(t.mbid).add(t.isrc).add(t.album_artist).add(t.tags_version);
    p.add(t.window_total ? t.window_total : static_cast<int>(windows.size()));
    check_speech(t.speech, t.path);
    if (t.has_speech()) p.add(t.speech);
    else p.add_null();
    auto r = c.query(
        "INSERT INTO tracks(id, path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist, album, genre, "
        "date, track_no, status, error, silent, embedding, indexed_at, mbid, isrc, album_artist, tags_version, window_total, "
        "speech) "
        "VALUES ($1::bigint, $2, $3::bigint, $4::bigint, $5::bigint, $6, $7::float8, $8, $9, $10, $11, $12, $13::integer, "
        "$14, $15, $16::boolean, $17::bytea, $18::bigint, $19, $20, $21, $22::integer, $23::integer, $24::float8) "
        "ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
        "ctime_ns = excluded.ctime_ns, content_hash = excluded.content_hash, duration_s = excluded.duration_s, "
        "title = excluded.title, artist = excluded.artist, album = excluded.album, genre = excluded.genre, "
        "date = excluded.date, track_no = excluded.track_no, status = excluded.status, error = excluded.error, "
        "silent = excluded.silent, embedding = excluded.embedding, indexed_at = excluded.indexed_at, "
        "mbid = excluded.mbid, isrc = excluded.isrc, album_artist = excluded.album_artist, "
        "tags_version = excluded.tags_version, window_total = excluded.window_total, speech = excluded.speech RETURNING id",
        p);
    id = r.int64(0, 0);
  }
  insert_windows(c, id, windows);
  if (!t.fingerprint.empty())
    c.query("INSERT INTO fingerprints(track_id, items) VALUES ($1::bigint, $2::bytea)",
            pg::Params().add(id).add_bytes(fingerprint_bytes(t.fingerprint)));
  return id;
}

// A track's windows, inside the caller's transaction (which holds the id lock).
void insert_windows(pg::Connection& c, int64_t id, const std::vector<WindowRecord>& windows) {
  // Windows in multi-row statements (one round trip per 1000 windows, not per window), with
  // the ids that follow the largest one in the table, in order (see kIdLock).
  const int64_t first_window_id = windows.empty() ? 0 : max_id(c, "windows") + 1;
  constexpr size_t kRows = 1000;
  for (size_t at = 0; at < windows.size(); at += kRows) {
    const size_t end = std::min(windows.size(), at + kRows);
    std::string sql = "INSERT INTO windows(id, track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) VALUES ";
    pg::Params p;
    for (size_t k = at; k < end; ++k) {
      const auto& w = windows[k];
      const size_t b = p.size();
      static const char* const kTypes[] = {"bigint", "bigint", "integer", "float8", "float8", "float8", "boolean", "bytea"};
      sql += (k > at ? ", (" : "(");
      for (size_t col = 0; col < 8; ++col) {
        sql += col ? ", $" : "$";
        sql += std::to_string(b + col + 1);
        sql += "::";
        sql += kTypes[col];
      }
      sql += ")";
      p.add(first_window_id + static_cast<int64_t>(k)).add(id).add(w.idx);
      p.add(w.start_s).add(w.end_s).add(w.loudness_dbfs).add(boolean(w.silent));
      p.add_floats(w.embedding.empty() ? nullptr : w.embedding.data(), w.embedding.size());
    }
    c.query(sql, p);
  }
}

}  // namespace pg_impl

int64_t PostgresStore::put_track(const Track& t, const std::vector<WindowRecord>& windows, const float* track_embedding) {
  const std::optional<ModelIdentity> m = model();
  const int dim = m ? m->dim : 0;
  check_embedding_sizes(t.path, windows, 0, dim);
  pg::Transaction tx(*c_);
  const int64_t id = write_track(*c_, dim, t, windows, track_embedding);
  stamp_changed(*c_, bump_generation(*c_), {id});
  tx.commit();
  return id;
}

namespace pg_impl {

void write_windows(pg::Connection& c, int dim, int64_t track_id, const std::vector<WindowRecord>& windows,
                   const float* track_embedding) {
  lock_ids(c);
  auto r = c.query("SELECT path FROM tracks WHERE id = $1::bigint AND status = 'ok' FOR UPDATE", pg::Params().add(track_id));
  if (!r.rows()) throw Error("track " + std::to_string(track_id) + " is not an indexed track of " + c.where());
  check_embedding_sizes(r.text(0, 0), windows, track_embedding ? static_cast<size_t>(dim) : 0, dim);
  insert_windows(c, track_id, windows);
  // The speech score was computed from the track embedding this replaces (see SqliteStore's).
  c.query("UPDATE tracks SET embedding = $1::bytea, speech = NULL WHERE id = $2::bigint",
          pg::Params().add_floats(track_embedding, track_embedding ? static_cast<size_t>(dim) : 0).add(track_id));
}

}  // namespace pg_impl

void PostgresStore::add_windows(int64_t track_id, const std::vector<WindowRecord>& windows, const float* track_embedding) {
  const std::optional<ModelIdentity> m = model();
  pg::Transaction tx(*c_);
  write_windows(*c_, m ? m->dim : 0, track_id, windows, track_embedding);
  stamp_changed(*c_, bump_generation(*c_), {track_id});
  tx.commit();
}

std::vector<PartialTrack> PostgresStore::partial_tracks() const {
  std::vector<PartialTrack> out;
  auto r = c_->query(
      "SELECT t.id, t.path, t.size, t.mtime_ns, t.ctime_ns, t.content_hash, t.status, t.window_total, "
      "COALESCE((SELECT string_agg(w.idx::text || CASE WHEN w.silent THEN 's' ELSE '' END, ',' ORDER BY w.idx) "
      "FROM windows w WHERE w.track_id = t.id), '') FROM tracks t WHERE t.status = 'ok' AND "
      "t.window_total > (SELECT COUNT(*) FROM windows w WHERE w.track_id = t.id) ORDER BY t.id");
  for (int i = 0; i < r.rows(); ++i) {
    PartialTrack p;
    p.state = decode_file_state(r.row(i));
    p.window_total = static_cast<int>(r.int64(i, 7));
    // "0,5s,9": the stored windows' indices, "s" marking a silent one.
    const std::string list = r.text(i, 8);
    for (size_t at = 0; at < list.size();) {
      size_t end = list.find(',', at);
      if (end == std::string::npos) end = list.size();
      const std::string item = list.substr(at, end - at);
      const bool silent = !item.empty() && item.back() == 's';
      p.present.push_back(std::stoi(item));
      if (silent) p.silent.push_back(p.present.back());
      at = end + 1;
    }
    out.push_back(std::move(p));
  }
  return out;
}

void PostgresStore::move_track(int64_t id, const std::string& new_path, int64_t size, int64_t mtime_ns, int64_t ctime_ns) {
  pg::Transaction tx(*c_);
  // A stale row may already hold the new path (e.g. an error recorded for it): the moved track wins.
  std::vector<int64_t> gone;
  {
    auto d = c_->query("DELETE FROM tracks WHERE path = $1 AND id <> $2::bigint RETURNING id", pg::Params().add(new_path).add(id));
    for (int i = 0; i < d.rows(); ++i) gone.push_back(d.int64(i, 0));
  }
  auto r = c_->query("UPDATE tracks SET path = $1, size = $2::bigint, mtime_ns = $3::bigint, ctime_ns = $4::bigint "
                     "WHERE id = $5::bigint",
                     pg::Params().add(new_path).add(size).add(mtime_ns).add(ctime_ns).add(id));
  if (r.affected() != 1) throw Error(new_path + ": moved track " + std::to_string(id) + " is not in the index");
  const int64_t g = bump_generation(*c_);
  stamp_changed(*c_, g, {id});
  log_removed(*c_, g, gone);
  tx.commit();
}

std::vector<FileState> PostgresStore::tracks_with_tags_before(int version) const {
  std::vector<FileState> out;
  auto r = c_->query("SELECT id, path, size, mtime_ns, ctime_ns, content_hash, status FROM tracks "
                     "WHERE status = 'ok' AND tags_version < $1::integer ORDER BY id",
                     pg::Params().add(version));
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_file_state(r.row(i)));
  return out;
}

void PostgresStore::update_tags(int64_t id, const Track& tags) {
  pg::Transaction tx(*c_);
  pg::Params p;
  p.add(tags.title).add(tags.artist).add(tags.album).add(tags.album_artist).add(tags.genre).add(tags.date);
  p.add(tags.track_no).add(tags.mbid).add(tags.isrc).add(tags.tags_version).add(id);
  auto r = c_->query("UPDATE tracks SET title = $1, artist = $2, album = $3, album_artist = $4, genre = $5, date = $6, "
                     "track_no = $7::integer, mbid = $8, isrc = $9, tags_version = $10::integer WHERE id = $11::bigint",
                     p);
  if (r.affected() != 1) throw Error(c_->where() + ": track " + std::to_string(id) + " is not in the index");
  stamp_changed(*c_, bump_generation(*c_), {id});
  tx.commit();
}

std::map<int64_t, std::vector<uint32_t>> PostgresStore::fingerprints(const std::vector<int64_t>& ids) const {
  std::map<int64_t, std::vector<uint32_t>> out;
  if (ids.empty()) return out;
  auto r = c_->query("SELECT f.track_id, f.items, t.path FROM fingerprints f LEFT JOIN tracks t ON t.id = f.track_id "
                     "WHERE f.track_id = ANY($1::bigint[])",
                     pg::Params().add(bigint_array(ids)), true);
  try {
    for (int i = 0; i < r.rows(); ++i) out.emplace(r.int64(i, 0), fingerprint_items(r.text(i, 1), r.int64(i, 0), r.text(i, 2)));
  } catch (const DamagedIndex& e) {  // named with the database and the rebuild, as PostgresStore::model does
    throw DamagedIndex(c_->where() + ": " + e.what() + "; or `clapsearch index DIR --db URL --rebuild` creates the index anew");
  }
  return out;
}

std::vector<FileState> PostgresStore::tracks_without_fingerprint() const {
  std::vector<FileState> out;
  auto r = c_->query("SELECT id, path, size, mtime_ns, ctime_ns, content_hash, status FROM tracks t WHERE status = 'ok' "
                     "AND NOT silent AND NOT EXISTS (SELECT 1 FROM fingerprints f WHERE f.track_id = t.id) ORDER BY id");
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_file_state(r.row(i)));
  return out;
}

void PostgresStore::put_fingerprint(int64_t id, const std::vector<uint32_t>& items) {
  auto r = c_->query("INSERT INTO fingerprints(track_id, items) SELECT id, $2::bytea FROM tracks WHERE id = $1::bigint "
                     "ON CONFLICT (track_id) DO UPDATE SET items = excluded.items",
                     pg::Params().add(id).add_bytes(fingerprint_bytes(items)));
  if (r.affected() != 1) throw Error(c_->where() + ": track " + std::to_string(id) + " is not in the index");
}

Embeddings PostgresStore::tracks_without_speech() const {
  const auto m = model();
  Embeddings e;
  e.dim = m ? m->dim : 0;
  auto r = c_->query("SELECT id, embedding FROM tracks WHERE embedding IS NOT NULL AND status = 'ok' AND speech IS NULL "
                     "ORDER BY id",
                     pg::Params(), true);
  for (int i = 0; i < r.rows(); ++i)  // as SQLite's (ok_track_embeddings): a value that is not finite is named
    if (r.append_floats(i, 1, e.dim, e.data, /*finite=*/true)) e.ids.push_back(r.int64(i, 0));
  return e;
}

void PostgresStore::put_speech(const std::vector<std::pair<int64_t, double>>& scores) {
  if (scores.empty()) return;
  pg::Transaction tx(*c_);
  std::vector<int64_t> ids;
  for (const auto& [id, score] : scores) {
    check_speech(score, "track " + std::to_string(id));
    if (score == kNoSpeech) throw Error(c_->where() + ": put_speech: no score for track " + std::to_string(id));
    auto r = c_->query("UPDATE tracks SET speech = $1::float8 WHERE id = $2::bigint", pg::Params().add(score).add(id));
    if (r.affected() != 1) throw Error(c_->where() + ": track " + std::to_string(id) + " is not in the index");
    ids.push_back(id);
  }
  stamp_changed(*c_, bump_generation(*c_), ids);
  tx.commit();
}

void PostgresStore::remove_tracks(const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  pg::Transaction tx(*c_);
  for (int64_t id : ids) c_->query("DELETE FROM tracks WHERE id = $1::bigint", pg::Params().add(id));
  log_removed(*c_, bump_generation(*c_), ids);
  tx.commit();
}

// --- retired tracks --------------------------------------------------------------------------

void PostgresStore::retire_tracks(const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  pg::Transaction tx(*c_);
  const int64_t now = now_seconds();
  for (int64_t id : ids) {
    auto kept = c_->query(
        "INSERT INTO retired_tracks(track_id, path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, "
        "artist, album, genre, date, track_no, silent, embedding, indexed_at, retired_at) "
        "SELECT id, path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist, album, genre, date, "
        "track_no, silent, embedding, indexed_at, $1::bigint FROM tracks "
        "WHERE id = $2::bigint AND status = 'ok' AND content_hash IS NOT NULL AND size > 0 "
        // A partly indexed track is deleted, not kept (see SqliteStore::retire_tracks).
        "AND window_total <= (SELECT COUNT(*) FROM windows w WHERE w.track_id = tracks.id) RETURNING id",
        pg::Params().add(now).add(id));
    if (kept.rows() == 1)
      c_->query("INSERT INTO retired_windows(retired_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) "
                "SELECT $1::bigint, idx, start_s, end_s, loudness_dbfs, silent, embedding FROM windows "
                "WHERE track_id = $2::bigint",
                pg::Params().add(kept.int64(0, 0)).add(id));
    c_->query("DELETE FROM tracks WHERE id = $1::bigint", pg::Params().add(id));
  }
  log_removed(*c_, bump_generation(*c_), ids);
  tx.commit();
}

std::vector<FileState> PostgresStore::retired_tracks() const {
  std::vector<FileState> out;
  auto r = c_->query("SELECT id, path, size, mtime_ns, ctime_ns, content_hash, 'ok' FROM retired_tracks ORDER BY id");
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_file_state(r.row(i)));
  return out;
}

int64_t PostgresStore::restore_track(int64_t retired_id, const std::string& path, int64_t size, int64_t mtime_ns,
                                     int64_t ctime_ns) {
  pg::Transaction tx(*c_);
  lock_ids(*c_);
  int64_t old_id = 0;
  {
    auto r = c_->query("SELECT track_id FROM retired_tracks WHERE id = $1::bigint", pg::Params().add(retired_id));
    if (!r.rows()) throw Error(path + ": retired track " + std::to_string(retired_id) + " is not in the index");
    old_id = r.int64(0, 0);
  }
  // A stale row may hold the path (an error recorded for it): the restored track wins.
  std::vector<int64_t> gone;
  {
    auto d = c_->query("DELETE FROM tracks WHERE path = $1 RETURNING id", pg::Params().add(path));
    for (int i = 0; i < d.rows(); ++i) gone.push_back(d.int64(i, 0));
  }
  const bool id_free = c_->query("SELECT 1 FROM tracks WHERE id = $1::bigint", pg::Params().add(old_id)).rows() == 0;
  const std::string columns =
      "path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist, album, genre, date, track_no, status, "
      "error, silent, embedding, indexed_at";
  const std::string select =
      "$2, $3::bigint, $4::bigint, $5::bigint, content_hash, duration_s, title, artist, album, genre, date, track_no, "
      "'ok', NULL, silent, embedding, indexed_at FROM retired_tracks WHERE id = $1::bigint RETURNING id";
  pg::Params p;
  p.add(retired_id).add(path).add(size).add(mtime_ns).add(ctime_ns);
  p.add(id_free ? old_id : next_free_track_id(*c_));  // its old id, else a free one (see kIdLock)
  const int64_t id = c_->query("INSERT INTO tracks(id, " + columns + ") SELECT $6::bigint, " + select, p).int64(0, 0);
  c_->query("INSERT INTO windows(id, track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) "
            "SELECT $3::bigint + ROW_NUMBER() OVER (ORDER BY idx), $1::bigint, idx, start_s, end_s, loudness_dbfs, silent, "
            "embedding FROM retired_windows WHERE retired_id = $2::bigint ORDER BY idx",
            pg::Params().add(id).add(retired_id).add(max_id(*c_, "windows")));
  c_->query("UPDATE tracks SET window_total = (SELECT COUNT(*) FROM windows w WHERE w.track_id = tracks.id) "
            "WHERE id = $1::bigint",
            pg::Params().add(id));
  c_->query("DELETE FROM retired_windows WHERE retired_id = $1::bigint", pg::Params().add(retired_id));
  c_->query("DELETE FROM retired_tracks WHERE id = $1::bigint", pg::Params().add(retired_id));
  const int64_t g = bump_generation(*c_);
  stamp_changed(*c_, g, {id});
  log_removed(*c_, g, gone);
  tx.commit();
  return id;
}

int64_t PostgresStore::purge_retired(int64_t before_unix_s) {
  pg::Transaction tx(*c_);
  c_->query("DELETE FROM retired_windows WHERE retired_id IN (SELECT id FROM retired_tracks WHERE retired_at < $1::bigint)",
            pg::Params().add(before_unix_s));
  const int64_t n =
      c_->query("DELETE FROM retired_tracks WHERE retired_at < $1::bigint", pg::Params().add(before_unix_s)).affected();
  if (n > 0) bump_generation(*c_, false);  // nothing a library snapshot holds
  // Packet hashes of files no track holds any more (retagged in place, deleted for good).
  c_->exec("DELETE FROM packet_hashes WHERE content_hash NOT IN (SELECT content_hash FROM tracks WHERE content_hash "
           "IS NOT NULL) AND content_hash NOT IN (SELECT content_hash FROM retired_tracks)");
  tx.commit();
  return n;
}

}  // namespace clap::store
