#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>

#include "core/error.h"
#include "store/row_checks.h"
#include "store/sqlite.h"

namespace clap::store {

namespace fs = std::filesystem;

namespace {

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Schema migrations: kMigrations[i] brings a database from version i to version i + 1.
const char* const kMigrations[] = {
    // 0 -> 1: initial layout.
    R"sql(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('generation', 0);
CREATE TABLE roots(
  path     TEXT PRIMARY KEY,
  added_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE tracks(
  id           INTEGER PRIMARY KEY,
  path         TEXT NOT NULL UNIQUE,
  size         INTEGER NOT NULL,
  mtime_ns     INTEGER NOT NULL,
  ctime_ns     INTEGER NOT NULL DEFAULT 0,
  content_hash TEXT,
  duration_s   REAL NOT NULL DEFAULT 0,
  title        TEXT,
  artist       TEXT,
  album        TEXT,
  genre        TEXT,
  date         TEXT,
  track_no     INTEGER NOT NULL DEFAULT 0,
  status       TEXT NOT NULL CHECK (status IN ('ok', 'error')),
  error        TEXT,
  silent       INTEGER NOT NULL DEFAULT 0,
  embedding    BLOB,
  indexed_at   INTEGER NOT NULL
);
CREATE INDEX tracks_content_hash ON tracks(content_hash);
CREATE TABLE windows(
  id            INTEGER PRIMARY KEY,
  track_id      INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  idx           INTEGER NOT NULL,
  start_s       REAL NOT NULL,
  end_s         REAL NOT NULL,
  loudness_dbfs REAL NOT NULL,
  silent        INTEGER NOT NULL,
  embedding     BLOB,
  UNIQUE (track_id, idx)
);
CREATE TABLE text_cache(
  model     TEXT NOT NULL,
  text      TEXT NOT NULL,
  embedding BLOB NOT NULL,
  PRIMARY KEY (model, text)
) WITHOUT ROWID;
CREATE TABLE track_labels(
  track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  label    TEXT NOT NULL,
  score    REAL NOT NULL,
  PRIMARY KEY (track_id, label)
) WITHOUT ROWID;
)sql",
    // 1 -> 2: change stamps, for readers that refresh incrementally (Store::changes_since).
    // changed_at = the library generation that last wrote the track (its row, windows or
    // labels); removed_tracks logs removals. Rows written before this migration carry 0, and
    // changes_from records from which generation on the stamps are complete.
    R"sql(
ALTER TABLE tracks ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tracks_changed_at ON tracks(changed_at);
CREATE TABLE removed_tracks(
  removed_at INTEGER NOT NULL,
  track_id   INTEGER NOT NULL,
  PRIMARY KEY (removed_at, track_id)
) WITHOUT ROWID;
INSERT OR REPLACE INTO meta(key, value)
  VALUES ('changes_from', COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'library_generation'), 0));
)sql",
    // 2 -> 3: the identifiers a media server names a song by (issue 36): MusicBrainz recording id,
    // ISRC and album artist from the file's tags. tags_version says which reading of the tags a
    // row holds: rows written before this migration carry 0, and the next index run reads their
    // tags again (store::kTagsVersion) without decoding or embedding the audio.
    R"sql(
ALTER TABLE tracks ADD COLUMN mbid TEXT;
ALTER TABLE tracks ADD COLUMN isrc TEXT;
ALTER TABLE tracks ADD COLUMN album_artist TEXT;
ALTER TABLE tracks ADD COLUMN tags_version INTEGER NOT NULL DEFAULT 0;
)sql",
    // 3 -> 4: acoustic fingerprints (audio/fingerprint.h), which `duplicates` decides by. Tracks
    // indexed before have none; the next index run computes them (a decode, no embedding).
    R"sql(
CREATE TABLE fingerprints(
  track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
  items    BLOB NOT NULL
);
)sql",
    // 4 -> 5: progressive indexing (index/passes.h): a track may hold only some of its windows.
    // window_total = how many it has in all; every track indexed before holds all of its windows.
    R"sql(
ALTER TABLE tracks ADD COLUMN window_total INTEGER NOT NULL DEFAULT 0;
UPDATE tracks SET window_total = (SELECT COUNT(*) FROM windows w WHERE w.track_id = tracks.id);
)sql",
    // 5 -> 6: embedding sets (issue 37; store.h EmbeddingSet). The tracks and windows tables keep
    // the active set's embeddings; embedding_sets lists every set with its identity (the active
    // one's mirrors meta), set_windows / set_tracks hold the inactive sets' embeddings. The
    // index's one model becomes set 1, active.
    R"sql(
CREATE TABLE embedding_sets(
  id              INTEGER PRIMARY KEY,
  active          INTEGER NOT NULL DEFAULT 0,
  model_id        TEXT NOT NULL,
  model_revision  TEXT NOT NULL DEFAULT '',
  config_hash     TEXT NOT NULL DEFAULT '',
  content_hash    TEXT NOT NULL DEFAULT '',
  audio_hash      TEXT NOT NULL DEFAULT '',
  model_config    TEXT NOT NULL DEFAULT '',
  model_tokenizer TEXT NOT NULL DEFAULT '',
  window_s        REAL NOT NULL,
  hop_s           REAL NOT NULL,
  dim             INTEGER NOT NULL,
  silence_db      REAL NOT NULL,
  precision       TEXT NOT NULL DEFAULT 'fp32'
);
CREATE TABLE set_windows(
  set_id    INTEGER NOT NULL REFERENCES embedding_sets(id) ON DELETE CASCADE,
  track_id  INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  idx       INTEGER NOT NULL,
  embedding BLOB NOT NULL,
  PRIMARY KEY (set_id, track_id, idx)
) WITHOUT ROWID;
CREATE INDEX set_windows_track ON set_windows(track_id);
CREATE TABLE set_tracks(
  set_id    INTEGER NOT NULL REFERENCES embedding_sets(id) ON DELETE CASCADE,
  track_id  INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  embedding BLOB NOT NULL,
  PRIMARY KEY (set_id, track_id)
) WITHOUT ROWID;
CREATE INDEX set_tracks_track ON set_tracks(track_id);
INSERT INTO embedding_sets(id, active, model_id, model_revision, config_hash, content_hash, audio_hash, model_config,
                           model_tokenizer, window_s, hop_s, dim, silence_db, precision)
