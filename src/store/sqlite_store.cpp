#include "store/sqlite_store.h"

#include "store/real_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <set>
#include <string_view>

#include "core/error.h"
#include "core/regular_file.h"
#include "store/rows.h"
#include "store/sqlite.h"
#include "store/sqlite_internal.h"

namespace clap::store {

using namespace sqlite_impl;
namespace fs = std::filesystem;

namespace {

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
  const std::string head = read_file_head(path, 100);
  if (head.size() < 100 || head.compare(0, 16, std::string_view("SQLite format 3\0", 16)) != 0) return std::nullopt;
  const auto h = [&](size_t i) { return uint32_t{static_cast<unsigned char>(head[i])}; };
  return h(68) << 24 | h(69) << 16 | h(70) << 8 | h(71);
}

// Why this user cannot write the index, in their words (for messages).
std::string write_problem(const std::string& path) {
  // SQLite opens its own files beside the index with O_NOFOLLOW: a link at one of their names
  // failed the open, and this said "it cannot be written" (hostile pass 15, R15C-1).
  for (const char* own : {"-wal", "-shm", "-journal"}) {
    std::error_code ec;
    if (fs::is_symlink(path + own, ec))
      return "a symbolic link is at " + path + own + ", a file SQLite makes itself and never reaches through a link; "
             "remove the link";
  }
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
// A schema that lacks one of its tables (dropped by hand or another tool) would fail at the
// first statement that uses it, with raw SQL, in every command, --rebuild included: it is a
// damaged index (store.h: DamagedIndex), which `index --rebuild` replaces. So is a column dropped
// or retyped (issue 53): found here, by the one statement that lists the tables' columns, rather
// than by whichever query first reaches it, after work has started.
void check_tables(sqlite3* db, const std::string& path) {
  const SchemaColumns present = read_columns(db);
  const std::string missing = missing_table(present);
  const std::string column = missing.empty() ? column_damage(present) : "";
  if (missing.empty() && column.empty()) {
    if (const std::string unfilled = unfilled_column_damage(db); !unfilled.empty())
      throw DamagedIndex(path + ": the index is damaged: " + unfilled);
    return;
  }
  throw DamagedIndex(path + ": the index is damaged (" + (column.empty() ? "missing table " + missing : column) + ")" +
                     "; `clapsearch index DIR --db " + path +
                     " --rebuild` makes a new one (with --model, unless it was made with the default model)");
}

// Codes that mean "this file cannot be used as it is" rather than a fault of ours.
bool open_problem(int code) {
  switch (code) {
    case SQLITE_NOTADB: case SQLITE_CORRUPT: case SQLITE_BUSY: case SQLITE_LOCKED:
    case SQLITE_READONLY: case SQLITE_CANTOPEN: case SQLITE_PERM: case SQLITE_AUTH: return true;
    default: return false;
  }
}

// An index is a regular file (or a link to one). Opening a FIFO blocks until a writer comes (every
// command hung), a device or a folder gives SQLite's bare "disk I/O error": name what it is.
void check_regular_file(const std::string& path) {
  // Before "no index here" (reading) or SQLite's "unable to open database file" (writing).
  if (is_link_loop(path)) throw Error(path + ": not an index: this is " + kLinkLoop + "; give --db the index file itself");
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st) || fs::is_regular_file(st)) return;  // absent: the callers say so
  const char* what = fs::is_directory(st) ? "a folder"
                     : fs::is_fifo(st)    ? "a FIFO (named pipe)"
                     : fs::is_socket(st)  ? "a socket"
                     : fs::is_block_file(st) || fs::is_character_file(st) ? "a device"
                                                                           : "not a regular file";
  throw Error(path + ": not an index: this is " + std::string(what) + "; an index is a SQLite file (--db FILE)");
}

}  // namespace

// ---------------------------------------------------------------------------------------------

SqliteStore::SqliteStore(sqlite3* db, std::string path, bool read_only) : db_(db), path_(std::move(path)), read_only_(read_only) {}

