// SqliteStore: copying a whole index (clapsearch migrate): the export and the import.
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
#include <map>
#include <optional>
#include <set>

#include "core/error.h"
#include "store/rows.h"
#include "store/sqlite.h"
#include "store/sqlite_internal.h"

namespace clap::store {

using namespace sqlite_impl;

namespace {

// The write transaction of an import: BEGIN IMMEDIATE (no other writer until it ends).
class SqliteImportScope final : public ImportScope {
 public:
  SqliteImportScope(sqlite3* db, bool& importing) : tx_(db), db_(db), importing_(importing) { importing_ = true; }
  ~SqliteImportScope() override { importing_ = false; }
  void commit() override {
    // SQLite's ids need no counters: a new row takes the largest id + 1, as in the source.
    reset_changes(db_, bump_generation(db_));
    tx_.commit();
    importing_ = false;
  }

 private:
  sql::Transaction tx_;
  sqlite3* db_;
  bool& importing_;
};

int64_t count_rows(sqlite3* db, const char* sql) {
  sql::Stmt s(db, sql);
  return s.step() ? s.int64(0) : 0;
}

// Each embedding set's embedding size, by id.
std::map<int64_t, int> set_dims(sqlite3* db) {
  std::map<int64_t, int> out;
  sql::Stmt s(db, "SELECT id, dim FROM embedding_sets");
  while (s.step()) out[s.int64(0)] = static_cast<int>(s.int64(1));
  return out;
}

}  // namespace

std::vector<int64_t> SqliteStore::track_ids() const {
  std::vector<int64_t> out;
  sql::Stmt s(db_, "SELECT id FROM tracks ORDER BY id");
  while (s.step()) out.push_back(s.int64(0));
  return out;
}

std::pair<int64_t, int64_t> SqliteStore::set_rows_of_no_track() const {
  sql::Stmt s(db_, "SELECT (SELECT COUNT(*) FROM set_windows WHERE track_id NOT IN (SELECT id FROM tracks)), "
                   "(SELECT COUNT(*) FROM set_tracks WHERE track_id NOT IN (SELECT id FROM tracks))");
  s.step();
  return {s.int64(0), s.int64(1)};
}

std::vector<TrackCopy> SqliteStore::export_tracks(const std::vector<int64_t>& ids) const {
  const auto m = model();
  const int dim = m ? m->dim : 0;
  std::vector<TrackCopy> out;
  sql::Stmt row(db_, (std::string("SELECT ") + kTrackColumns + ", t.embedding FROM tracks t WHERE t.id = ?").c_str());
  sql::Stmt win(db_,
                "SELECT id, idx, start_s, end_s, loudness_dbfs, silent, embedding FROM windows WHERE track_id = ? "
                "ORDER BY idx");
  sql::Stmt lab(db_, "SELECT label, score FROM track_labels WHERE track_id = ? ORDER BY score DESC, label");
  sql::Stmt print(db_, "SELECT items FROM fingerprints WHERE track_id = ?");
  sql::Stmt set_win(db_, "SELECT set_id, idx, embedding FROM set_windows WHERE track_id = ? ORDER BY set_id, idx");
  sql::Stmt set_track(db_, "SELECT set_id, embedding FROM set_tracks WHERE track_id = ? ORDER BY set_id");
  const std::map<int64_t, int> dim_of = set_dims(db_);
  for (int64_t id : ids) {
    row.reset();
    row.bind(1, id);
    if (!row.step()) continue;
    TrackCopy c;
    c.track = decode_track(row);
    c.embedding = row.floats(kTrackColumnCount, dim);
    win.reset();
    win.bind(1, id);
    while (win.step()) {
      WindowRecord w = decode_window(win, 1, dim);
      w.id = win.int64(0);
      w.track_id = id;
      c.windows.push_back(std::move(w));
    }
    lab.reset();
    lab.bind(1, id);
    while (lab.step()) c.labels.push_back({id, lab.text(0), static_cast<float>(lab.real(1))});
    print.reset();
    print.bind(1, id);
    if (print.step()) c.track.fingerprint = sql::located(db_, [&] { return fingerprint_items(print.blob(0), id, c.track.path); });
    set_win.reset();
    set_win.bind(1, id);
    while (set_win.step()) append_set_copy_window(set_win, 0, dim_of, c.sets);
    set_track.reset();
    set_track.bind(1, id);
    while (set_track.step()) append_set_copy_track(set_track, 0, dim_of, c.sets);
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<RetiredCopy> SqliteStore::export_retired(const std::vector<int64_t>& retired_ids) const {
  std::vector<RetiredCopy> out;
  if (retired_ids.empty() || !has_retired_tables(db_)) return out;
  const auto m = model();
  const int dim = m ? m->dim : 0;
  sql::Stmt row(db_,
                "SELECT id, path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist, album, genre, date, "
                "track_no, track_id, silent, embedding, indexed_at, retired_at FROM retired_tracks WHERE id = ?");
  sql::Stmt win(db_,
                "SELECT idx, start_s, end_s, loudness_dbfs, silent, embedding FROM retired_windows WHERE retired_id = ? "
                "ORDER BY idx");
  for (int64_t rid : retired_ids) {
    row.reset();
    row.bind(1, rid);
    if (!row.step()) continue;
    RetiredCopy c;
    c.id = row.int64(0);
    c.track = decode_track_file(row, 1);
    c.track.id = row.int64(13);
    c.track.silent = row.int64(14) != 0;
    c.embedding = row.floats(15, dim);
    c.track.indexed_at = row.int64(16);
    c.retired_at = row.int64(17);
    win.reset();
    win.bind(1, rid);
    while (win.step()) {
      WindowRecord w = decode_window(win, 0, dim);
      w.track_id = rid;
      c.windows.push_back(std::move(w));
    }
    c.track.window_count = static_cast<int>(c.windows.size());
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<CachedText> SqliteStore::export_cached_texts(const CachedText* after, size_t limit) const {
  const auto m = model();
  const int dim = m ? m->dim : 0;
  std::vector<CachedText> out;
  sql::Stmt s(db_, after ? "SELECT model, text, embedding FROM text_cache WHERE (model, text) > (?, ?) "
                           "ORDER BY model, text LIMIT ?"
                         : "SELECT model, text, embedding FROM text_cache ORDER BY model, text LIMIT ?");
  if (after) s.bind(1, after->model_key).bind(2, after->text);
  s.bind(after ? 3 : 1, static_cast<int64_t>(limit));
  while (s.step()) out.push_back({s.text(0), s.text(1), s.floats(2, dim)});
  return out;
}

std::unique_ptr<ImportScope> SqliteStore::begin_import(const ModelIdentity& identity, const std::vector<std::string>& roots) {
  if (read_only_) throw Error(path_ + ": opened read-only, cannot import into it");
  if (importing_) throw Error(path_ + ": an import is already under way");
  auto scope = std::make_unique<SqliteImportScope>(db_, importing_);
  // Checked inside the write transaction: nobody can add anything between the check and the copy.
  std::string held;
  auto note = [&](int64_t n, const char* what) {
    if (n > 0) held += (held.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  };
  if (const auto m = model()) held = "a model (" + m->id + ")";
  note(count_rows(db_, "SELECT COUNT(*) FROM tracks"), "tracks");
  if (has_retired_tables(db_)) note(count_rows(db_, "SELECT COUNT(*) FROM retired_tracks"), "retired tracks");
  note(count_rows(db_, "SELECT COUNT(*) FROM roots"), "folders");
  note(count_rows(db_, "SELECT COUNT(*) FROM text_cache"), "cached texts");
  if (!held.empty()) throw Error(path_ + ": not an empty index (it holds " + held + "); a copy goes into an empty one only");
  write_copy_head(identity, roots);
  return scope;
}

std::unique_ptr<ImportScope> SqliteStore::begin_replace(const ModelIdentity& identity, const std::vector<std::string>& roots) {
  if (read_only_) throw Error(path_ + ": opened read-only, cannot import into it");
  if (importing_) throw Error(path_ + ": an import is already under way");
  auto scope = std::make_unique<SqliteImportScope>(db_, importing_);
  // wipe()'s deletes, inside the import's transaction (the retired tables are emptied, not dropped).
  sql::exec(db_, "DELETE FROM track_labels; DELETE FROM fingerprints; DELETE FROM windows; DELETE FROM tracks; "
                 "DELETE FROM text_cache; DELETE FROM roots; DELETE FROM meta WHERE key NOT IN ('generation', 'library_generation'); "
                 "DELETE FROM set_windows; DELETE FROM set_tracks; DELETE FROM embedding_sets");
  if (has_retired_tables(db_)) sql::exec(db_, "DELETE FROM retired_windows; DELETE FROM retired_tracks");
  write_copy_head(identity, roots);
  return scope;
}

void SqliteStore::write_copy_head(const ModelIdentity& identity, const std::vector<std::string>& roots) {
  write_identity(db_, identity);
  sql::Stmt r(db_, "INSERT OR IGNORE INTO roots(path, added_at) VALUES (?, ?)");
  for (const auto& p : roots) {
    r.bind(1, p).bind(2, now_seconds());
    r.run();
  }
}

void SqliteStore::import_sets(const std::vector<EmbeddingSet>& sets) {
  if (!importing_) throw Error(path_ + ": import_sets outside begin_import");
  const auto m = model();
  if (!m) throw Error(path_ + ": import_sets without a model");
  check_imported_sets(sets, *m);
  sql::exec(db_, "DELETE FROM embedding_sets");  // the one begin_import recorded, written again with its id
  for (const EmbeddingSet& e : sets) write_set_identity(db_, e.id, e.identity, e.active);
}

void SqliteStore::import_tracks(const std::vector<TrackCopy>& tracks) {
  if (!importing_) throw Error(path_ + ": import_tracks outside begin_import");
  const auto m = model();
  const int dim = m ? m->dim : 0;
  sql::Stmt row(db_,
                "INSERT INTO tracks(id, path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist, album, "
                "genre, date, track_no, status, error, silent, embedding, indexed_at, mbid, isrc, album_artist, "
                "tags_version, window_total, speech) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  sql::Stmt win(db_,
                "INSERT INTO windows(id, track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  sql::Stmt lab(db_, "INSERT INTO track_labels(track_id, label, score) VALUES (?, ?, ?)");
  sql::Stmt print(db_, "INSERT INTO fingerprints(track_id, items) VALUES (?, ?)");
  sql::Stmt set_win(db_, "INSERT INTO set_windows(set_id, track_id, idx, embedding) VALUES (?, ?, ?, ?)");
  sql::Stmt set_track(db_, "INSERT INTO set_tracks(set_id, track_id, embedding) VALUES (?, ?, ?)");
  const std::map<int64_t, int> dim_of = set_dims(db_);
  for (const TrackCopy& c : tracks) {
    const Track& t = c.track;
    check_embedding_sizes(t.path, c.windows, c.embedding.size(), dim);
    row.bind(1, t.id).bind(2, t.path).bind(3, t.size).bind(4, t.mtime_ns).bind(5, t.ctime_ns);
    if (t.content_hash.empty()) row.bind_null(6);
    else row.bind(6, t.content_hash);
    row.bind(7, t.duration_s).bind(8, t.title).bind(9, t.artist).bind(10, t.album).bind(11, t.genre).bind(12, t.date);
    row.bind(13, t.track_no).bind(14, status_text(t.status));
    if (t.error.empty()) row.bind_null(15);
    else row.bind(15, t.error);
    row.bind(16, t.silent ? 1 : 0).bind_floats(17, floats_or_null(c.embedding), c.embedding.size()).bind(18, t.indexed_at);
    row.bind(19, t.mbid).bind(20, t.isrc).bind(21, t.album_artist).bind(22, t.tags_version);
    row.bind(23, t.window_total ? t.window_total : static_cast<int>(c.windows.size()));
    check_speech(t.speech, t.path);
    if (t.has_speech()) row.bind(24, t.speech);
    else row.bind_null(24);
    row.run();
    for (const WindowRecord& w : c.windows) {
      win.bind(1, w.id).bind(2, t.id).bind(3, w.idx).bind(4, w.start_s).bind(5, w.end_s).bind(6, w.loudness_dbfs);
      win.bind(7, w.silent ? 1 : 0).bind_floats(8, floats_or_null(w.embedding), w.embedding.size());
      win.run();
    }
    for (const TrackLabel& l : c.labels) {
      lab.bind(1, t.id).bind(2, l.label).bind(3, static_cast<double>(l.score));
      lab.run();
    }
    if (!t.fingerprint.empty()) {
      print.bind(1, t.id).bind_blob(2, fingerprint_bytes(t.fingerprint));
      print.run();
    }
    for (const SetCopy& set : c.sets) {
      check_set_copy(t.path, set, dim_of);
      for (const WindowRecord& w : set.windows) {
        set_win.bind(1, set.set_id).bind(2, t.id).bind(3, w.idx).bind_floats(4, w.embedding.data(), w.embedding.size());
        set_win.run();
      }
      if (set.embedding.empty()) continue;
      set_track.bind(1, set.set_id).bind(2, t.id).bind_floats(3, set.embedding.data(), set.embedding.size());
      set_track.run();
    }
  }
}

void SqliteStore::import_retired(const std::vector<RetiredCopy>& retired) {
  if (!importing_) throw Error(path_ + ": import_retired outside begin_import");
  if (retired.empty()) return;  // the tables stay absent, as in an index that never retired anything
  sql::exec(db_, kRetiredTables);
  const auto m = model();
  const int dim = m ? m->dim : 0;
  sql::Stmt row(db_,
                "INSERT INTO retired_tracks(id, track_id, path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, "
                "artist, album, genre, date, track_no, silent, embedding, indexed_at, retired_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  sql::Stmt win(db_,
                "INSERT INTO retired_windows(retired_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)");
  for (const RetiredCopy& c : retired) {
    const Track& t = c.track;
    check_embedding_sizes(t.path, c.windows, c.embedding.size(), dim);
    row.bind(1, c.id).bind(2, t.id).bind(3, t.path).bind(4, t.size).bind(5, t.mtime_ns).bind(6, t.ctime_ns);
    row.bind(7, t.content_hash).bind(8, t.duration_s).bind(9, t.title).bind(10, t.artist).bind(11, t.album);
    row.bind(12, t.genre).bind(13, t.date).bind(14, t.track_no).bind(15, t.silent ? 1 : 0);
    row.bind_floats(16, floats_or_null(c.embedding), c.embedding.size()).bind(17, t.indexed_at).bind(18, c.retired_at);
    row.run();
    for (const WindowRecord& w : c.windows) {
      win.bind(1, c.id).bind(2, w.idx).bind(3, w.start_s).bind(4, w.end_s).bind(5, w.loudness_dbfs);
      win.bind(6, w.silent ? 1 : 0).bind_floats(7, floats_or_null(w.embedding), w.embedding.size());
      win.run();
    }
  }
}

void SqliteStore::import_cached_texts(const std::vector<CachedText>& texts) {
  if (!importing_) throw Error(path_ + ": import_cached_texts outside begin_import");
  sql::Stmt s(db_, "INSERT INTO text_cache(model, text, embedding) VALUES (?, ?, ?)");
  for (const CachedText& c : texts) {
    s.bind(1, c.model_key).bind(2, c.text).bind_floats(3, c.embedding.data(), c.embedding.size());
    s.run();
  }
}

}  // namespace clap::store