SELECT 1, 1, (SELECT value FROM meta WHERE key = 'model_id'),
       COALESCE((SELECT value FROM meta WHERE key = 'model_revision'), ''),
       COALESCE((SELECT value FROM meta WHERE key = 'config_hash'), ''),
       COALESCE((SELECT value FROM meta WHERE key = 'content_hash'), ''),
       COALESCE((SELECT value FROM meta WHERE key = 'audio_hash'), ''),
       COALESCE((SELECT value FROM meta WHERE key = 'model_config'), ''),
       COALESCE((SELECT value FROM meta WHERE key = 'model_tokenizer'), ''),
       COALESCE((SELECT CAST(value AS REAL) FROM meta WHERE key = 'window_s'), 10),
       COALESCE((SELECT CAST(value AS REAL) FROM meta WHERE key = 'hop_s'), 5),
       COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'dim'), 0),
       COALESCE((SELECT CAST(value AS REAL) FROM meta WHERE key = 'silence_db'), -60),
       COALESCE((SELECT value FROM meta WHERE key = 'precision'), 'fp32')
WHERE EXISTS (SELECT 1 FROM meta WHERE key = 'model_id');
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));

// The SQLite header's application id of a clapsearch index ("CLAP"), so that `file` and
// clapsearch itself can tell an index from another program's database.
constexpr int kApplicationId = 0x434C4150;