SqliteStore::SqliteStore(SqliteStore&& o) noexcept : db_(o.db_), path_(std::move(o.path_)), read_only_(o.read_only_) { o.db_ = nullptr; }

SqliteStore& SqliteStore::operator=(SqliteStore&& o) noexcept {
  if (this != &o) {
    close_tracked(db_);
    db_ = o.db_;
    path_ = std::move(o.path_);
    read_only_ = o.read_only_;
    o.db_ = nullptr;
  }
  return *this;
}

SqliteStore::~SqliteStore() { close_tracked(db_); }

void SqliteStore::check_not_dangling(const std::string& path) {
  // SQLite follows the link and makes the index at its target, while the lock and the password
  // key went beside the link (hostile pass 13, R13C-3). A link is followed to an index that is
  // there; a new index is made at the path the user gives for it.
  if (const std::string target = dangling_link_target(path); !target.empty())
    throw Error(path + ": cannot create the index: this is a symbolic link to " + target +
                ", where nothing is yet; give --db that path to make the index there (the link then reaches it)");
}

SqliteStore SqliteStore::open(const std::string& path, bool create) {
  if (path.empty()) throw Error("empty database path");
  check_regular_file(path);
  if (create) check_not_dangling(path);
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
  check_regular_file(path);
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), nullptr);
  SqliteStore store(db, path, false);  // closes db on any throw below
  if (rc != SQLITE_OK) fail_open(db, path);
  track_open(db, path);  // before anything is read (H12S-3)
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
  confirm_one_name(db, path);  // now that this connection holds its locks (H15S-4)
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
    check_tables(db, path);
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
  check_regular_file(path);
  if (!fs::exists(path, ec)) throw Error(path + ": no index here (build one with `clapsearch index DIR --db " + path + "`)");
  if (::access(path.c_str(), R_OK) != 0)
    throw Error(path + ": this user may not read the index (" + std::strerror(errno) + ")");
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  SqliteStore store(db, path, true);
  if (rc != SQLITE_OK) fail_open(db, path);
  track_open(db, path);  // before anything is read (H12S-3)
  sqlite3_busy_timeout(db, 30000);
  bool immutable = false;
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
    close_tracked(db);
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
    immutable = true;
  }
  // Now that this connection holds its locks (H15S-4); an immutable one takes none.
  if (!immutable) confirm_one_name(db, path);
  int64_t version = 0;
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
  if (version < kSchemaVersion) check_version_against_tables(db, path, version);  // else `index` is no way out
  if (version != kSchemaVersion)
    throw Error(path + ": index schema version " + std::to_string(version) + ", this clapsearch uses " +
                std::to_string(kSchemaVersion) +
                (version < kSchemaVersion ? " (run `clapsearch index` once to upgrade it)" : " (upgrade clapsearch)"));
  try {
    check_tables(db, path);
  } catch (const sql::SqliteError& e) {
    if (open_problem(e.code())) fail_open(e.code(), e.what(), path);
    throw;
  }
  return store;
}

