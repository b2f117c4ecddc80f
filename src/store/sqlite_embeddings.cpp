// SqliteStore: reading embeddings (tracks, windows, batches, changes) and the embedding sets.
#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>

#include "core/error.h"
#include "store/rows.h"
#include "store/sqlite.h"
#include "store/sqlite_internal.h"

namespace clap::store {

using namespace sqlite_impl;

// --- embedding sets (store.h EmbeddingSet) -------------------------------------------------

namespace {

// The windows every set must hold: the active set's stored non-silent windows of ok tracks.
constexpr const char* kWantedWindows =
    "FROM windows w JOIN tracks t ON t.id = w.track_id WHERE t.status = 'ok' AND w.silent = 0 AND w.embedding IS NOT NULL";

int64_t count(sqlite3* db, const std::string& sql, int64_t set_id = 0) {
  sql::Stmt s(db, sql.c_str());
  if (set_id) s.bind(1, set_id);
  return s.step() ? s.int64(0) : 0;
}

EmbeddingSet inactive_set(sqlite3* db, int64_t set_id, const char* why) {
  sql::Stmt s(db, (std::string("SELECT ") + kSetColumns + " FROM embedding_sets WHERE id = ?").c_str());
  s.bind(1, set_id);
  std::optional<EmbeddingSet> e;
  if (s.step()) e = sql::located(db, [&] { return decode_set(s); });
  return require_inactive_set(e, set_id, why);
}

}  // namespace

std::vector<EmbeddingSet> SqliteStore::embedding_sets() const {
  std::vector<EmbeddingSet> out;
  {
    sql::Stmt s(db_, (std::string("SELECT ") + kSetColumns + " FROM embedding_sets ORDER BY id").c_str());
    while (s.step()) out.push_back(sql::located(db_, [&] { return decode_set(s); }));
  }
  if (out.empty()) return out;
  const std::string wanted = kWantedWindows;
  const std::string held = "EXISTS (SELECT 1 FROM set_windows s WHERE s.set_id = ?1 AND s.track_id = w.track_id AND s.idx = w.idx)";
  fill_set_coverage(out, count(db_, "SELECT COUNT(*) " + wanted), count(db_, "SELECT COUNT(DISTINCT w.track_id) " + wanted),
                    [&](int64_t id) {
                      return std::make_pair(count(db_, "SELECT COUNT(*) " + wanted + " AND " + held, id),
                                            count(db_, "SELECT COUNT(DISTINCT w.track_id) " + wanted + " AND NOT " + held, id));
                    });
  return out;
}

int64_t SqliteStore::add_embedding_set(const ModelIdentity& identity) {
  sql::Transaction tx(db_);
  const int64_t id = write_set_identity(db_, 0, identity, false);
  bump_generation(db_, false);
  tx.commit();
  return id;
}

std::vector<SetTrack> SqliteStore::set_tracks(int64_t set_id) const {
  inactive_set(db_, set_id, "it holds every window already");
  std::vector<SetTrack> out;
  sql::Stmt s(db_, (std::string("SELECT t.id, t.path, t.size, t.mtime_ns, t.ctime_ns, t.content_hash, t.status, "
                                "t.window_total, w.idx, EXISTS (SELECT 1 FROM set_windows s WHERE s.set_id = ? AND "
                                "s.track_id = w.track_id AND s.idx = w.idx) ") +
                    kWantedWindows + " ORDER BY t.id, w.idx")
                       .c_str());
  s.bind(1, set_id);
  while (s.step()) append_set_track_row(s, out);
  return out;
}

std::vector<WindowRecord> SqliteStore::set_windows(int64_t set_id, int64_t track_id) const {
  const EmbeddingSet e = inactive_set(db_, set_id, "its windows are the index's");
  std::vector<WindowRecord> out;
  sql::Stmt s(db_, "SELECT idx, embedding FROM set_windows WHERE set_id = ? AND track_id = ? ORDER BY idx");
  s.bind(1, set_id).bind(2, track_id);
  while (s.step()) out.push_back(decode_set_window(s, track_id, e.identity.dim));
  return out;
}

void SqliteStore::add_set_windows(int64_t set_id, int64_t track_id, const std::vector<WindowRecord>& windows,
                                  const float* track_embedding) {
  sql::Transaction tx(db_);
  const EmbeddingSet e = inactive_set(db_, set_id, "its windows are written by `clapsearch index`");
  {
    sql::Stmt stored(db_, (std::string("SELECT 1 ") + kWantedWindows + " AND w.track_id = ? AND w.idx = ?").c_str());
    sql::Stmt put(db_, "INSERT INTO set_windows(set_id, track_id, idx, embedding) VALUES (?, ?, ?, ?)");
    for (const WindowRecord& w : windows) {
      stored.bind(1, track_id).bind(2, w.idx);
      const bool known = stored.step();
      stored.reset();
      check_set_window(e, track_id, w, known);
      put.bind(1, set_id).bind(2, track_id).bind(3, w.idx).bind_floats(4, w.embedding.data(), w.embedding.size());
      put.run();
    }
  }
  sql::Stmt(db_, "INSERT OR REPLACE INTO set_tracks(set_id, track_id, embedding) VALUES (?, ?, ?)")
      .bind(1, set_id).bind(2, track_id).bind_floats(3, track_embedding, static_cast<size_t>(e.identity.dim)).run();
  bump_generation(db_, false);
  tx.commit();
}

void SqliteStore::activate_set(int64_t set_id) {
  sql::Transaction tx(db_);
  const EmbeddingSet next = inactive_set(db_, set_id, "nothing to switch");
  const int64_t current = active_set(db_);
  const std::optional<ModelIdentity> was = model();
  if (!current || !was) throw Error(path_ + ": the index has no active embedding set to switch from");
  check_set_window_settings(*was, next);
  // The active set's embeddings into its own set ...
  sql::Stmt(db_, "DELETE FROM set_windows WHERE set_id = ?").bind(1, current).run();
  sql::Stmt(db_, "DELETE FROM set_tracks WHERE set_id = ?").bind(1, current).run();
  sql::Stmt(db_, "INSERT INTO set_windows(set_id, track_id, idx, embedding) SELECT ?, track_id, idx, embedding FROM windows "
                 "WHERE silent = 0 AND embedding IS NOT NULL").bind(1, current).run();
  sql::Stmt(db_, "INSERT INTO set_tracks(set_id, track_id, embedding) SELECT ?, id, embedding FROM tracks "
                 "WHERE status = 'ok' AND embedding IS NOT NULL").bind(1, current).run();
  // ... and the new set's in their place: what it lacks is embedded again by the next index run.
  sql::Stmt(db_, "DELETE FROM windows WHERE silent = 0 AND NOT EXISTS (SELECT 1 FROM set_windows s WHERE s.set_id = ? AND "
                 "s.track_id = windows.track_id AND s.idx = windows.idx)").bind(1, set_id).run();
  sql::Stmt(db_, "UPDATE windows SET embedding = (SELECT s.embedding FROM set_windows s WHERE s.set_id = ? AND "
                 "s.track_id = windows.track_id AND s.idx = windows.idx) WHERE silent = 0").bind(1, set_id).run();
  // The speech scores were the old model's (index/speech.h): the next index run computes the new one's.
  sql::Stmt(db_, "UPDATE tracks SET speech = NULL, embedding = (SELECT s.embedding FROM set_tracks s WHERE s.set_id = ? AND "
                 "s.track_id = tracks.id) WHERE embedding IS NOT NULL OR status = 'ok'").bind(1, set_id).run();
  sql::Stmt(db_, "DELETE FROM set_windows WHERE set_id = ?").bind(1, set_id).run();
  sql::Stmt(db_, "DELETE FROM set_tracks WHERE set_id = ?").bind(1, set_id).run();
  sql::exec(db_, "UPDATE embedding_sets SET active = 0");
  sql::Stmt(db_, "UPDATE embedding_sets SET active = 1 WHERE id = ?").bind(1, set_id).run();
  write_identity(db_, next.identity);
  reset_changes(db_, bump_generation(db_));  // every track's embeddings changed: readers read everything again
  tx.commit();
}

void SqliteStore::drop_set(int64_t set_id) {
  sql::Transaction tx(db_);
  inactive_set(db_, set_id, "activate another set before dropping it");
  sql::Stmt(db_, "DELETE FROM set_windows WHERE set_id = ?").bind(1, set_id).run();
  sql::Stmt(db_, "DELETE FROM set_tracks WHERE set_id = ?").bind(1, set_id).run();
  sql::Stmt(db_, "DELETE FROM embedding_sets WHERE id = ?").bind(1, set_id).run();
  bump_generation(db_, false);
  tx.commit();
}

// --- embeddings ------------------------------------------------------------------------------

namespace {
// The track embeddings of the ok tracks that have one and meet `also` (an SQL condition), by id.
Embeddings ok_track_embeddings(sqlite3* db, int dim, const std::string& also) {
  Embeddings e;
  e.dim = dim;
  const std::string query = "SELECT id, embedding FROM tracks WHERE embedding IS NOT NULL AND status = 'ok'" + also + " ORDER BY id";
  sql::Stmt s(db, query.c_str());
  while (s.step())  // the track-level searches read these: a value that is not finite is named (R14C-1)
    if (s.append_floats(1, e.dim, e.data, /*finite=*/true)) e.ids.push_back(s.int64(0));
  return e;
}
}  // namespace

Embeddings SqliteStore::track_embeddings() const {
  const auto m = model();
  return ok_track_embeddings(db_, m ? m->dim : 0, "");
}

Embeddings SqliteStore::tracks_without_speech() const {
  const auto m = model();
  return ok_track_embeddings(db_, m ? m->dim : 0, " AND speech IS NULL");
}

namespace {
// Appends the row of a (id, track_id, start_s, end_s, embedding) statement to `t`.
void append_window_row(sql::Stmt& s, WindowTable& t) {
  // Every search reads its windows here: a value that is not finite is named (R14C-1).
  if (!s.append_floats(4, t.dim, t.embeddings, /*finite=*/true)) return;
  t.window_ids.push_back(s.int64(0));
  t.track_ids.push_back(s.int64(1));
  t.starts.push_back(s.real(2));
  t.ends.push_back(s.real(3));
}
}  // namespace

WindowTable SqliteStore::window_embeddings() const {
  const auto m = model();
  WindowTable t;
  t.dim = m ? m->dim : 0;
  sql::Stmt s(db_,
              "SELECT w.id, w.track_id, w.start_s, w.end_s, w.embedding FROM windows w JOIN tracks t ON t.id = w.track_id "
              "WHERE w.silent = 0 AND w.embedding IS NOT NULL AND t.status = 'ok' ORDER BY w.track_id, w.idx");
  while (s.step()) append_window_row(s, t);
  return t;
}

std::vector<WindowRecord> SqliteStore::windows(int64_t track_id) const {
  const auto m = model();
  const int dim = m ? m->dim : 0;
  std::vector<WindowRecord> out;
  sql::Stmt s(db_,
              "SELECT id, track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding FROM windows "
              "WHERE track_id = ? ORDER BY idx");
  s.bind(1, track_id);
  while (s.step()) {
    WindowRecord w = decode_window(s, 2, dim);
    w.id = s.int64(0);
    w.track_id = s.int64(1);
    out.push_back(std::move(w));
  }
  return out;
}

Embeddings SqliteStore::track_embeddings(const std::vector<int64_t>& ids) const {
  const auto m = model();
  Embeddings e;
  e.dim = m ? m->dim : 0;
  std::vector<int64_t> sorted(ids);
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  sql::Stmt s(db_, "SELECT id, embedding FROM tracks WHERE id = ? AND embedding IS NOT NULL AND status = 'ok'");
  for (int64_t id : sorted) {
    s.bind(1, id);
    if (s.step() && s.append_floats(1, e.dim, e.data)) e.ids.push_back(s.int64(0));
    s.reset();
  }
  return e;
}

std::optional<int64_t> SqliteStore::misshapen_track_embedding() const {
  const auto m = model();
  const int64_t bytes = int64_t(m ? m->dim : 0) * int64_t(sizeof(float));
  // length() of a blob column is answered from the record header, without reading the blob's
  // pages; a value of another type is measured in the bytes sqlite3_column_bytes gives it (its
  // text), which is what Stmt::append_floats compares, so this finds exactly what a read refuses.
  sql::Stmt s(db_,
              "SELECT id FROM tracks WHERE embedding IS NOT NULL AND status = 'ok' AND "
              "CASE WHEN typeof(embedding) = 'blob' THEN length(embedding) ELSE length(CAST(embedding AS BLOB)) END != ? "
              "ORDER BY id LIMIT 1");
  s.bind(1, bytes);
  if (s.step()) return s.int64(0);
  return std::nullopt;
}

void SqliteStore::scan_window_embeddings(int64_t batch, const std::function<bool(const WindowTable&)>& sink) const {
  if (batch <= 0) throw Error(path_ + ": scan batch must be positive");
  std::unique_ptr<ReadScope> scope;
  if (sqlite3_get_autocommit(db_)) scope = read_scope();
  const auto m = model();
  sql::Stmt s(db_,
              "SELECT w.id, w.track_id, w.start_s, w.end_s, w.embedding FROM windows w JOIN tracks t ON t.id = w.track_id "
              "WHERE w.id > ? AND w.silent = 0 AND w.embedding IS NOT NULL AND t.status = 'ok' ORDER BY w.id LIMIT ?");
  int64_t after = std::numeric_limits<int64_t>::min();
  for (;;) {
    s.bind(1, after);
    s.bind(2, batch);
    WindowTable t;
    t.dim = m ? m->dim : 0;
    int64_t rows = 0;
    while (s.step()) {
      after = s.int64(0);
      ++rows;
      append_window_row(s, t);
    }
    s.reset();
    if (rows == 0) return;
    if (t.size() > 0 && !sink(t)) return;
    if (rows < batch) return;
  }
}

// The searchable windows (window_embeddings()'s rows) whose `column` is one of `ids`, by id
// ascending, each id's rows in `order`.
WindowTable SqliteStore::window_rows_by(const char* column, const std::vector<int64_t>& ids, const char* order) const {
  const auto m = model();
  WindowTable t;
  t.dim = m ? m->dim : 0;
  std::vector<int64_t> sorted(ids);
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  sql::Stmt s(db_, (std::string("SELECT w.id, w.track_id, w.start_s, w.end_s, w.embedding FROM windows w JOIN tracks t ON "
                                "t.id = w.track_id WHERE w.") +
                    column + " = ? AND w.silent = 0 AND w.embedding IS NOT NULL AND t.status = 'ok' ORDER BY " + order)
                       .c_str());
  for (int64_t id : sorted) {
    s.bind(1, id);
    while (s.step()) append_window_row(s, t);
    s.reset();
  }
  return t;
}

WindowTable SqliteStore::window_embeddings(const std::vector<int64_t>& window_ids) const {
  return window_rows_by("id", window_ids, "w.id");
}

WindowTable SqliteStore::track_window_embeddings(const std::vector<int64_t>& track_ids) const {
  return window_rows_by("track_id", track_ids, "w.idx");
}

std::vector<int64_t> SqliteStore::active_window_ids() const {
  std::vector<int64_t> ids;
  sql::Stmt s(db_,
              "SELECT w.id FROM windows w JOIN tracks t ON t.id = w.track_id "
              "WHERE w.silent = 0 AND w.embedding IS NOT NULL AND t.status = 'ok' ORDER BY w.id");
  while (s.step()) ids.push_back(s.int64(0));
  return ids;
}

std::optional<LibraryChanges> SqliteStore::changes_since(int64_t since) const {
  // One committed state: the caller's read transaction, else one of its own.
  std::unique_ptr<ReadScope> scope;
  if (sqlite3_get_autocommit(db_)) scope = read_scope();
  auto meta = [&](const char* key) -> std::optional<int64_t> {
    sql::Stmt s(db_, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?");
    s.bind(1, key);
    if (!s.step()) return std::nullopt;
    return s.int64(0);
  };
  LibraryChanges c;
  c.library_generation = meta("library_generation").value_or(0);
  const auto from = meta("changes_from");
  if (!from || since < *from || since > c.library_generation) return std::nullopt;
  if (since == c.library_generation) return c;
  c.roots_changed = meta("roots_changed_at").value_or(0) > since;
  {
    sql::Stmt s(db_, "SELECT id FROM tracks WHERE changed_at > ? ORDER BY id");
    s.bind(1, since);
    while (s.step()) c.changed.push_back(s.int64(0));
  }
  {
    // A removed id that is in the library again (restored, or reused) is among the changed.
    sql::Stmt s(db_,
                "SELECT DISTINCT r.track_id FROM removed_tracks r WHERE r.removed_at > ? "
                "AND NOT EXISTS (SELECT 1 FROM tracks t WHERE t.id = r.track_id) ORDER BY r.track_id");
    s.bind(1, since);
    while (s.step()) c.removed.push_back(s.int64(0));
  }
  return c;
}

}  // namespace clap::store