// Refuses a database that holds another program's tables: nothing may be added to it (nor its
// journal mode changed). An index from before the application id has its schema_version and
// meta tables.
void check_not_foreign(sqlite3* db, const std::string& path) {
  sql::Stmt id(db, "PRAGMA application_id");
  const int64_t app = id.step() ? id.int64(0) : 0;
  if (app == kApplicationId) return;
  std::vector<std::string> tables;
  sql::Stmt t(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  while (t.step()) tables.push_back(t.text(0));
  if (tables.empty()) return;  // a new, empty file
  const bool ours = app == 0 && std::find(tables.begin(), tables.end(), "schema_version") != tables.end() &&
                    std::find(tables.begin(), tables.end(), "meta") != tables.end();
  if (ours) return;
  std::string list;
  for (size_t i = 0; i < tables.size() && i < 5; ++i) list += (i ? ", " : "") + tables[i];
  if (tables.size() > 5) list += ", ...";
  throw Error(path + ": not a clapsearch index but another program's database (tables: " + list +
              "); clapsearch leaves it untouched - give another --db");
}

// The application id in a SQLite file's header (big-endian at offset 68), read without SQLite:
// a damaged file may not open at all. Nullopt when the file holds no SQLite header.
std::optional<uint32_t> header_application_id(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return std::nullopt;
  unsigned char h[100];
  const size_t n = std::fread(h, 1, sizeof h, f);
  std::fclose(f);
  if (n < sizeof h || std::memcmp(h, "SQLite format 3", 16) != 0) return std::nullopt;
  return uint32_t{h[68]} << 24 | uint32_t{h[69]} << 16 | uint32_t{h[70]} << 8 | uint32_t{h[71]};
}

// Why this user cannot write the index, in their words (for messages).
std::string write_problem(const std::string& path) {
  const fs::path dir = fs::absolute(path).parent_path();
  for (const std::string& p : {path, dir.string()}) {
    if (::access(p.c_str(), W_OK) == 0) continue;
    if (errno == EROFS) return "it is on a read-only file system";
    if (errno == EACCES || errno == EPERM) return "this user may not write " + p;
  }
  return "it cannot be written";
}

// An index that exists but cannot be opened: the reason by SQLite's result code, so that a
// valid index is never called "not an index" (a user might delete it).
[[noreturn]] void fail_open(int code, std::string detail, const std::string& path) {
  if (const std::string prefix = path + ": database error: "; detail.rfind(prefix, 0) == 0) detail.erase(0, prefix.size());
  switch (code) {
    case SQLITE_NOTADB: throw DamagedIndex(path + ": not a clapsearch index (not an SQLite database)");
    case SQLITE_CORRUPT:
      throw DamagedIndex(path + ": the index is damaged (SQLite: " + detail + "); `clapsearch index DIR --db " + path +
                         " --rebuild` makes a new one (with --model, unless it was made with the default model)");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      throw Error(path + ": the index is locked by another process (SQLite: " + detail + "); try again when it is done");
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH: throw Error(path + ": cannot open the index: " + write_problem(path) + " (SQLite: " + detail + ")");
    default: throw Error(path + ": " + detail);
  }
}
[[noreturn]] void fail_open(sqlite3* db, const std::string& path) {
  fail_open(db ? sqlite3_extended_errcode(db) & 0xff : SQLITE_NOMEM, db ? sqlite3_errmsg(db) : "out of memory", path);
}
// Codes that mean "this file cannot be used as it is" rather than a fault of ours.
bool open_problem(int code) {
  switch (code) {
    case SQLITE_NOTADB: case SQLITE_CORRUPT: case SQLITE_BUSY: case SQLITE_LOCKED:
    case SQLITE_READONLY: case SQLITE_CANTOPEN: case SQLITE_PERM: case SQLITE_AUTH: return true;
    default: return false;
  }
}

int read_version(sqlite3* db) {
  sql::Stmt has(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
  if (!has.step()) {
    // An index (our application id) always has the table: not finding it is a damaged schema
    // page (the schema spans more than the first page).
    sql::Stmt id(db, "PRAGMA application_id");
    if (id.step() && id.int64(0) == kApplicationId)
      throw sql::SqliteError("database error: the schema has no schema_version table", SQLITE_CORRUPT);
    return 0;
  }
  sql::Stmt v(db, "SELECT version FROM schema_version");
  // The table is created and filled in one transaction: a table without its row, or with a row
  // that holds no version, is a damaged page.
  if (!v.step() || v.int64(0) <= 0)
    throw sql::SqliteError("database error: the schema_version table holds no version", SQLITE_CORRUPT);
  return static_cast<int>(v.int64(0));
}

void migrate(sqlite3* db, const std::string& path) {
  if (read_version(db) == kSchemaVersion) return;
  sql::Transaction tx(db);
  int version = read_version(db);  // again, under the write lock (another process may have migrated)
  if (version > kSchemaVersion)
    throw Error(path + ": index schema version " + std::to_string(version) +
                " is newer than this clapsearch supports (" + std::to_string(kSchemaVersion) + "); upgrade clapsearch");
  if (version == 0) sql::exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
  for (; version < kSchemaVersion; ++version) sql::exec(db, kMigrations[version]);
  sql::exec(db, "DELETE FROM schema_version");
  sql::Stmt(db, "INSERT INTO schema_version(version) VALUES (?)").bind(1, kSchemaVersion).run();
  tx.commit();
}

// Every write transaction ends with this: readers compare generations. `library` = the write
// touched what a reader's snapshot holds (everything but the text cache). Returns the library
// generation the transaction commits (the stamp of the rows it changed; one writer at a time,
// so generation order is commit order).
int64_t bump_generation(sqlite3* db, bool library = true) {
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

const char* status_text(TrackStatus s) { return s == TrackStatus::Ok ? "ok" : "error"; }
TrackStatus parse_status(const std::string& s) { return s == "ok" ? TrackStatus::Ok : TrackStatus::Error; }

constexpr const char* kTrackColumns =
    "t.id, t.path, t.size, t.mtime_ns, t.ctime_ns, t.content_hash, t.duration_s, t.title, t.artist, t.album, "
    "t.genre, t.date, t.track_no, t.status, t.error, t.silent, t.indexed_at, "
    "(SELECT COUNT(*) FROM windows w WHERE w.track_id = t.id), t.mbid, t.isrc, t.album_artist, t.tags_version, "
    "t.window_total";
constexpr int kTrackColumnCount = 23;  // the columns above: what a query adds after them starts here

// Columns: id, path, size, mtime_ns, ctime_ns, content_hash, status.
FileState read_file_state(const sql::Stmt& s) {
  FileState f;
  f.id = s.int64(0);
  f.path = s.text(1);
  f.size = s.int64(2);
  f.mtime_ns = s.int64(3);
  f.ctime_ns = s.int64(4);
  f.content_hash = s.text(5);
  f.status = parse_status(s.text(6));
  return f;
}

Track read_track(const sql::Stmt& s) {
  Track t;
  t.id = s.int64(0);
  t.path = s.text(1);
  t.size = s.int64(2);
  t.mtime_ns = s.int64(3);
  t.ctime_ns = s.int64(4);
  t.content_hash = s.text(5);
  t.duration_s = s.real(6);
  t.title = s.text(7);
  t.artist = s.text(8);
  t.album = s.text(9);
  t.genre = s.text(10);
  t.date = s.text(11);
  t.track_no = static_cast<int>(s.int64(12));
  t.status = parse_status(s.text(13));
  t.error = s.text(14);
  t.silent = s.int64(15) != 0;
  t.indexed_at = s.int64(16);
  t.window_count = static_cast<int>(s.int64(17));
  t.mbid = s.text(18);
  t.isrc = s.text(19);
  t.album_artist = s.text(20);
  t.tags_version = static_cast<int>(s.int64(21));
  t.window_total = static_cast<int>(s.int64(22));
  return t;
}

void set_meta(sqlite3* db, const char* key, const std::string& value) {
  sql::Stmt(db, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)").bind(1, key).bind(2, value).run();
}
void set_meta(sqlite3* db, const char* key, double value) {
  sql::Stmt(db, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)").bind(1, key).bind(2, value).run();
}

constexpr const char* kSetColumns =
    "id, active, model_id, model_revision, config_hash, content_hash, audio_hash, model_config, model_tokenizer, "
    "window_s, hop_s, dim, silence_db, precision";

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

// Columns: kSetColumns.
EmbeddingSet read_set(const sql::Stmt& s) {
  EmbeddingSet e;
  e.id = s.int64(0);
  e.active = s.int64(1) != 0;
  ModelIdentity& m = e.identity;
  m.id = s.text(2);
  m.revision = s.text(3);
  m.config_hash = s.text(4);
  m.content_hash = s.text(5);
  m.audio_hash = s.text(6);
  m.config_path = s.text(7);
  m.tokenizer_path = s.text(8);
  m.window_s = s.real(9);
  m.hop_s = s.real(10);
  m.dim = static_cast<int>(s.int64(11));
  m.silence_db = s.real(12);
  m.precision = s.text(13);
  return e;
}

void write_identity(sqlite3* db, const ModelIdentity& m) {
  set_meta(db, "model_id", m.id);
  set_meta(db, "model_revision", m.revision);
  set_meta(db, "config_hash", m.config_hash);
  set_meta(db, "content_hash", m.content_hash);
  set_meta(db, "audio_hash", m.audio_hash);
  set_meta(db, "model_config", m.config_path);
  set_meta(db, "model_tokenizer", m.tokenizer_path);
  set_meta(db, "window_s", m.window_s);
  set_meta(db, "hop_s", m.hop_s);
  set_meta(db, "dim", static_cast<double>(m.dim));
  set_meta(db, "silence_db", m.silence_db);
  set_meta(db, "precision", m.precision);
  write_set_identity(db, active_set(db), m, true);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------

SqliteStore::SqliteStore(sqlite3* db, std::string path, bool read_only) : db_(db), path_(std::move(path)), read_only_(read_only) {}

SqliteStore::SqliteStore(SqliteStore&& o) noexcept : db_(o.db_), path_(std::move(o.path_)), read_only_(o.read_only_) { o.db_ = nullptr; }

SqliteStore& SqliteStore::operator=(SqliteStore&& o) noexcept {
  if (this != &o) {
    if (db_) sqlite3_close_v2(db_);
    db_ = o.db_;
    path_ = std::move(o.path_);
    read_only_ = o.read_only_;
    o.db_ = nullptr;
  }
  return *this;
}

SqliteStore::~SqliteStore() {
  if (db_) sqlite3_close_v2(db_);
}

SqliteStore SqliteStore::open(const std::string& path, bool create) {
  if (path.empty()) throw Error("empty database path");
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!create && !fs::exists(path, ec))
    throw Error(path + ": no index here (build one with `clapsearch index DIR --db " + path + "`)");
  // The file (and folders) this call creates are removed again when no index could be made in
  // them (a full disk, an I/O error): nothing is left behind that is not an index (issue 33).
  fs::path made_folder;  // the outermost folder created here
  bool made_file = false;
  const auto undo = [&] {
    std::error_code ignored;
    if (made_file)
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path + suffix, ignored);
    if (!made_folder.empty())
      for (fs::path p = parent; fs::remove(p, ignored) && p != made_folder; p = p.parent_path()) {
      }
  };
  if (create && !parent.empty()) {
    for (fs::path p = parent; !p.empty() && !fs::exists(p, ec) && p != p.parent_path(); p = p.parent_path()) made_folder = p;
    fs::create_directories(parent, ec);
    if (ec) {
      undo();
      throw Error(path + ": cannot create folder " + parent.string() + ": " + ec.message());
    }
  }
  if (fs::is_directory(path, ec)) throw Error(path + ": is a directory, not a database file");
  if (create) {  // O_EXCL: told apart from a file another process made meanwhile
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) made_file = true, ::close(fd);
  }
  try {
    return open_file(path, create);
  } catch (...) {
    undo();
    throw;
  }
}

SqliteStore SqliteStore::open_file(const std::string& path, bool create) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), nullptr);
  SqliteStore store(db, path, false);  // closes db on any throw below
  if (rc != SQLITE_OK) fail_open(db, path);
  // SQLite falls back to read-only when the file is not writable; this store must write.
  if (sqlite3_db_readonly(db, "main") == 1) throw Error(path + ": cannot write the index: " + write_problem(path));
  sqlite3_busy_timeout(db, 30000);
  // An SQLite error while opening is named by its cause (damaged, locked, not writable);
  // clap::Errors of our own (another program's database, schema too new) pass unchanged.
  auto explain = [&](const sql::SqliteError& e) {
    if (open_problem(e.code())) fail_open(e.code(), e.what(), path);
  };
  try {
    check_not_foreign(db, path);  // before anything below writes to the file
    // Only a command that builds an index gives an empty file the schema (store.h: OpenMode).
    if (!create && read_version(db) == 0)
      throw Error(path + ": no index here (an empty database, no schema version; build one with `clapsearch index DIR --db " +
                  path + "`)");
  } catch (const sql::SqliteError& e) {
    explain(e);
    throw;
  }
  try {
    sql::exec(db, "PRAGMA foreign_keys = ON");
    {
      sql::Stmt mode(db, "PRAGMA journal_mode = WAL");
      if (!mode.step() || mode.text(0) != "wal")
        throw Error(path + ": cannot switch the database to WAL mode (journal_mode " + mode.text(0) + ")");
    }
    // WAL + NORMAL: a crashed process never corrupts the database or loses committed
    // transactions (only an OS crash / power cut may lose the last few).
    sql::exec(db, "PRAGMA synchronous = NORMAL");
    migrate(db, path);
    // Only when not yet set: writing it anyway made every open (every search) a write
    // transaction, with a checkpoint and three fsyncs at close, and on a full disk a failure.
    sql::Stmt id(db, "PRAGMA application_id");
    if (!id.step() || id.int64(0) != kApplicationId)
      sql::exec(db, ("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str());
  } catch (const sql::SqliteError& e) {
    explain(e);
    throw;
  }
  return store;
}

SqliteStore SqliteStore::open_readonly(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no index here (build one with `clapsearch index DIR --db " + path + "`)");
  if (::access(path.c_str(), R_OK) != 0)
    throw Error(path + ": this user may not read the index (" + std::strerror(errno) + ")");
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  SqliteStore store(db, path, true);
  if (rc != SQLITE_OK) fail_open(db, path);
  sqlite3_busy_timeout(db, 30000);
  try {
    check_not_foreign(db, path);
  } catch (const sql::SqliteError& e) {
    if (e.code() != SQLITE_READONLY && e.code() != SQLITE_CANTOPEN) {
      if (open_problem(e.code())) fail_open(e.code(), e.what(), path);
      throw;
    }
    // A WAL database needs its shared-memory file (PATH-shm), which a user without write
    // permission on the folder, or a read-only medium, cannot create. When no writer is active
    // (no PATH-wal with content), the file is complete as it is: read it as immutable.
    const auto wal_size = fs::file_size(path + "-wal", ec);
    if (!ec && wal_size > 0)
      throw Error(path + ": the index is being written by another process, or was left with unsaved changes, and " +
                  write_problem(path) + " to join in; open it once as a user who may write there (`clapsearch status`)");
    sqlite3_close_v2(db);
    db = nullptr;
    store.db_ = nullptr;
    std::string uri = "file:";
    for (unsigned char c : fs::absolute(path).string()) {  // percent-encode what a URI path cannot hold
      if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') uri.push_back(static_cast<char>(c));
      else {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", c);
        uri += hex;
      }
    }
    uri += "?immutable=1";
    rc = sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
    store.db_ = db;
    if (rc != SQLITE_OK) fail_open(db, path);
    try {
      check_not_foreign(db, path);
    } catch (const sql::SqliteError& e) {
      if (open_problem(e.code())) fail_open(e.code(), e.what(), path);
      throw;
    }
  }
  int version = 0;
  try {
    version = read_version(db);
  } catch (const sql::SqliteError& e) {
    if (open_problem(e.code())) fail_open(e.code(), e.what(), path);
    throw;
  }
  // check_not_foreign passed, so no tables at all: an empty database (not another program's).
  if (version == 0)
    throw Error(path + ": no index here (an empty database, no schema version; build one with `clapsearch index DIR --db " +
                path + "`)");
  if (version != kSchemaVersion)
    throw Error(path + ": index schema version " + std::to_string(version) + ", this clapsearch uses " +
                std::to_string(kSchemaVersion) +
                (version < kSchemaVersion ? " (run `clapsearch index` once to upgrade it)" : " (upgrade clapsearch)"));
  return store;
}

int SqliteStore::schema_version() const { return read_version(db_); }
int SqliteStore::current_schema_version() { return kSchemaVersion; }

int64_t SqliteStore::generation() const {
  sql::Stmt s(db_, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'");
  return s.step() ? s.int64(0) : 0;
}

int64_t SqliteStore::library_generation() const {
  sql::Stmt s(db_, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'library_generation'");
  return s.step() ? s.int64(0) : 0;
}

namespace {
// A deferred transaction: SQLite fixes the snapshot at the first read and keeps it (WAL) while
// writers commit, until the scope ends.
class SqliteReadScope final : public ReadScope {
 public:
  explicit SqliteReadScope(sqlite3* db) : db_(db) { sql::exec(db_, "BEGIN DEFERRED"); }
  ~SqliteReadScope() override { sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr); }

 private:
  sqlite3* db_;
};
}  // namespace

std::unique_ptr<ReadScope> SqliteStore::read_scope() const { return std::make_unique<SqliteReadScope>(db_); }

namespace {
// An exclusive flock(2) on "<db>.lock": released by the kernel when the process dies.
class FileLock final : public IndexerLock {
 public:
  explicit FileLock(const std::string& db_path) {
    const std::string path = db_path + ".lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path + ": cannot create lock file: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd_);
      if (err == EWOULDBLOCK) throw Error(db_path + ": another `clapsearch index` is updating this library; wait for it to finish");
      throw Error(path + ": cannot lock: " + std::strerror(err));
    }
  }
  ~FileLock() override { ::close(fd_); }

 private:
  int fd_ = -1;
};
}  // namespace

