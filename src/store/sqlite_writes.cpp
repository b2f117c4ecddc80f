// SqliteStore: writing tracks (put, add windows, move, tags, fingerprints, remove) and retiring them.
#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>

#include "core/error.h"
#include "store/rows.h"
#include "store/sqlite.h"
#include "store/sqlite_internal.h"
#include "store/user_data.h"

namespace clap::store {

using namespace sqlite_impl;

namespace {

// One above every id anything may still name: tracks, kept and retired ids, user data
// (user_data.h highest_named_track_id_sql).
int64_t next_free_track_id(sqlite3* db) {
  sql::Stmt s(db, highest_named_track_id_sql(has_retired_tables(db)).c_str());
  return (s.step() && !s.is_null(0) ? s.int64(0) : 0) + 1;
}

// The id a new file takes (put_track of a path the index does not hold; Store::wipe says why):
// the id kept for its path, else one kept for its content hash whose path is no longer a file
// (the file moved); otherwise next_free_track_id.
int64_t new_track_id(sqlite3* db, const Track& t) {
  const char* free_id = "NOT EXISTS (SELECT 1 FROM tracks WHERE tracks.id = kept_track_ids.id)";
  {
    sql::Stmt s(db, (std::string("SELECT id FROM kept_track_ids WHERE path = ? AND ") + free_id).c_str());
    s.bind(1, t.path);
    if (s.step()) return s.int64(0);
  }
  if (!t.content_hash.empty()) {
    sql::Stmt s(db, (std::string("SELECT id, path FROM kept_track_ids WHERE content_hash = ? AND ") + free_id + " ORDER BY id").c_str());
    s.bind(1, t.content_hash);
    std::error_code ec;
    while (s.step())
      if (!std::filesystem::exists(s.text(1), ec)) return s.int64(0);
  }
  return next_free_track_id(db);
}

}  // namespace

int64_t SqliteStore::put_track(const Track& t, const std::vector<WindowRecord>& windows, const float* track_embedding) {
  const std::optional<ModelIdentity> m = model();
  const int dim = m ? m->dim : 0;
  check_embedding_sizes(t.path, windows, 0, dim);
  sql::Transaction tx(db_);
  int64_t id = 0;
  {
    sql::Stmt find(db_, "SELECT id FROM tracks WHERE path = ?");
    find.bind(1, t.path);
    if (find.step()) id = find.int64(0);
  }
  const int64_t given = id ? id : new_track_id(db_, t);
  if (id) {
    sql::Stmt(db_, "DELETE FROM windows WHERE track_id = ?").bind(1, id).run();
    sql::Stmt(db_, "DELETE FROM track_labels WHERE track_id = ?").bind(1, id).run();
    sql::Stmt(db_, "DELETE FROM fingerprints WHERE track_id = ?").bind(1, id).run();
    sql::Stmt(db_, "DELETE FROM set_windows WHERE track_id = ?").bind(1, id).run();
    sql::Stmt(db_, "DELETE FROM set_tracks WHERE track_id = ?").bind(1, id).run();
  }
  {
    // Upsert by path: an existing row keeps its id (labels elsewhere may refer to it).
    sql::Stmt s(db_,
                "INSERT INTO tracks(path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist, album, genre, "
                "date, track_no, status, error, silent, embedding, indexed_at, mbid, isrc, album_artist, tags_version, "
                "window_total, speech, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
                "ctime_ns = excluded.ctime_ns, content_hash = excluded.content_hash, duration_s = excluded.duration_s, "
                "title = excluded.title, artist = excluded.artist, album = excluded.album, genre = excluded.genre, "
                "date = excluded.date, track_no = excluded.track_no, status = excluded.status, error = excluded.error, "
                "silent = excluded.silent, embedding = excluded.embedding, indexed_at = excluded.indexed_at, "
                "mbid = excluded.mbid, isrc = excluded.isrc, album_artist = excluded.album_artist, "
                "tags_version = excluded.tags_version, window_total = excluded.window_total, speech = excluded.speech");
    check_speech(t.speech, t.path);
    s.bind(1, t.path).bind(2, t.size).bind(3, t.mtime_ns).bind(4, t.ctime_ns);
    if (t.content_hash.empty()) s.bind_null(5);
    else s.bind(5, t.content_hash);
    s.bind(6, t.duration_s).bind(7, t.title).bind(8, t.artist).bind(9, t.album).bind(10, t.genre).bind(11, t.date);
    s.bind(12, t.track_no).bind(13, status_text(t.status));
    if (t.error.empty()) s.bind_null(14);
    else s.bind(14, t.error);
    s.bind(15, t.silent ? 1 : 0).bind_floats(16, track_embedding, static_cast<size_t>(dim));
    s.bind(17, t.indexed_at ? t.indexed_at : now_seconds());
    s.bind(18, t.mbid).bind(19, t.isrc).bind(20, t.album_artist).bind(21, t.tags_version);
    s.bind(22, t.window_total ? t.window_total : static_cast<int>(windows.size()));
    if (t.has_speech()) s.bind(23, t.speech);
    else s.bind_null(23);
    if (given) s.bind(24, given);
    else s.bind_null(24);
    s.run();
  }
  if (!id) id = given ? given : sqlite3_last_insert_rowid(db_);
  {
    sql::Stmt s(db_,
                "INSERT INTO windows(track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (const auto& w : windows) {
      s.bind(1, id).bind(2, w.idx).bind(3, w.start_s).bind(4, w.end_s).bind(5, w.loudness_dbfs).bind(6, w.silent ? 1 : 0);
      s.bind_floats(7, w.embedding.empty() ? nullptr : w.embedding.data(), w.embedding.size());
      s.run();
    }
  }
  if (!t.fingerprint.empty())
    sql::Stmt(db_, "INSERT INTO fingerprints(track_id, items) VALUES (?, ?)").bind(1, id).bind_blob(2, fingerprint_bytes(t.fingerprint)).run();
  stamp_changed(db_, bump_generation(db_), {id});
  tx.commit();
  return id;
}

void SqliteStore::add_windows(int64_t track_id, const std::vector<WindowRecord>& windows, const float* track_embedding) {
  const std::optional<ModelIdentity> m = model();
  const int dim = m ? m->dim : 0;
  sql::Transaction tx(db_);
  std::string path;
  {
    sql::Stmt s(db_, "SELECT path FROM tracks WHERE id = ? AND status = 'ok'");
    s.bind(1, track_id);
    if (!s.step()) throw Error("track " + std::to_string(track_id) + " is not an indexed track of " + path_);
    path = s.text(0);
  }
  check_embedding_sizes(path, windows, track_embedding ? static_cast<size_t>(dim) : 0, dim);
  {
    sql::Stmt s(db_,
                "INSERT INTO windows(track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (const auto& w : windows) {
      s.bind(1, track_id).bind(2, w.idx).bind(3, w.start_s).bind(4, w.end_s).bind(5, w.loudness_dbfs).bind(6, w.silent ? 1 : 0);
      s.bind_floats(7, w.embedding.empty() ? nullptr : w.embedding.data(), w.embedding.size());
      s.run();
    }
  }
  // The speech score was computed from the track embedding this replaces: the next one is
  // computed at the end of the run (index/speech.h).
  sql::Stmt(db_, "UPDATE tracks SET embedding = ?, speech = NULL WHERE id = ?")
      .bind_floats(1, track_embedding, track_embedding ? static_cast<size_t>(dim) : 0)
      .bind(2, track_id)
      .run();
  stamp_changed(db_, bump_generation(db_), {track_id});
  tx.commit();
}

std::vector<PartialTrack> SqliteStore::partial_tracks() const {
  std::vector<PartialTrack> out;
  {
    sql::Stmt s(db_,
                "SELECT id, path, size, mtime_ns, ctime_ns, content_hash, status, window_total FROM tracks t "
                "WHERE status = 'ok' AND window_total > (SELECT COUNT(*) FROM windows w WHERE w.track_id = t.id) ORDER BY id");
    while (s.step()) {
      PartialTrack p;
      p.state = decode_file_state(s);
      p.window_total = static_cast<int>(s.int64(7));
      out.push_back(std::move(p));
    }
  }
  sql::Stmt w(db_, "SELECT idx, silent FROM windows WHERE track_id = ? ORDER BY idx");
  for (PartialTrack& p : out) {
    w.bind(1, p.state.id);
    while (w.step()) {
      p.present.push_back(static_cast<int>(w.int64(0)));
      if (w.int64(1) != 0) p.silent.push_back(p.present.back());
    }
    w.reset();
  }
  return out;
}

void SqliteStore::move_track(int64_t id, const std::string& new_path, int64_t size, int64_t mtime_ns, int64_t ctime_ns) {
  sql::Transaction tx(db_);
  // A stale row may already hold the new path (e.g. an error recorded for it): the moved track wins.
  std::vector<int64_t> gone;
  {
    sql::Stmt del(db_, "DELETE FROM tracks WHERE path = ? AND id <> ? RETURNING id");
    del.bind(1, new_path).bind(2, id);
    while (del.step()) gone.push_back(del.int64(0));
  }
  sql::Stmt(db_, "UPDATE tracks SET path = ?, size = ?, mtime_ns = ?, ctime_ns = ? WHERE id = ?")
      .bind(1, new_path)
      .bind(2, size)
      .bind(3, mtime_ns)
      .bind(4, ctime_ns)
      .bind(5, id)
      .run();
  if (sqlite3_changes(db_) != 1) throw Error(new_path + ": moved track " + std::to_string(id) + " is not in the index");
  const int64_t g = bump_generation(db_);
  stamp_changed(db_, g, {id});
  log_removed(db_, g, gone);
  tx.commit();
}

std::vector<FileState> SqliteStore::tracks_with_tags_before(int version) const {
  std::vector<FileState> out;
  sql::Stmt s(db_,
              "SELECT id, path, size, mtime_ns, ctime_ns, content_hash, status FROM tracks "
              "WHERE status = 'ok' AND tags_version < ? ORDER BY id");
  s.bind(1, version);
  while (s.step()) out.push_back(decode_file_state(s));
  return out;
}

void SqliteStore::update_tags(int64_t id, const Track& tags) {
  sql::Transaction tx(db_);
  sql::Stmt(db_,
            "UPDATE tracks SET title = ?, artist = ?, album = ?, album_artist = ?, genre = ?, date = ?, track_no = ?, "
            "mbid = ?, isrc = ?, tags_version = ? WHERE id = ?")
      .bind(1, tags.title)
      .bind(2, tags.artist)
      .bind(3, tags.album)
      .bind(4, tags.album_artist)
      .bind(5, tags.genre)
      .bind(6, tags.date)
      .bind(7, tags.track_no)
      .bind(8, tags.mbid)
      .bind(9, tags.isrc)
      .bind(10, tags.tags_version)
      .bind(11, id)
      .run();
  if (sqlite3_changes(db_) != 1) throw Error(path_ + ": track " + std::to_string(id) + " is not in the index");
  stamp_changed(db_, bump_generation(db_), {id});
  tx.commit();
}

std::map<int64_t, std::vector<uint32_t>> SqliteStore::fingerprints(const std::vector<int64_t>& ids) const {
  std::map<int64_t, std::vector<uint32_t>> out;
  sql::Stmt s(db_, "SELECT f.items, t.path FROM fingerprints f LEFT JOIN tracks t ON t.id = f.track_id WHERE f.track_id = ?");
  for (int64_t id : ids) {
    s.reset();
    s.bind(1, id);
    if (s.step()) out.emplace(id, sql::located(db_, [&] { return fingerprint_items(s.blob(0), id, s.text(1)); }));
  }
  return out;
}

std::vector<FileState> SqliteStore::tracks_without_fingerprint() const {
  std::vector<FileState> out;
  sql::Stmt s(db_,
              "SELECT id, path, size, mtime_ns, ctime_ns, content_hash, status FROM tracks t WHERE status = 'ok' AND "
              "silent = 0 AND NOT EXISTS (SELECT 1 FROM fingerprints f WHERE f.track_id = t.id) ORDER BY id");
  while (s.step()) out.push_back(decode_file_state(s));
  return out;
}

void SqliteStore::put_fingerprint(int64_t id, const std::vector<uint32_t>& items) {
  sql::Transaction tx(db_);
  sql::Stmt exists(db_, "SELECT 1 FROM tracks WHERE id = ?");
  exists.bind(1, id);
  if (!exists.step()) throw Error(path_ + ": track " + std::to_string(id) + " is not in the index");
  sql::Stmt(db_, "INSERT OR REPLACE INTO fingerprints(track_id, items) VALUES (?, ?)")
      .bind(1, id)
      .bind_blob(2, fingerprint_bytes(items))
      .run();
  tx.commit();
}

void SqliteStore::put_speech(const std::vector<std::pair<int64_t, double>>& scores) {
  if (scores.empty()) return;
  sql::Transaction tx(db_);
  sql::Stmt s(db_, "UPDATE tracks SET speech = ? WHERE id = ?");
  std::vector<int64_t> ids;
  for (const auto& [id, score] : scores) {
    check_speech(score, "track " + std::to_string(id));
    if (score == kNoSpeech) throw Error(path_ + ": put_speech: no score for track " + std::to_string(id));
    s.bind(1, score).bind(2, id).run();
    if (sqlite3_changes(db_) != 1) throw Error(path_ + ": track " + std::to_string(id) + " is not in the index");
    s.reset();
    ids.push_back(id);
  }
  stamp_changed(db_, bump_generation(db_), ids);
  tx.commit();
}

void SqliteStore::remove_tracks(const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  sql::Transaction tx(db_);
  sql::Stmt s(db_, "DELETE FROM tracks WHERE id = ?");
  for (int64_t id : ids) {
    s.bind(1, id);
    s.run();
  }
  log_removed(db_, bump_generation(db_), ids);
  tx.commit();
}

void SqliteStore::retire_tracks(const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  sql::Transaction tx(db_);
  sql::exec(db_, kRetiredTables);
  sql::Stmt keep(db_,
                 "INSERT INTO retired_tracks(track_id, path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, "
                 "artist, album, genre, date, track_no, silent, embedding, indexed_at, retired_at) "
                 "SELECT id, path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist, album, genre, date, "
                 "track_no, silent, embedding, indexed_at, ? FROM tracks "
                 "WHERE id = ? AND status = 'ok' AND content_hash IS NOT NULL AND size > 0 "
                 // A partly indexed track is deleted, not kept: the retired tables do not know
                 // how many windows a track has, and a restored track must hold all of them.
                 "AND window_total <= (SELECT COUNT(*) FROM windows w WHERE w.track_id = tracks.id)");
  sql::Stmt windows(db_,
                    "INSERT INTO retired_windows(retired_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) "
                    "SELECT ?, idx, start_s, end_s, loudness_dbfs, silent, embedding FROM windows WHERE track_id = ?");
  sql::Stmt del(db_, "DELETE FROM tracks WHERE id = ?");
  const int64_t now = now_seconds();
  for (int64_t id : ids) {
    keep.bind(1, now).bind(2, id);
    keep.run();
    if (sqlite3_changes(db_) == 1) {
      windows.bind(1, static_cast<int64_t>(sqlite3_last_insert_rowid(db_))).bind(2, id);
      windows.run();
    }
    del.bind(1, id);
    del.run();
  }
  log_removed(db_, bump_generation(db_), ids);
  tx.commit();
}

std::vector<FileState> SqliteStore::retired_tracks() const {
  std::vector<FileState> out;
  if (!has_retired_tables(db_)) return out;
  sql::Stmt s(db_, "SELECT id, path, size, mtime_ns, ctime_ns, content_hash, 'ok' FROM retired_tracks ORDER BY id");
  while (s.step()) out.push_back(decode_file_state(s));
  return out;
}

int64_t SqliteStore::restore_track(int64_t retired_id, const std::string& path, int64_t size, int64_t mtime_ns,
                                   int64_t ctime_ns) {
  sql::Transaction tx(db_);
  int64_t old_id = 0;
  {
    sql::Stmt s(db_, "SELECT track_id FROM retired_tracks WHERE id = ?");
    s.bind(1, retired_id);
    if (!s.step()) throw Error(path + ": retired track " + std::to_string(retired_id) + " is not in the index");
    old_id = s.int64(0);
  }
  // A stale row may hold the path (an error recorded for it): the restored track wins.
  std::vector<int64_t> gone;
  {
    sql::Stmt del(db_, "DELETE FROM tracks WHERE path = ? RETURNING id");
    del.bind(1, path);
    while (del.step()) gone.push_back(del.int64(0));
  }
  bool id_free;
  {
    sql::Stmt s(db_, "SELECT 1 FROM tracks WHERE id = ?");
    s.bind(1, old_id);
    id_free = !s.step();
  }
  {
    sql::Stmt s(db_,
                "INSERT INTO tracks(id, path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist, album, genre, "
                "date, track_no, status, error, silent, embedding, indexed_at) "
                "SELECT ?, ?, ?, ?, ?, content_hash, duration_s, title, artist, album, genre, date, track_no, 'ok', NULL, "
                "silent, embedding, indexed_at FROM retired_tracks WHERE id = ?");
    s.bind(1, id_free ? old_id : next_free_track_id(db_));  // never an id user data may still name
    s.bind(2, path).bind(3, size).bind(4, mtime_ns).bind(5, ctime_ns).bind(6, retired_id);
    s.run();
  }
  const int64_t id = sqlite3_last_insert_rowid(db_);
  sql::Stmt(db_,
            "INSERT INTO windows(track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) "
            "SELECT ?, idx, start_s, end_s, loudness_dbfs, silent, embedding FROM retired_windows WHERE retired_id = ? "
            "ORDER BY idx")
      .bind(1, id)
      .bind(2, retired_id)
      .run();
  sql::Stmt(db_, "UPDATE tracks SET window_total = (SELECT COUNT(*) FROM windows w WHERE w.track_id = tracks.id) WHERE id = ?")
      .bind(1, id)
      .run();
  sql::Stmt(db_, "DELETE FROM retired_windows WHERE retired_id = ?").bind(1, retired_id).run();
  sql::Stmt(db_, "DELETE FROM retired_tracks WHERE id = ?").bind(1, retired_id).run();
  const int64_t g = bump_generation(db_);
  stamp_changed(db_, g, {id});
  log_removed(db_, g, gone);
  tx.commit();
  return id;
}

int64_t SqliteStore::purge_retired(int64_t before_unix_s) {
  sql::Transaction tx(db_);
  // Packet hashes of files no track holds any more (retagged in place, deleted for good).
  sql::exec(db_, has_retired_tables(db_)
                     ? "DELETE FROM packet_hashes WHERE content_hash NOT IN (SELECT content_hash FROM tracks WHERE "
                       "content_hash IS NOT NULL) AND content_hash NOT IN (SELECT content_hash FROM retired_tracks "
                       "WHERE retired_at >= " + std::to_string(before_unix_s) + ")"
                     : "DELETE FROM packet_hashes WHERE content_hash NOT IN (SELECT content_hash FROM tracks WHERE "
                       "content_hash IS NOT NULL)");
  if (!has_retired_tables(db_)) {
    tx.commit();
    return 0;
  }
  sql::Stmt(db_, "DELETE FROM retired_windows WHERE retired_id IN (SELECT id FROM retired_tracks WHERE retired_at < ?)")
      .bind(1, before_unix_s)
      .run();
  sql::Stmt(db_, "DELETE FROM retired_tracks WHERE retired_at < ?").bind(1, before_unix_s).run();
  const int64_t n = sqlite3_changes(db_);
  if (n > 0) bump_generation(db_, false);  // nothing a library snapshot holds
  tx.commit();
  return n;
}

}  // namespace clap::store
