// Which index files this process has open, so that a file moved over one of them is opened only
// once every connection to the old file is closed, and the old file's WAL is emptied into it
// first (sqlite_internal.h, track_open; H12S-3). See https://www.sqlite.org/howtocorrupt.html,
// "Unlinking or renaming a database file while in use", and SQLITE_FCNTL_HAS_MOVED.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "store/sqlite_internal.h"

namespace clap::store::sqlite_impl {

namespace {

namespace fs = std::filesystem;

struct OpenFile {
  std::pair<uint64_t, uint64_t> id;  // device and inode
  int connections = 0;
  int writable = 0;
  // The last writable connection of a file moved away from the name, whose WAL could not be
  // emptied when it closed (another process was reading the old file): kept open, so that the
  // WAL at the name is emptied into the old file at the next open's try, before the file now
  // at the name is opened (else SQLite would read the old file's changes into it). Closed and
  // given up, it left the WAL there for good: this process refused the new file until it was
  // restarted, and the next process to open the file damaged it (H13S-2).
  sqlite3* held = nullptr;
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

// Empties the WAL of a moved file into it and cuts the WAL to nothing; whether it could. Readers
// (of this process or another) keep it from finishing; it waits up to `wait_ms` for them.
bool empty_wal(sqlite3* db, int wait_ms) {
  sqlite3_busy_timeout(db, wait_ms);
  int log = -1, done = -1;
  return sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_TRUNCATE, &log, &done) == SQLITE_OK;
}

// The device and inode of the file at `path` as /proc/locks names it ("fe:00:11239441"), or "".
std::string lock_name(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  std::ostringstream name;
  name << std::hex << std::setfill('0') << std::setw(2) << major(st.st_dev) << ':' << std::setw(2) << minor(st.st_dev)
       << ':' << std::dec << st.st_ino;
  return name.str();
}

// The first byte SQLite's unix VFS locks in a database file (PENDING_BYTE, 0x40000000) and the last
// (its SHARED range ends 510 bytes after RESERVED): every lock SQLite takes on a database starts
// in between.
constexpr uint64_t kFirstSqliteLockByte = 0x40000000, kLastSqliteLockByte = 0x40000000 + 1 + 1 + 510 - 1;

// Other processes' locks on the files at the given paths (Linux's /proc/locks, read once; none
// where it cannot be read), each path's lockers by process id as /proc/locks gives them.
// A connection in WAL mode holds a read lock on its database file's SHARED bytes and on its
// -shm's DMS byte for as long as it is open, and the -shm is found by name: so another process's
// lock on the -shm at an index's name with none on the file now there is another process's
// connection to a file moved away from it (H13S-1), and another process's lock on the file with
// none on the -shm at this name is its connection by another name (H14S-1). Files are named in
// /proc/locks by device and inode; locks of this process are left out (this process's own
// connections are the registry's). `sqlite_bytes[i]`: only locks that start among SQLite's lock
// bytes count for path i (another program's lock on the whole file, a backup tool's, is not a
// connection). Never opens the files: closing any descriptor of a file drops every POSIX lock
// this process holds on it, SQLite's too.
std::vector<std::set<std::string>> other_lockers(const std::vector<std::string>& paths,
                                                 const std::vector<bool>& sqlite_bytes) {
  std::vector<std::set<std::string>> pids(paths.size());
  std::vector<std::string> names;
  for (const std::string& path : paths) names.push_back(lock_name(path));
  const std::string self = std::to_string(::getpid());
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    // "1: POSIX  ADVISORY  READ 8978 fe:00:11239441 128 128" (a waiter's line has "->" after the number)
    std::istringstream words(line);
    std::string word, previous;
    while (words >> word) {
      const auto named = std::find(names.begin(), names.end(), word);
      if (named != names.end() && !word.empty()) {
        uint64_t start = 0;
        words >> start;
        for (size_t i = 0; i < names.size(); ++i)
          if (names[i] == word && previous != self &&
              (!sqlite_bytes[i] || (start >= kFirstSqliteLockByte && start <= kLastSqliteLockByte)))
            pids[i].insert(previous);
        break;
      }
      previous = word;
    }
  }
  return pids;
}

std::set<std::string> other_lockers(const std::string& path) { return other_lockers({path}, {false})[0]; }

// A process that locks the file and not the -shm at this name (other_lockers of both): one that has
// the file open by another name, "" for none.
std::string opened_by_another_name(const std::set<std::string>& on_file, const std::set<std::string>& on_shm) {
  for (const std::string& pid : on_file)
    if (!on_shm.count(pid)) return pid;
  return {};
}

// opened_by_another_name of the file and its -shm at this name, looked at again while it says a
// process: SQLite locks the database file's SHARED bytes before the -shm's DMS byte when it first
// reads, so a process opening the file by this very name is, for a moment, a locker of the file
// alone, and was refused "by another name" whenever two processes opened one index at once (every
// name is checked since H15S-1, not only a file with several links). Another name's lock stays;
// an opener's -shm lock follows within milliseconds. "" when none stays for 1.5 s (polled every
// 25 ms; only a refusal waits that long).
std::string lasting_other_name(const std::string& path, const std::string& shm) {
  using clock = std::chrono::steady_clock;
  const clock::time_point deadline = clock::now() + std::chrono::milliseconds(1500);
  for (;;) {
    const auto lockers = other_lockers({path, shm}, {true, false});
    const std::string other = opened_by_another_name(lockers[0], lockers[1]);
    if (other.empty() || clock::now() >= deadline) return other;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

sql::SqliteError another_name_error(const std::string& path, const std::string& pid, nlink_t links) {
  return sql::SqliteError(path + ": another process (" + pid + ") has this index file open by another name (a hard link "
                              "or a bind mount of it; the file has " + std::to_string(links) +
                              (links == 1 ? " link" : " links") + "), and SQLite keeps the write-ahead log by name, so "
                              "writes through the two names would overwrite each other: open the index by one name "
                              "only (remove the other links or mounts; a symbolic link is safe), or stop that process; "
                              "try again in a moment",
                          SQLITE_CANTOPEN);
}

bool locked_by_other_process(const std::string& path) { return !other_lockers(path).empty(); }

// Whether this process has the file now at `path` open by another name (a link): its WAL, found
// by the name, is then that file's too (H13P-2; another process's connections are
// locked_by_other_process's).
bool open_here_by_another_name(const Registry& r, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  const std::pair<uint64_t, uint64_t> id{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  for (const auto& [name, f] : r.files)
    if (f.connections > 0 && f.id == id) return true;
  return false;
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
    throw sql::ReplacedWhileOpening(path + ": the index file was replaced while it was being opened; try again");
  const std::pair<uint64_t, uint64_t> id{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  OpenFile& f = r.files[key];
  if (f.held) {
    // Closed without emptying when the file at the name is the old one again (moved back), or
    // another process has the new one open (the WAL is that file's now).
    if (f.id == id || locked_by_other_process(path) || open_here_by_another_name(r, path) || empty_wal(f.held, 0)) {
      sqlite3_close_v2(f.held);
      f.held = nullptr;
    } else {
      throw sql::SqliteError(path + ": another file was moved over the index while this process had it open, and another "
                             "process is still reading the old file, so its write-ahead log (" + path + "-wal) cannot be "
                             "emptied into it yet; the new file is opened once it can be (SQLite would read the old file's "
                             "changes into it): end that process's reading (a sqlite3 shell, another tool) and try again in "
                             "a moment", SQLITE_CANTOPEN);
    }
  }
  if (f.connections > 0 && f.id != id)
    throw sql::ReplacedWhileOpening(path + ": another file was moved over the index, and it is opened once this process has "
                                    "closed the old one (requests still reading it finish first); try again in a moment");
  // Another process still has a file that was at this name open (its -shm, found by name, is in
  // use while nobody else has this file open): this file would share its WAL, whose pages that
  // process would write into it, or its checkpoint would empty this file's WAL into the old one
  // (a second `serve`, H13S-1). It is opened once that process has closed the old file.
  if (f.connections == 0) {
    const char* name = sqlite3_db_filename(db, "main");  // SQLite's own full name, links followed
    const std::string shm = std::string(name && *name ? name : path.c_str()) + "-shm";
    // One read of /proc/locks for both files (it is read anew at each first open of a name, and
    // takes seconds when another process holds tens of thousands of locks).
    const auto lockers = other_lockers({path, shm}, {true, false});
    const std::set<std::string>&on_file = lockers[0], &on_shm = lockers[1];
    if (!on_shm.empty() && on_file.empty())
      throw sql::SqliteError(path + ": another process still has the index file that was at this name open (its " + shm +
                                 " is in use), and this file is opened once that process has closed it (another "
                                 "clapsearch serve does so within seconds; stop a sqlite3 shell or other tool using "
                                 "the old file); try again in a moment",
                             SQLITE_CANTOPEN);
    // The file by another name in this process (a script's two Library objects): SQLite keeps
    // the WAL and -shm by name, so each name would have its own log of one file. A symbolic
    // link to the file is its name again once resolved (SQLite's -wal is the target's).
    std::error_code ec1, ec2;
    const fs::path here = fs::weakly_canonical(shm.substr(0, shm.size() - 4), ec1);
    for (const auto& [other_name, other] : r.files)
      if (other.connections > 0 && other.id == id && fs::weakly_canonical(other_name, ec2) != here)
        throw sql::SqliteError(path + ": this process has this index file open by another name (" + other_name +
                                   "; a hard link or a bind mount of it), and SQLite keeps the write-ahead log by name, "
                                   "so writes through the two names would overwrite each other: open the index by one "
                                   "name only",
                               SQLITE_CANTOPEN);
    // Another process has it open by another name (it locks the file, not the -shm at this
    // name): each process's checkpoints would write over the other's changes (H14S-1: 10 of 20
    // acknowledged stars lost, two servers, two hard links). Not only a file with several links:
    // a bind mount of the file (a container's single-file volume) is another name of one link,
    // and lost the same 10 of 20 (H15S-1).
    if (!opened_by_another_name(on_file, on_shm).empty())
      if (const std::string other = lasting_other_name(path, shm); !other.empty())
        throw another_name_error(path, other, st.st_nlink);
  }
  if (f.connections == 0) f = OpenFile{id};
  ++f.connections;
  if (sqlite3_db_readonly(db, "main") == 0) ++f.writable;
  r.connections[db] = key;
}

// track_open's check of other processes again, after the connection's first read (it now locks the
// file and the -shm at its name): a process that opened the file by another name at the same moment,
// between this one's check and its first read, saw no lock either, and both went on (H15S-4: two
// servers started together on two hard links both served, each with its own WAL). Now at least the
// later one sees the other; when both read before either confirms, both are refused and tried
// again. Only at this process's first connection to the name, as track_open. A refused connection
// is closed without a checkpoint: its WAL must not be emptied into the file the other one writes.
void confirm_one_name(sqlite3* db, const std::string& path) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const auto c = r.connections.find(db);
  if (c == r.connections.end() || r.files[c->second].connections != 1) return;
  const char* name = sqlite3_db_filename(db, "main");
  const std::string shm = std::string(name && *name ? name : path.c_str()) + "-shm";
  if (const std::string other = lasting_other_name(path, shm); !other.empty()) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    throw another_name_error(path, other, st.st_nlink);
  }
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
  // Not when another process (H13S-1, H13P-2), or this one by another name, has the file now at
  // the name open: the WAL there is that file's now, and a checkpoint would empty its pages into
  // the old file.
  // The last connection that can write to the old file: its WAL (at the name, which the new file
  // would read) emptied into the old file and cut to nothing. Readers hold it up: this process's
  // for a moment (waited for), another process's longer; then the connection is kept (`held`)
  // and tried again by the next open at the name.
  bool hold = false;
  if (writable && f.writable == 1 && has_moved(db) && !locked_by_other_process(c->second) &&
      !open_here_by_another_name(r, c->second)) hold = !empty_wal(db, 1000);
  if (hold) f.held = db;
  else sqlite3_close_v2(db);
  --f.connections;
  if (writable) --f.writable;
  if (f.connections == 0 && !f.held) r.files.erase(c->second);
  r.connections.erase(c);
}

}  // namespace clap::store::sqlite_impl