std::unique_ptr<IndexerLock> SqliteStore::lock_indexer() { return std::make_unique<FileLock>(path_); }

void SqliteStore::check_replaceable(const std::string& path) {
  const std::optional<uint32_t> app = header_application_id(path);
  if (app == static_cast<uint32_t>(kApplicationId)) return;
  // An index made before the application id was set (0 in its header): its schema names it.
  bool ours = false;
  if (app == 0u) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('schema_version', 'meta')",
                             -1, &st, nullptr) == SQLITE_OK) {
        int found = 0;
        while (sqlite3_step(st) == SQLITE_ROW) ++found;
        ours = found == 2;
      }
      sqlite3_finalize(st);
    }
    sqlite3_close_v2(db);
  }
  if (!ours)
    throw Error(path + ": --rebuild replaces only a clapsearch index, and nothing shows that this file is one (no clapsearch "
                "application id in its SQLite header, no schema_version and meta tables); it is left untouched: move it "
                "away yourself if it is yours, or give another --db");
}

SqliteStore SqliteStore::replace_damaged(const std::string& path, std::unique_ptr<IndexerLock>& lock) {
  if (!lock) lock = std::make_unique<FileLock>(path);  // no other indexer may be using the file
  check_replaceable(path);
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::error_code ec;
    fs::remove(path + suffix, ec);
    if (ec) throw Error(path + suffix + ": cannot remove the damaged index: " + ec.message());
  }
  return open(path, /*create=*/true);
}