int SqliteStore::schema_version() const { return static_cast<int>(std::min<int64_t>(read_version(db_), std::numeric_limits<int>::max())); }
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
// An exclusive flock(2) on "<db>.lock": released by the kernel when the process dies. Beside the
// real file: an index reached through a symbolic link and by its own path is one index, and two
// `index` runs through the two names each took a lock of their own (issue 53, as its password key).
// Never through a symbolic link (O_NOFOLLOW): a link planted at the name by anyone who may write the
// index's folder made `index` create an empty file wherever it pointed, as the user running it (as
// root, /etc/nologin), and two indexes whose locks linked to one file shut each other out (hostile
// pass 15, H15C-1). A link is refused, not replaced: a process holding the lock of the file it names
// would otherwise run beside one holding a new file's. O_NONBLOCK: a FIFO there never blocks the open.
class FileLock final : public IndexerLock {
 public:
  explicit FileLock(const std::string& db_path) {
    const std::string path = real_file(db_path) + ".lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd_ < 0 && errno == ELOOP)
      throw Error(path + ": the indexer's lock file is a symbolic link, which clapsearch never makes (made by hand, or by "
                         "someone who may write this folder?); remove it, and the next run makes the file");
    if (fd_ < 0) throw Error(path + ": cannot create lock file: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw Error(path + ": the indexer's lock file is not a regular file (a FIFO, a socket or a device?); remove it, and "
                         "the next run makes the file");
    }
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
  check_regular_file(path);
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

namespace {
// A name beside the index for its damaged file that no file has yet:
// library.db.damaged-20261127T063000Z (-2, -3 ... when one rebuild follows another that second).
std::string unused_backup_name(const std::string& path) {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
  const std::string base = path + ".damaged-" + stamp;
  std::error_code ec;
  std::string name = base;
  for (int i = 2; fs::exists(name, ec) || fs::exists(name + "-wal", ec) || fs::exists(name + "-journal", ec); ++i)
    name = base + "-" + std::to_string(i);
  return name;
}

void remove_database_files(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::error_code ec;
    fs::remove(path + suffix, ec);
    if (ec) throw Error(path + suffix + ": cannot remove: " + ec.message());
  }
}
}  // namespace

SqliteStore SqliteStore::replace_damaged(const std::string& given, std::unique_ptr<IndexerLock>& lock, Salvage* salvage) {
  // The file itself, not a link to it: renamed over the link, the new index took the link's place
  // and the damaged file stayed where the link pointed, under its own name (store/real_file.h).
  const std::string path = real_file(given);
  if (!lock) lock = std::make_unique<FileLock>(path);  // no other indexer may be using the file
  check_replaceable(path);
  // The new index is made and filled beside the damaged one, then renamed over it: killed on the
  // way, the damaged index is where it was (and this file, a killed run's, goes the next time).
  const std::string fresh = path + ".salvage";
  remove_database_files(fresh);
  open(fresh, /*create=*/true);  // the schema; closed again at once
  Salvage carried = salvage_user_data(path, fresh);
  // The damaged file is kept: what could not be read may yet be recovered from it by hand
  // (sqlite3's .recover). Linked under its new name first, so that the index's name is never
  // without a file; renamed where hard links are not to be had.
  carried.backup = unused_backup_name(path);
  if (::link(path.c_str(), carried.backup.c_str()) != 0) {
    std::error_code ec;
    fs::rename(path, carried.backup, ec);
    if (ec) throw Error(path + ": cannot keep the damaged index as " + carried.backup + ": " + ec.message());
  }
  for (const char* suffix : {"-wal", "-journal"}) {
    std::error_code ec;
    if (fs::exists(path + suffix, ec)) fs::rename(path + suffix, carried.backup + suffix, ec);
    if (ec) throw Error(path + suffix + ": cannot keep it as " + carried.backup + suffix + ": " + ec.message());
  }
  std::error_code ec;
  fs::remove(path + "-shm", ec);
  fs::rename(fresh, path, ec);
  if (ec) throw Error(fresh + ": cannot put the new index in place of the damaged one: " + ec.message());
  remove_database_files(fresh);
  if (salvage) *salvage = std::move(carried);
  return open(path, /*create=*/false);
}

int64_t SqliteStore::rows_written() const { return sqlite3_total_changes64(db_); }

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
  while (s.step()) any |= sql::located(db_, [&] { return decode_identity_meta(s, m); });
  if (!any) return std::nullopt;
  sql::located(db_, [&] { check_identity_complete(m); });
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
    // Each track's id is kept with its path and content hash: a file indexed again takes it back
    // (put_track; an index emptied here is indexed again at once, and a track id is a song's id
    // in the Subsonic API, which apps cache).
    sql::exec(db_, "INSERT OR REPLACE INTO kept_track_ids(id, path, content_hash) "
                   "SELECT id, path, COALESCE(content_hash, '') FROM tracks");
    // And each retired track's (a file deleted, restorable): no new file may take it, and the
    // file, should it come back, takes it back.
    if (has_retired_tables(db_))
      sql::exec(db_, "INSERT OR IGNORE INTO kept_track_ids(id, path, content_hash) "
                     "SELECT track_id, path, content_hash FROM retired_tracks");
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
  while (s.step()) out.push_back(decode_track(s));
  return out;
}

