// SqliteStore's bookkeeping rows: generations, change stamps, the removal log, meta, and the
// identities of embedding sets.
#include "store/rows.h"
#include "store/sqlite_internal.h"

#include <chrono>

namespace clap::store::sqlite_impl {

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Every write transaction ends with this: readers compare generations. `library` = the write
// touched what a reader's snapshot holds (everything but the text cache). Returns the library
// generation the transaction commits (the stamp of the rows it changed; one writer at a time,
// so generation order is commit order).
int64_t bump_generation(sqlite3* db, bool library) {
  sql::exec(db, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'");
  if (library)
    sql::exec(db, "INSERT INTO meta(key, value) VALUES ('library_generation', 1) "
                  "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1");
  sql::Stmt s(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'library_generation'");
  return s.step() ? s.int64(0) : 0;
}

// How many library generations the removal log covers: a reader further behind reads everything.
constexpr int64_t kRemovedLogGenerations = 100000;

// Change stamps (Store::changes_since), inside the write transaction, after bump_generation.
void stamp_changed(sqlite3* db, int64_t generation, const std::vector<int64_t>& ids) {
  sql::Stmt s(db, "UPDATE tracks SET changed_at = ? WHERE id = ?");
  for (int64_t id : ids) {
    s.bind(1, generation).bind(2, id);
    s.run();
  }
}
void log_removed(sqlite3* db, int64_t generation, const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  sql::Stmt s(db, "INSERT OR IGNORE INTO removed_tracks(removed_at, track_id) VALUES (?, ?)");
  for (int64_t id : ids) {
    s.bind(1, generation).bind(2, id);
    s.run();
  }
  // The log stays short: entries older than kRemovedLogGenerations go, and a reader that far
  // behind is told to read everything (changes_from moves past them).
  const int64_t cut = generation - kRemovedLogGenerations;
  if (cut <= 0) return;
  sql::Stmt(db, "DELETE FROM removed_tracks WHERE removed_at <= ?").bind(1, cut).run();
  if (sqlite3_changes(db) > 0)
    sql::Stmt(db, "UPDATE meta SET value = MAX(CAST(value AS INTEGER), ?) WHERE key = 'changes_from'").bind(1, cut).run();
}
// After a wipe or an import: nothing before `generation` can be told apart.
void reset_changes(sqlite3* db, int64_t generation) {
  sql::exec(db, "DELETE FROM removed_tracks");
  sql::Stmt(db, "INSERT OR REPLACE INTO meta(key, value) VALUES ('changes_from', ?)").bind(1, generation).run();
}

void set_meta(sqlite3* db, const char* key, const std::string& value) {
  sql::Stmt(db, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)").bind(1, key).bind(2, value).run();
}
void set_meta(sqlite3* db, const char* key, double value) {
  sql::Stmt(db, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)").bind(1, key).bind(2, value).run();
}

// The active set's id (0: none recorded yet).
int64_t active_set(sqlite3* db) {
  sql::Stmt s(db, "SELECT id FROM embedding_sets WHERE active = 1");
  return s.step() ? s.int64(0) : 0;
}

// Writes set `id`'s identity (id 0: a new set, whose id is returned).
int64_t write_set_identity(sqlite3* db, int64_t id, const ModelIdentity& m, bool active) {
  sql::Stmt s(db, (std::string("INSERT INTO embedding_sets(") + kSetColumns +
                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                   "active = excluded.active, model_id = excluded.model_id, model_revision = excluded.model_revision, "
                   "config_hash = excluded.config_hash, content_hash = excluded.content_hash, "
                   "audio_hash = excluded.audio_hash, model_config = excluded.model_config, "
                   "model_tokenizer = excluded.model_tokenizer, window_s = excluded.window_s, hop_s = excluded.hop_s, "
                   "dim = excluded.dim, silence_db = excluded.silence_db, precision = excluded.precision")
                      .c_str());
  if (id) s.bind(1, id);
  else s.bind_null(1);
  s.bind(2, active ? 1 : 0).bind(3, m.id).bind(4, m.revision).bind(5, m.config_hash).bind(6, m.content_hash);
  s.bind(7, m.audio_hash).bind(8, m.config_path).bind(9, m.tokenizer_path).bind(10, m.window_s).bind(11, m.hop_s);
  s.bind(12, m.dim).bind(13, m.silence_db).bind(14, m.precision);
  s.run();
  return id ? id : sqlite3_last_insert_rowid(db);
}

void write_identity(sqlite3* db, const ModelIdentity& m) {
  put_identity_meta(m, [&](const char* key, const auto& value) { set_meta(db, key, value); });
  write_set_identity(db, active_set(db), m, true);
}

}  // namespace clap::store::sqlite_impl