int64_t SqliteStore::file_bytes() const {
  std::error_code ec;
  int64_t total = 0;
  for (const char* suffix : {"", "-wal"}) {
    const auto n = fs::file_size(path_ + suffix, ec);
    if (!ec) total += static_cast<int64_t>(n);
  }
  return total;
}

// --- model identity --------------------------------------------------------------------------

std::optional<ModelIdentity> SqliteStore::model() const {
  sql::Stmt s(db_, "SELECT key, value FROM meta");
  ModelIdentity m;
  bool any = false;
  while (s.step()) {
    const std::string key = s.text(0);
    if (key == "model_id") m.id = s.text(1), any = true;
    else if (key == "model_revision") m.revision = s.text(1);
    else if (key == "config_hash") m.config_hash = s.text(1);
    else if (key == "content_hash") m.content_hash = s.text(1);
    else if (key == "audio_hash") m.audio_hash = s.text(1);
    else if (key == "model_config") m.config_path = s.text(1);
    else if (key == "model_tokenizer") m.tokenizer_path = s.text(1);
    else if (key == "window_s") m.window_s = s.real(1);
    else if (key == "hop_s") m.hop_s = s.real(1);
    else if (key == "dim") m.dim = static_cast<int>(s.int64(1));
    else if (key == "silence_db") m.silence_db = s.real(1);
    else if (key == "precision") m.precision = s.text(1);
  }
  if (!any) return std::nullopt;
  return m;
}

void SqliteStore::set_model(const ModelIdentity& identity) {
  sql::Transaction tx(db_);
  write_identity(db_, identity);
  bump_generation(db_);
  tx.commit();
}

void SqliteStore::wipe(const ModelIdentity& identity) {
  {
    sql::Transaction tx(db_);
    sql::exec(db_, "DELETE FROM track_labels; DELETE FROM windows; DELETE FROM tracks; DELETE FROM text_cache; "
                   "DELETE FROM roots; DELETE FROM meta WHERE key NOT IN ('generation', 'library_generation'); "
                   "DELETE FROM set_windows; DELETE FROM set_tracks; DELETE FROM embedding_sets; "
                   "DROP TABLE IF EXISTS retired_windows; DROP TABLE IF EXISTS retired_tracks");
    write_identity(db_, identity);
    reset_changes(db_, bump_generation(db_));
    tx.commit();
  }
  sql::exec(db_, "VACUUM");  // the file shrinks back (fast: nothing is left to copy)
}

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

EmbeddingSet inactive_set(sqlite3* db, int64_t set_id, const char* what) {
  sql::Stmt s(db, (std::string("SELECT ") + kSetColumns + " FROM embedding_sets WHERE id = ?").c_str());
  s.bind(1, set_id);
  if (!s.step()) throw Error("no embedding set " + std::to_string(set_id) + " in the index (`clapsearch models` lists them)");
  EmbeddingSet e = read_set(s);
  if (e.active)
    throw Error(std::string("embedding set ") + std::to_string(set_id) + " (" + e.identity.id + ") is the active one: " + what);
  return e;
}

}  // namespace

std::vector<EmbeddingSet> SqliteStore::embedding_sets() const {
  std::vector<EmbeddingSet> out;
  {
    sql::Stmt s(db_, (std::string("SELECT ") + kSetColumns + " FROM embedding_sets ORDER BY id").c_str());
    while (s.step()) out.push_back(read_set(s));
  }
  if (out.empty()) return out;
  const std::string wanted = kWantedWindows;
  const int64_t windows = count(db_, "SELECT COUNT(*) " + wanted);
  const int64_t tracks = count(db_, "SELECT COUNT(DISTINCT w.track_id) " + wanted);
  for (EmbeddingSet& e : out) {
    e.windows = windows;
    e.tracks = tracks;
    if (e.active) {
      e.covered_windows = windows;
      e.covered_tracks = tracks;
      continue;
    }
    const std::string held = " AND EXISTS (SELECT 1 FROM set_windows s WHERE s.set_id = ?1 AND s.track_id = w.track_id AND s.idx = w.idx)";
    e.covered_windows = count(db_, "SELECT COUNT(*) " + wanted + held, e.id);
    const std::string lacking = " AND NOT EXISTS (SELECT 1 FROM set_windows s WHERE s.set_id = ?1 AND s.track_id = w.track_id AND s.idx = w.idx)";
    e.covered_tracks = tracks - count(db_, "SELECT COUNT(DISTINCT w.track_id) " + wanted + lacking, e.id);
  }
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
  while (s.step()) {
    if (out.empty() || out.back().state.id != s.int64(0)) {
      SetTrack t;
      t.state = read_file_state(s);
      t.window_total = static_cast<int>(s.int64(7));
      out.push_back(std::move(t));
    }
    const int idx = static_cast<int>(s.int64(8));
    out.back().stored.push_back(idx);
    if (s.int64(9)) out.back().held.push_back(idx);
  }
  return out;
}

std::vector<WindowRecord> SqliteStore::set_windows(int64_t set_id, int64_t track_id) const {
  const EmbeddingSet e = inactive_set(db_, set_id, "its windows are the index's");
  std::vector<WindowRecord> out;
  sql::Stmt s(db_, "SELECT idx, embedding FROM set_windows WHERE set_id = ? AND track_id = ? ORDER BY idx");
  s.bind(1, set_id).bind(2, track_id);
  while (s.step()) {
    WindowRecord w;
    w.track_id = track_id;
    w.idx = static_cast<int>(s.int64(0));
    w.embedding = s.floats(1, e.identity.dim);
    out.push_back(std::move(w));
  }
  return out;
}

