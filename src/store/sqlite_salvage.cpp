// The rebuild of a damaged SQLite index keeps what its users kept (issue 54): every row of the
// user tables, and every track id, that SQLite can still read from the damaged file is carried
// into the new index (store.h: Salvage, replace_damaged_index).
//
// Why key range by key range: a damaged page stops a whole-table read at the first row on it,
// although the rows on every other page are sound. A read that fails is resumed after the
// damage: the smallest key from which SQLite reads again is found by probing (a seek to a key on
// a damaged page fails, one on a sound page reads on), first in growing steps, then by halving.
// Only the rows on the damaged pages are lost.
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "store/sqlite_internal.h"

namespace clap::store::sqlite_impl {

namespace {

// One table carried over: rows read from `source` (its `columns`: "" = every column the new
// index's `target` has and the damaged one's `source` has too) and written into `target`. `key`
// orders the read and resumes it after damage: the rowid, or a WITHOUT ROWID table's first
// primary-key column (a playlist's or a user's entries then resume with the next one's).
struct Carried {
  const char* source;
  const char* target;
  const char* key;
  const char* columns;        // select list in the source; "" = the columns both tables have
  const char* target_columns; // with `columns`: the target's columns they fill
  const char* conflict;       // "OR IGNORE" / "OR REPLACE"
};

// Parents before their children (a child whose parent could not be read is left out, below).
// Track ids last: a track's id in `tracks` wins over an id kept for the same id earlier.
const Carried kCarried[] = {
    {"users", "users", "rowid", "", "", "OR IGNORE"},
    {"api_keys", "api_keys", "rowid", "", "", "OR IGNORE"},
    {"stars", "stars", "rowid", "", "", "OR IGNORE"},
    {"ratings", "ratings", "rowid", "", "", "OR IGNORE"},
    {"plays", "plays", "rowid", "", "", "OR IGNORE"},
    {"playlists", "playlists", "rowid", "", "", "OR IGNORE"},
    {"playlist_entries", "playlist_entries", "playlist_id", "", "", "OR IGNORE"},
    {"play_queues", "play_queues", "rowid", "", "", "OR IGNORE"},
    {"play_queue_entries", "play_queue_entries", "user_id", "", "", "OR IGNORE"},
    {"bookmarks", "bookmarks", "rowid", "", "", "OR IGNORE"},
    {"kept_track_ids", "kept_track_ids", "rowid", "", "", "OR REPLACE"},
    {"retired_tracks", "kept_track_ids", "rowid", "track_id, path, content_hash", "id, path, content_hash", "OR IGNORE"},
    {"tracks", "kept_track_ids", "rowid", "id, path, COALESCE(content_hash, '')", "id, path, content_hash", "OR REPLACE"},
};

std::vector<std::string> columns_of(sqlite3* db, const std::string& table) {
  std::vector<std::string> out;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, ("PRAGMA table_info(\"" + table + "\")").c_str(), -1, &s, nullptr) == SQLITE_OK)
    while (sqlite3_step(s) == SQLITE_ROW) out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 1)));
  sqlite3_finalize(s);
  return out;
}

// A statement that never throws: damage is an answer here, not an error.
class Probe {
 public:
  Probe(sqlite3* db, const std::string& sql) { ok_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr) == SQLITE_OK; }
  ~Probe() { sqlite3_finalize(s_); }
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;
  bool ok() const { return ok_; }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
  bool ok_ = false;
};

