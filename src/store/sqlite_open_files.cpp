// Which index files this process has open, so that a file moved over one of them is opened only
// once every connection to the old file is closed, and the old file's WAL is emptied into it
// first (sqlite_internal.h, track_open; H12S-3). See https://www.sqlite.org/howtocorrupt.html,
// "Unlinking or renaming a database file while in use", and SQLITE_FCNTL_HAS_MOVED.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <utility>

#include "store/sqlite_internal.h"

namespace clap::store::sqlite_impl {

namespace {

namespace fs = std::filesystem;

struct OpenFile {
  std::pair<uint64_t, uint64_t> id;  // device and inode
  int connections = 0;
  int writable = 0;
  // The old file's WAL could not be emptied when its last writable connection closed: the file
  // now at the name would be read with it, so this process never opens it.
  bool wal_left = false;
};

struct Registry {
  std::mutex mutex;
  std::map<std::string, OpenFile> files;         // by absolute path (SQLite names -wal after it)
  std::map<sqlite3*, std::string> connections;   // each tracked connection's file
};

// Never destroyed: connections closed while the process exits still find it.
Registry& registry() {
  static auto* r = new Registry;
  return *r;
}

bool has_moved(sqlite3* db) {
  int moved = 0;
  return sqlite3_file_control(db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved != 0;
}

// Whether the file now at `path` (another one moved over the index) is in use: another process
// has it open (an SQLite connection holds a lock on its database file as long as it is open, in
// WAL mode), or a connection of this process by another name. Its WAL, found by the same name,
// is then that file's: emptying it into the old file took the new file's writes away with it
// (hostile pass 13, H13P-2: a serve starred songs in a backup put back, and a Python Library of
// the old file, idle in another process, closed and took them). The descriptor opened to ask is
// closed again; POSIX locks are per process and file, so closing it would drop this process's
// locks on the new file: it is opened only when no connection of this process has that file.
bool new_file_in_use(const Registry& r, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  const std::pair<uint64_t, uint64_t> id{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  for (const auto& [name, f] : r.files)
    if (f.connections > 0 && f.id == id) return true;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;  // the whole file: l_start and l_len 0
  const bool locked = ::fcntl(fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
  ::close(fd);
  return locked;
}

}  // namespace

void track_open(sqlite3* db, const std::string& path) {
  std::error_code ec;
  std::string key = fs::absolute(path, ec).lexically_normal().string();
  if (ec) key = path;
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  struct stat st {};
  // The connection's file is the one at the name now (HAS_MOVED compares them): else another
  // file was moved there while it opened, and the checks below would be about the wrong file.
  if (::stat(path.c_str(), &st) != 0 || has_moved(db))
    throw sql::SqliteError(path + ": the index file was replaced while it was being opened; try again", SQLITE_CANTOPEN);
  const std::pair<uint64_t, uint64_t> id{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  OpenFile& f = r.files[key];
  if (f.wal_left && f.id != id)
    throw sql::SqliteError(path + ": another file was moved over the index while this process had it open, and the old "
                           "file's write-ahead log (" + path + "-wal) could not be emptied (another process was reading "
                           "it), so the new file is not opened here: SQLite would read the old file's changes into it. Stop "
                           "every process using the index and put the copy back again (docs/operations.md, Backup)",
                           SQLITE_CANTOPEN);
  if (f.connections > 0 && f.id != id)
    throw sql::SqliteError(path + ": another file was moved over the index, and it is opened once this process has closed "
                           "the old one (requests still reading it finish first); try again in a moment",
                           SQLITE_CANTOPEN);
  if (f.connections == 0) f = OpenFile{id};
  ++f.connections;
  if (sqlite3_db_readonly(db, "main") == 0) ++f.writable;
  r.connections[db] = key;
}

void close_tracked(sqlite3* db) {
  if (!db) return;
  Registry& r = registry();
  std::lock_guard lock(r.mutex);  // held while closing: the new file waits for the old one's WAL to be emptied
  const auto c = r.connections.find(db);
  if (c == r.connections.end()) {
    sqlite3_close_v2(db);
    return;
  }
  OpenFile& f = r.files[c->second];
  const bool writable = sqlite3_db_readonly(db, "main") == 0;
  if (writable && f.writable == 1 && has_moved(db) && !new_file_in_use(r, c->second)) {
    // The last connection that can write to the old file: its WAL (at the name, which the new
    // file would read) emptied into the old file and cut to nothing. Connections of this process
    // still reading it hold it up to the timeout; one of another process keeps it from finishing.
    // Not when the new file is in use: then whoever opened it emptied the old file's WAL first
    // (a clapsearch process does, track_open), and the WAL holds the new file's writes.
    sqlite3_busy_timeout(db, 10000);
    int log = -1, done = -1;
    const int rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    if (rc != SQLITE_OK) f.wal_left = true;
  }
  sqlite3_close_v2(db);
  --f.connections;
  if (writable) --f.writable;
  if (f.connections == 0 && !f.wal_left) r.files.erase(c->second);
  r.connections.erase(c);
}

}  // namespace clap::store::sqlite_impl