std::optional<Track> SqliteStore::track(int64_t id) const {
  sql::Stmt s(db_, (std::string("SELECT ") + kTrackColumns + " FROM tracks t WHERE t.id = ?").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return decode_track(s);
}

std::optional<Track> SqliteStore::track_by_path(const std::string& path) const {
  sql::Stmt s(db_, (std::string("SELECT ") + kTrackColumns + " FROM tracks t WHERE t.path = ?").c_str());
  s.bind(1, path);
  if (!s.step()) return std::nullopt;
  return decode_track(s);
}

std::vector<FileState> SqliteStore::file_states() const {
  std::vector<FileState> out;
  sql::Stmt s(db_, "SELECT id, path, size, mtime_ns, ctime_ns, content_hash, status FROM tracks ORDER BY path");
  while (s.step()) out.push_back(decode_file_state(s));
  return out;
}

std::vector<FileState> SqliteStore::kept_track_ids() const {
  std::vector<FileState> out;
  sql::Stmt s(db_, "SELECT id, path, content_hash FROM kept_track_ids WHERE id NOT IN (SELECT id FROM tracks) ORDER BY id");
  while (s.step()) {
    FileState f;
    f.id = s.int64(0);
    f.path = s.text(1);
    f.content_hash = s.text(2);
    out.push_back(std::move(f));
  }
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
                "COALESCE(SUM(silent != 0), 0) FROM tracks");
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
    while (s.step()) c.audio_seconds += s.number(0);  // text by hand: NaN, not 0 s "(ok)" (R15C-2)
  }
  // silent is a flag: counted as one (a hand-set 2^63-1 overflowed the sum, R14C-4's sibling).
  sql::Stmt w(db_, "SELECT COUNT(*), COALESCE(SUM(silent != 0), 0) FROM windows");
  w.step();
  c.windows = w.int64(0);
  c.silent_windows = w.int64(1);
  {
    // A window_total no track has, named before the sum below overflows on it (rows.h).
    sql::Stmt bad(db_, "SELECT id, path, CAST(window_total AS TEXT) FROM tracks WHERE status = 'ok' AND "
                       "(typeof(window_total) != 'integer' OR window_total < 0 OR window_total > ?) ORDER BY id LIMIT 1");
    bad.bind(1, kMostWindowsOfATrack);
    if (bad.step()) {
      const std::string file = sql::index_file(db_);
      throw DamagedIndex(file + ": " + window_total_damage(bad.int64(0), bad.text(1), bad.text(2)) + sql::rebuild_advice(file));
    }
  }
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

// --- text cache ------------------------------------------------------------------------------

std::optional<std::vector<float>> SqliteStore::cached_text(const std::string& model_key, const std::string& text) const {
  const auto m = model();
  sql::Stmt s(db_, "SELECT embedding FROM text_cache WHERE model = ? AND text = ?");
  s.bind(1, model_key).bind(2, text);
  if (!s.step()) return std::nullopt;
  return s.floats(0, m ? m->dim : 0);
}

void SqliteStore::put_cached_texts(const std::vector<CachedText>& texts) {
  if (texts.empty()) return;
  sql::Transaction tx(db_);
  sql::Stmt s(db_, "INSERT OR REPLACE INTO text_cache(model, text, embedding) VALUES (?, ?, ?)");
  for (const CachedText& t : texts) {
    s.reset();
    s.bind(1, t.model_key).bind(2, t.text).bind_floats(3, t.embedding.data(), t.embedding.size()).run();
  }
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
      if (std::string p = window_numbering_problem(s.text(0), n, lo, hi, total); !p.empty()) problems.push_back(p);
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