// True when reading the table on from the first key above `after` works (a row, or the end).
bool reads_after(sqlite3* src, const std::string& table, const std::string& key, int64_t after) {
  Probe p(src, "SELECT " + key + " FROM \"" + table + "\" WHERE " + key + " > ?1 ORDER BY " + key + " LIMIT 1");
  if (!p.ok()) return false;
  sqlite3_bind_int64(p.get(), 1, after);
  const int rc = sqlite3_step(p.get());
  return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

// The smallest key above `failed` after which the table reads again, or nullopt when nothing
// after it does (the damage reaches the table's end).
std::optional<int64_t> resume_point(sqlite3* src, const std::string& table, const std::string& key, int64_t failed) {
  // In 128 bits: the steps from the smallest key span more than int64_t holds.
  const __int128 last = std::numeric_limits<int64_t>::max() - 1;
  __int128 bad = failed, step = 1, good = 0;
  while (true) {
    const __int128 x = std::min(bad + step, last);
    if (reads_after(src, table, key, static_cast<int64_t>(x))) {
      good = x;
      break;
    }
    bad = x;
    if (x >= last) return std::nullopt;
    step *= 2;
  }
  while (good - bad > 1) {
    const __int128 mid = bad + (good - bad) / 2;
    (reads_after(src, table, key, static_cast<int64_t>(mid)) ? good : bad) = mid;
  }
  return static_cast<int64_t>(good);
}

SalvagedTable carry(sqlite3* src, sqlite3* dst, const Carried& c, const std::set<std::string>& present) {
  SalvagedTable out;
  out.table = c.source;
  if (!present.count(c.source)) {
    out.missing = true;
    return out;
  }
  std::string select_list = c.columns, insert_list = c.target_columns;
  if (select_list.empty()) {
    const std::vector<std::string> have = columns_of(src, c.source);
    const std::set<std::string> has(have.begin(), have.end());
    for (const std::string& col : columns_of(dst, c.target))
      if (has.count(col)) {
        select_list += (select_list.empty() ? "\"" : ", \"") + col + "\"";
        insert_list = select_list;
      }
  }
  if (select_list.empty()) return out;
  int n = 1;
  for (char ch : insert_list) n += ch == ',';
  std::string marks;
  for (int i = 0; i < n; ++i) marks += i ? ", ?" : "?";
  const std::string insert_sql =
      std::string("INSERT ") + c.conflict + " INTO " + c.target + "(" + insert_list + ") VALUES (" + marks + ")";
  Probe insert(dst, insert_sql);
  if (!insert.ok()) sql::fail(dst, insert_sql);
  const std::string read_sql = "SELECT " + select_list + ", " + c.key + " FROM \"" + c.source + "\" WHERE " + c.key +
                               " > ?1 ORDER BY " + c.key;
  int64_t read = 0;
  bool damaged = false;
  std::optional<int64_t> after = std::numeric_limits<int64_t>::min();
  while (after) {
    Probe rows(src, read_sql);
    if (!rows.ok()) {  // the table's schema entry is unusable: nothing of it reads
      damaged = true;
      break;
    }
    sqlite3_bind_int64(rows.get(), 1, *after);
    int rc;
    while ((rc = sqlite3_step(rows.get())) == SQLITE_ROW) {
      ++read;
      for (int i = 0; i < n; ++i) sqlite3_bind_value(insert.get(), i + 1, sqlite3_column_value(rows.get(), i));
      if (sqlite3_step(insert.get()) != SQLITE_DONE) sql::fail(dst, insert_sql);
      if (sqlite3_changes(dst) > 0) ++out.kept;
      else ++out.left_out;  // a value the schema refuses (a damaged cell that still parsed)
      sqlite3_reset(insert.get());
      after = sqlite3_column_int64(rows.get(), n);
    }
    if (rc == SQLITE_DONE) break;
    damaged = true;
    after = resume_point(src, c.source, c.key, *after);
  }
  if (damaged) {
    // The rows there were, when SQLite can still count them (count(*) reads the smallest of the
    // table's indexes, which the damage may have spared); otherwise "some".
    out.unreadable = std::nullopt;
    Probe count(src, std::string("SELECT count(*) FROM \"") + c.source + "\"");
    if (count.ok() && sqlite3_step(count.get()) == SQLITE_ROW) {
      const int64_t total = sqlite3_column_int64(count.get(), 0);
      if (total >= read) out.unreadable = total - read;
    }
  }
  return out;
}

// Rows whose parent (their user, their playlist, their queue) could not be read are left out:
// nobody could reach them, and the new index's foreign keys would refuse them.
void leave_out_orphans(sqlite3* dst, std::vector<SalvagedTable>& tables) {
  for (size_t i = 0; i < tables.size(); ++i) {
    const char* target = kCarried[i].target;
    if (std::string(target) != kCarried[i].source) continue;  // the track ids have no parent
    std::vector<std::pair<std::string, std::pair<std::string, std::string>>> keys;  // column -> (parent, column)
    {
      sql::Stmt fk(dst, (std::string("PRAGMA foreign_key_list(") + target + ")").c_str());
      while (fk.step()) keys.push_back({fk.text(3), {fk.text(2), fk.text(4)}});
    }
    for (const auto& [column, parent] : keys) {
      sql::exec(dst, std::string("DELETE FROM ") + target + " WHERE " + column + " NOT IN (SELECT " + parent.second +
                         " FROM " + parent.first + ")");
      const int64_t gone = sqlite3_changes(dst);
      tables[i].kept -= gone;
      tables[i].left_out += gone;
    }
  }
}

}  // namespace

Salvage salvage_user_data(const std::string& damaged, const std::string& fresh) {
  Salvage out;
  sqlite3* src = nullptr;
  sqlite3* dst = nullptr;
  struct Close {
    sqlite3*& db;
    ~Close() { sqlite3_close_v2(db); }
  } close_src{src}, close_dst{dst};
  if (sqlite3_open_v2(fresh.c_str(), &dst, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) sql::fail(dst, fresh);
  sql::exec(dst, "PRAGMA foreign_keys = OFF");  // orphans are left out after the copy, and counted
  // Read-write (never written to): SQLite then reads the damaged file's -wal too, and a hot
  // -journal is rolled back, as any opening of the index would.
  std::set<std::string> present;
  if (sqlite3_open_v2(damaged.c_str(), &src, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    // Cells that overrun their page are found as damage, not read as rows.
    sqlite3_exec(src, "PRAGMA cell_size_check = ON", nullptr, nullptr, nullptr);
    Probe tables(src, "SELECT name FROM sqlite_master WHERE type = 'table'");
    int rc = SQLITE_ERROR;
    if (tables.ok())
      while ((rc = sqlite3_step(tables.get())) == SQLITE_ROW)
        present.insert(reinterpret_cast<const char*>(sqlite3_column_text(tables.get(), 0)));
    out.schema_unreadable = rc != SQLITE_DONE;
  } else {
    out.schema_unreadable = true;
  }
  if (out.schema_unreadable) present.clear();
  sql::Transaction tx(dst);
  for (const Carried& c : kCarried) out.tables.push_back(carry(src, dst, c, present));
  leave_out_orphans(dst, out.tables);
  tx.commit();
  return out;
}

}  // namespace clap::store::sqlite_impl