void SqliteStore::add_set_windows(int64_t set_id, int64_t track_id, const std::vector<WindowRecord>& windows,
                                  const float* track_embedding) {
  sql::Transaction tx(db_);
  const EmbeddingSet e = inactive_set(db_, set_id, "its windows are written by `clapsearch index`");
  const std::string where = "embedding set " + std::to_string(set_id) + ", track " + std::to_string(track_id);
  {
    sql::Stmt stored(db_, (std::string("SELECT 1 ") + kWantedWindows + " AND w.track_id = ? AND w.idx = ?").c_str());
    sql::Stmt put(db_, "INSERT INTO set_windows(set_id, track_id, idx, embedding) VALUES (?, ?, ?, ?)");
    for (const WindowRecord& w : windows) {
      stored.bind(1, track_id).bind(2, w.idx);
      const bool known = stored.step();
      stored.reset();
      if (!known) throw Error(where + ": window " + std::to_string(w.idx) + " is not a stored non-silent window");
      if (w.embedding.size() != static_cast<size_t>(e.identity.dim))
        throw Error(where + ": window " + std::to_string(w.idx) + " has " + std::to_string(w.embedding.size()) +
                    " floats, not " + std::to_string(e.identity.dim));
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
  if (std::fabs(was->window_s - next.identity.window_s) > 1e-9 || std::fabs(was->hop_s - next.identity.hop_s) > 1e-9 ||
      std::fabs(was->silence_db - next.identity.silence_db) > 1e-9)
    throw Error("embedding set " + std::to_string(set_id) + " has other window settings than the index");
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
  sql::Stmt(db_, "UPDATE tracks SET embedding = (SELECT s.embedding FROM set_tracks s WHERE s.set_id = ? AND "
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

// --- roots -----------------------------------------------------------------------------------

void SqliteStore::add_roots(const std::vector<std::string>& paths) {
  sql::Transaction tx(db_);
  sql::Stmt s(db_, "INSERT OR IGNORE INTO roots(path, added_at) VALUES (?, ?)");
  for (const auto& p : paths) {
    s.bind(1, p).bind(2, now_seconds());
    s.run();
  }
  const int64_t g = bump_generation(db_);
  sql::Stmt(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES ('roots_changed_at', ?)").bind(1, g).run();
  tx.commit();
}

std::vector<std::string> SqliteStore::roots() const {
  std::vector<std::string> out;
  sql::Stmt s(db_, "SELECT path FROM roots ORDER BY path");
  while (s.step()) out.push_back(s.text(0));
  return out;
}

// --- tracks ----------------------------------------------------------------------------------

std::vector<Track> SqliteStore::tracks() const {
  std::vector<Track> out;
  sql::Stmt s(db_, (std::string("SELECT ") + kTrackColumns + " FROM tracks t ORDER BY t.path").c_str());
  while (s.step()) out.push_back(read_track(s));
  return out;
}

std::optional<Track> SqliteStore::track(int64_t id) const {
  sql::Stmt s(db_, (std::string("SELECT ") + kTrackColumns + " FROM tracks t WHERE t.id = ?").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_track(s);
}

std::optional<Track> SqliteStore::track_by_path(const std::string& path) const {
  sql::Stmt s(db_, (std::string("SELECT ") + kTrackColumns + " FROM tracks t WHERE t.path = ?").c_str());
  s.bind(1, path);
  if (!s.step()) return std::nullopt;
  return read_track(s);
}

std::vector<FileState> SqliteStore::file_states() const {
  std::vector<FileState> out;
  sql::Stmt s(db_, "SELECT id, path, size, mtime_ns, ctime_ns, content_hash, status FROM tracks ORDER BY path");
  while (s.step()) out.push_back(read_file_state(s));
  return out;
}

std::vector<TrackError> SqliteStore::errors() const {
  std::vector<TrackError> out;
  sql::Stmt s(db_, "SELECT path, error FROM tracks WHERE status = 'error' ORDER BY path");
  while (s.step()) out.push_back({s.text(0), s.text(1)});
  return out;
}

Counts SqliteStore::counts() const {
  Counts c;
  {
    sql::Stmt s(db_,
                "SELECT COUNT(*), COALESCE(SUM(status = 'ok'), 0), COALESCE(SUM(status = 'error'), 0), "
                "COALESCE(SUM(silent), 0) FROM tracks");
    s.step();
    c.tracks = s.int64(0);
    c.ok = s.int64(1);
    c.errors = s.int64(2);
    c.silent_tracks = s.int64(3);
  }
  {
    // Summed here, in id order, as PostgresStore does: SQL's SUM() of floats is not the same sum
    // everywhere (SQLite 3.43 and later add with error compensation; PostgreSQL adds plainly, in
    // the order the rows lie on disk), and the stores must agree to the last bit.
    sql::Stmt s(db_, "SELECT duration_s FROM tracks WHERE status = 'ok' ORDER BY id");
    while (s.step()) c.audio_seconds += s.real(0);
  }
  sql::Stmt w(db_, "SELECT COUNT(*), COALESCE(SUM(silent), 0) FROM windows");
  w.step();
  c.windows = w.int64(0);
  c.silent_windows = w.int64(1);
  sql::Stmt cov(db_,
                "SELECT COALESCE(SUM(total), 0), COALESCE(SUM(n), 0), COALESCE(SUM(n >= total), 0) FROM "
                "(SELECT t.window_total AS total, (SELECT COUNT(*) FROM windows w WHERE w.track_id = t.id) AS n "
                "FROM tracks t WHERE t.status = 'ok')");
  cov.step();
  c.window_total = cov.int64(0);
  c.ok_windows = cov.int64(1);
  c.complete_tracks = cov.int64(2);
  return c;
}

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
                "window_total) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
                "ctime_ns = excluded.ctime_ns, content_hash = excluded.content_hash, duration_s = excluded.duration_s, "
                "title = excluded.title, artist = excluded.artist, album = excluded.album, genre = excluded.genre, "
                "date = excluded.date, track_no = excluded.track_no, status = excluded.status, error = excluded.error, "
                "silent = excluded.silent, embedding = excluded.embedding, indexed_at = excluded.indexed_at, "
                "mbid = excluded.mbid, isrc = excluded.isrc, album_artist = excluded.album_artist, "
                "tags_version = excluded.tags_version, window_total = excluded.window_total");
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
    s.run();
  }
  if (!id) id = sqlite3_last_insert_rowid(db_);
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
  sql::Stmt(db_, "UPDATE tracks SET embedding = ? WHERE id = ?")
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
      p.state = read_file_state(s);
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
  while (s.step()) out.push_back(read_file_state(s));
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
  sql::Stmt s(db_, "SELECT items FROM fingerprints WHERE track_id = ?");
  for (int64_t id : ids) {
    s.reset();
    s.bind(1, id);
    if (s.step()) out.emplace(id, fingerprint_items(s.blob(0), id));
  }
  return out;
}

std::vector<FileState> SqliteStore::tracks_without_fingerprint() const {
  std::vector<FileState> out;
  sql::Stmt s(db_,
              "SELECT id, path, size, mtime_ns, ctime_ns, content_hash, status FROM tracks t WHERE status = 'ok' AND "
              "silent = 0 AND NOT EXISTS (SELECT 1 FROM fingerprints f WHERE f.track_id = t.id) ORDER BY id");
  while (s.step()) out.push_back(read_file_state(s));
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

// --- retired tracks --------------------------------------------------------------------------

namespace {
// Created on first use, not by a schema migration: an index without them reads as before, and
// a clapsearch that does not know them ignores them.
constexpr const char* kRetiredTables = R"sql(
CREATE TABLE IF NOT EXISTS retired_tracks(
  id           INTEGER PRIMARY KEY,
  track_id     INTEGER NOT NULL,
  path         TEXT NOT NULL,
  size         INTEGER NOT NULL,
  mtime_ns     INTEGER NOT NULL,
  ctime_ns     INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  duration_s   REAL NOT NULL,
  title TEXT, artist TEXT, album TEXT, genre TEXT, date TEXT,
  track_no     INTEGER NOT NULL,
  silent       INTEGER NOT NULL,
  embedding    BLOB,
  indexed_at   INTEGER NOT NULL,
  retired_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS retired_tracks_content_hash ON retired_tracks(content_hash);
CREATE TABLE IF NOT EXISTS retired_windows(
  retired_id    INTEGER NOT NULL REFERENCES retired_tracks(id) ON DELETE CASCADE,
  idx           INTEGER NOT NULL,
  start_s       REAL NOT NULL,
  end_s         REAL NOT NULL,
  loudness_dbfs REAL NOT NULL,
  silent        INTEGER NOT NULL,
  embedding     BLOB,
  PRIMARY KEY (retired_id, idx)
) WITHOUT ROWID;
)sql";

bool has_retired_tables(sqlite3* db) {
  sql::Stmt s(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'retired_tracks'");
  return s.step();
}
}  // namespace

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
  while (s.step()) out.push_back(read_file_state(s));
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
    if (id_free) s.bind(1, old_id);
    else s.bind_null(1);
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
  if (!has_retired_tables(db_)) return 0;
  sql::Transaction tx(db_);
  sql::Stmt(db_, "DELETE FROM retired_windows WHERE retired_id IN (SELECT id FROM retired_tracks WHERE retired_at < ?)")
      .bind(1, before_unix_s)
      .run();
  sql::Stmt(db_, "DELETE FROM retired_tracks WHERE retired_at < ?").bind(1, before_unix_s).run();
  const int64_t n = sqlite3_changes(db_);
  if (n > 0) bump_generation(db_, false);  // nothing a library snapshot holds
  tx.commit();
  return n;
}

// --- embeddings ------------------------------------------------------------------------------

Embeddings SqliteStore::track_embeddings() const {
  const auto m = model();
  Embeddings e;
  e.dim = m ? m->dim : 0;
  sql::Stmt s(db_, "SELECT id, embedding FROM tracks WHERE embedding IS NOT NULL AND status = 'ok' ORDER BY id");
  while (s.step())
    if (s.append_floats(1, e.dim, e.data)) e.ids.push_back(s.int64(0));
  return e;
}

namespace {
// Appends the row of a (id, track_id, start_s, end_s, embedding) statement to `t`.
void append_window_row(sql::Stmt& s, WindowTable& t) {
  if (!s.append_floats(4, t.dim, t.embeddings)) return;
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
    WindowRecord w;
    w.id = s.int64(0);
    w.track_id = s.int64(1);
    w.idx = static_cast<int>(s.int64(2));
    w.start_s = s.real(3);
    w.end_s = s.real(4);
    w.loudness_dbfs = s.real(5);
    w.silent = s.int64(6) != 0;
    w.embedding = s.floats(7, dim);
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

// --- text cache ------------------------------------------------------------------------------

std::optional<std::vector<float>> SqliteStore::cached_text(const std::string& model_key, const std::string& text) const {
  const auto m = model();
  sql::Stmt s(db_, "SELECT embedding FROM text_cache WHERE model = ? AND text = ?");
  s.bind(1, model_key).bind(2, text);
  if (!s.step()) return std::nullopt;
  return s.floats(0, m ? m->dim : 0);
}

void SqliteStore::put_cached_text(const std::string& model_key, const std::string& text, const std::vector<float>& embedding) {
  sql::Transaction tx(db_);
  sql::Stmt(db_, "INSERT OR REPLACE INTO text_cache(model, text, embedding) VALUES (?, ?, ?)")
      .bind(1, model_key)
      .bind(2, text)
      .bind_floats(3, embedding.data(), embedding.size())
      .run();
  bump_generation(db_, /*library=*/false);
  tx.commit();
}

// --- labels ----------------------------------------------------------------------------------

void SqliteStore::put_labels(const std::vector<TrackLabel>& labels) {
  sql::Transaction tx(db_);
  std::set<int64_t> cleared;
  sql::Stmt del(db_, "DELETE FROM track_labels WHERE track_id = ?");
  sql::Stmt ins(db_, "INSERT OR REPLACE INTO track_labels(track_id, label, score) VALUES (?, ?, ?)");
  for (const auto& l : labels) {
    if (cleared.insert(l.track_id).second) {
      del.bind(1, l.track_id);
      del.run();
    }
    ins.bind(1, l.track_id).bind(2, l.label).bind(3, static_cast<double>(l.score));
    ins.run();
  }
  stamp_changed(db_, bump_generation(db_), std::vector<int64_t>(cleared.begin(), cleared.end()));
  tx.commit();
}

std::vector<TrackLabel> SqliteStore::labels(int64_t track_id) const {
  std::vector<TrackLabel> out;
  sql::Stmt s(db_, "SELECT track_id, label, score FROM track_labels WHERE track_id = ? ORDER BY score DESC, label");
  s.bind(1, track_id);
  while (s.step()) out.push_back({s.int64(0), s.text(1), static_cast<float>(s.real(2))});
  return out;
}

std::vector<TrackLabel> SqliteStore::all_labels() const {
  std::vector<TrackLabel> out;
  sql::Stmt s(db_, "SELECT track_id, label, score FROM track_labels ORDER BY track_id, score DESC, label");
  while (s.step()) out.push_back({s.int64(0), s.text(1), static_cast<float>(s.real(2))});
  return out;
}

void SqliteStore::clear_labels() {
  sql::Transaction tx(db_);
  const int64_t g = bump_generation(db_);
  sql::Stmt(db_, "UPDATE tracks SET changed_at = ? WHERE id IN (SELECT DISTINCT track_id FROM track_labels)").bind(1, g).run();
  sql::exec(db_, "DELETE FROM track_labels");
  tx.commit();
}

// --- consistency -----------------------------------------------------------------------------

std::vector<std::string> SqliteStore::check() const {
  std::vector<std::string> problems;
  {
    sql::Stmt s(db_, "PRAGMA integrity_check");
    while (s.step())
      if (s.text(0) != "ok") problems.push_back("integrity_check: " + s.text(0));
  }
  {
    sql::Stmt s(db_, "PRAGMA foreign_key_check");
    while (s.step()) problems.push_back("foreign key violation in " + s.text(0) + " row " + std::to_string(s.int64(1)));
  }
  const auto m = model();
  const int64_t bytes = m ? int64_t(m->dim) * 4 : 0;
  // Windows of each track are numbered 0..window_total-1 (a partly indexed track holds some of them).
  {
    sql::Stmt s(db_,
                "SELECT t.path, COUNT(w.id), COALESCE(MIN(w.idx), 0), COALESCE(MAX(w.idx), -1), t.window_total FROM tracks t "
                "LEFT JOIN windows w ON w.track_id = t.id WHERE t.status = 'ok' GROUP BY t.id");
    while (s.step()) {
      const int64_t n = s.int64(1), lo = s.int64(2), hi = s.int64(3), total = s.int64(4);
      if (n == 0) problems.push_back(s.text(0) + ": ok track without windows");
      else if (lo < 0 || hi >= total) problems.push_back(s.text(0) + ": windows are not numbered 0.." + std::to_string(total - 1));
    }
  }
  {
    sql::Stmt s(db_,
                "SELECT t.path, w.idx FROM windows w JOIN tracks t ON t.id = w.track_id WHERE "
                "(w.silent = 0 AND t.status = 'ok' AND (w.embedding IS NULL OR length(w.embedding) <> ?)) OR "
                "(w.silent = 1 AND w.embedding IS NOT NULL)");
    s.bind(1, bytes);
    while (s.step()) problems.push_back(s.text(0) + ": window " + std::to_string(s.int64(1)) + " has a wrong embedding");
  }
  {
    sql::Stmt s(db_,
                "SELECT path FROM tracks WHERE (status = 'ok' AND silent = 0 AND (embedding IS NULL OR length(embedding) <> ?)) "
                "OR (status = 'error' AND embedding IS NOT NULL)");
    s.bind(1, bytes);
    while (s.step()) problems.push_back(s.text(0) + ": wrong track embedding");
  }
  return problems;
}

}  // namespace clap::store

// --- copying a whole index (clapsearch migrate) --------------------------------------------------

namespace clap::store {

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

// Columns from 1: path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist, album,
// genre, date, track_no (a tracks or retired_tracks row).
Track read_track_row(const sql::Stmt& s, int at) {
  Track t;
  t.path = s.text(at);
  t.size = s.int64(at + 1);
  t.mtime_ns = s.int64(at + 2);
  t.ctime_ns = s.int64(at + 3);
  t.content_hash = s.text(at + 4);
  t.duration_s = s.real(at + 5);
  t.title = s.text(at + 6);
  t.artist = s.text(at + 7);
  t.album = s.text(at + 8);
  t.genre = s.text(at + 9);
  t.date = s.text(at + 10);
  t.track_no = static_cast<int>(s.int64(at + 11));
  return t;
}


}  // namespace

std::vector<int64_t> SqliteStore::track_ids() const {
  std::vector<int64_t> out;
  sql::Stmt s(db_, "SELECT id FROM tracks ORDER BY id");
  while (s.step()) out.push_back(s.int64(0));
  return out;
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
  for (int64_t id : ids) {
    row.reset();
    row.bind(1, id);
    if (!row.step()) continue;
    TrackCopy c;
    c.track = read_track(row);
    c.embedding = row.floats(kTrackColumnCount, dim);
    win.reset();
    win.bind(1, id);
    while (win.step()) {
      WindowRecord w;
      w.id = win.int64(0);
      w.track_id = id;
      w.idx = static_cast<int>(win.int64(1));
      w.start_s = win.real(2);
      w.end_s = win.real(3);
      w.loudness_dbfs = win.real(4);
      w.silent = win.int64(5) != 0;
      w.embedding = win.floats(6, dim);
      c.windows.push_back(std::move(w));
    }
    lab.reset();
    lab.bind(1, id);
    while (lab.step()) c.labels.push_back({id, lab.text(0), static_cast<float>(lab.real(1))});
    print.reset();
    print.bind(1, id);
    if (print.step()) c.track.fingerprint = fingerprint_items(print.blob(0), id);
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
    c.track = read_track_row(row, 1);
    c.track.id = row.int64(13);
    c.track.silent = row.int64(14) != 0;
    c.embedding = row.floats(15, dim);
    c.track.indexed_at = row.int64(16);
    c.retired_at = row.int64(17);
    win.reset();
    win.bind(1, rid);
    while (win.step()) {
      WindowRecord w;
      w.track_id = rid;
      w.idx = static_cast<int>(win.int64(0));
      w.start_s = win.real(1);
      w.end_s = win.real(2);
      w.loudness_dbfs = win.real(3);
      w.silent = win.int64(4) != 0;
      w.embedding = win.floats(5, dim);
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
  write_identity(db_, identity);
  sql::Stmt r(db_, "INSERT OR IGNORE INTO roots(path, added_at) VALUES (?, ?)");
  for (const auto& p : roots) {
    r.bind(1, p).bind(2, now_seconds());
    r.run();
  }
  return scope;
}

void SqliteStore::import_tracks(const std::vector<TrackCopy>& tracks) {
  if (!importing_) throw Error(path_ + ": import_tracks outside begin_import");
  const auto m = model();
  const int dim = m ? m->dim : 0;
  sql::Stmt row(db_,
                "INSERT INTO tracks(id, path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist, album, "
                "genre, date, track_no, status, error, silent, embedding, indexed_at, mbid, isrc, album_artist, "
                "tags_version, window_total) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  sql::Stmt win(db_,
                "INSERT INTO windows(id, track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  sql::Stmt lab(db_, "INSERT INTO track_labels(track_id, label, score) VALUES (?, ?, ?)");
  sql::Stmt print(db_, "INSERT INTO fingerprints(track_id, items) VALUES (?, ?)");
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
