// Keeping an index current while files come and go (`clapsearch index --watch`).
//
// The indexer is incremental (index/indexer.h): a rescan of a root costs a crawl (one stat per
// file) and one read of the index, about 0.1 s per 1,000 unchanged files, and it already
// recognises new, changed, moved (by content hash), deleted and restored files and holds the
// tracks of a root that mostly vanished. So watching does not index single files: it decides
// WHEN to rescan WHICH roots and which files to leave out of that rescan because they are still
// being written.
//
//   inotify       every folder under a root is watched (inotify(7)); folders created or moved
//                 in get watches, folders deleted or moved out lose theirs (no descriptor leak).
//   debounce      a changed audio file is taken once nothing happened to it for the quiet
//                 period (default 2 s) AND its size and mtime are the same as when last seen AND
//                 it is closed (IN_CLOSE_WRITE, or moved in); a file still open for writing but
//                 unchanged for `open_wait` is taken anyway (a stalled download: if it grows
//                 later it is indexed again). A deleted file waits until its whole root
//                 had no deletion for the quiet period: a folder being deleted or emptied is
//                 judged once, at the end (gone: not rescanned; emptied: the indexer holds its
//                 tracks), never half-way.
//                 Changes to one file coalesce into one entry.
//   temp names    partial downloads and editors' scratch files (".part", ".crdownload", ".tmp",
//                 "~", ".!qB", dot-files...) are ignored until renamed to an audio name.
//   fallback      where inotify cannot see every change - a network or FUSE filesystem (NFS,
//                 SMB/CIFS, FUSE, 9p...), the per-user watch limit reached, a root that is a
//                 single file - that root is rescanned every `rescan_every` instead (said once
//                 in the log); files modified within the quiet period are left to the next rescan.
//                 An overflowing event queue (IN_Q_OVERFLOW) means one full rescan.
//   gone roots    a root that disappears (a USB disk unmounted, an NFS mount dropped, the folder
//                 deleted) is not rescanned: its tracks stay in the index, and it is looked for
//                 every second; when it is back (or another filesystem is mounted on it), its
//                 watches are set again and it is rescanned. A root that is there but mostly
//                 empty is the indexer's "held" case: its tracks are kept too.
//   bounded       at most `max_pending` changed paths are remembered; beyond that, their roots
//                 are rescanned whole once quiet. Watches exist only for existing folders.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "index/crawl.h"

namespace clap::index {

using WatchClock = std::chrono::steady_clock;

struct WatchOptions {
  std::chrono::milliseconds quiet{2000};            // a file unchanged this long is finished
  std::chrono::milliseconds rescan_every{600'000};  // roots inotify cannot watch
  std::chrono::milliseconds open_wait{60'000};      // a file still open for writing, unchanged this long, is taken
  size_t max_pending = 10'000;                      // changed paths remembered; more: whole-root rescans
  CrawlOptions crawl;                               // which names are audio files (extensions)
};

// "2s", "500ms", "10min" (or "10m"), "1h", "1.5s"; a bare number is seconds. Throws
// clap::InvalidArgument naming `option` for anything else, or for a duration not above zero.
std::chrono::milliseconds parse_duration(const std::string& text, const std::string& option);

// True for names that partial downloads and tag editors use while writing: dot-files and
// names ending in "~", ".part", ".partial", ".crdownload", ".download", ".tmp", ".temp",
// ".!qB", ".!ut", ".swp" (case-insensitive). Such files are ignored until renamed.
bool is_temporary_name(std::string_view name);

// The name of the network or FUSE filesystem `path` is on ("NFS", "SMB", "CIFS", "SMB2",
// "FUSE", "9P", "CEPH", "AFS", "CODA", "NCP", "GFS2", "OCFS2", "LUSTRE"...): inotify sees no
// changes made through other machines there. "" for a local filesystem or when statfs fails.
std::string network_filesystem(const std::string& path);

// One rescan to run: these roots, leaving out the files not finished yet.
struct Rescan {
  std::vector<std::string> roots;
  std::vector<size_t> root_numbers;  // the roots' numbers in the Watcher's list
  std::set<std::string> not_ready;  // paths still being written
  int64_t modified_after_ns = 0;    // also leave out files with an mtime after this (ns since the epoch; 0 = none)
  std::string reason;               // for the log: "3 changes", "periodic rescan", "event queue overflow"...
  // Counts the files left out (a crawl's skip predicate: CrawlOptions::skip).
  std::shared_ptr<int64_t> left_out = std::make_shared<int64_t>(0);
  bool skip(const CrawledFile& f) const;
};

// The debounce and coalescing logic, fed with changes and the time; no inotify here.
class ChangeTracker {
 public:
  enum class Change {
    Written,   // IN_MODIFY / IN_CREATE: being written
    Touched,   // IN_ATTRIB: times or permissions changed
    Closed,    // IN_CLOSE_WRITE: written and closed
    Appeared,  // IN_MOVED_TO (a rename finishes a file), a folder created or moved in
    Gone,      // IN_DELETE / IN_MOVED_FROM
  };

  ChangeTracker(size_t roots, const WatchOptions& options);

  // A change to `path` under root number `root`.
  void note(size_t root, const std::string& path, Change change, WatchClock::time_point now);
  // Root `root` needs a whole rescan once the quiet period has passed (queue overflow, a folder
  // back, too many changes to remember).
  void note_root(size_t root, const std::string& reason, WatchClock::time_point now);
  // Drops everything about root `root` (it is gone: nothing to rescan).
  void forget_root(size_t root);

  // The roots due now: those with a finished file or a due whole rescan, each with the files
  // not finished yet left out. The finished files are forgotten (a failed rescan: failed()).
  // `root_paths` names the roots.
  std::optional<Rescan> due(const std::vector<std::string>& root_paths, WatchClock::time_point now);
  // A rescan of roots numbered `roots` failed: they are rescanned whole after the quiet period.
  void failed(const std::vector<size_t>& roots, const std::string& reason, WatchClock::time_point now);

  size_t pending() const { return entries_.size(); }
  bool idle() const;  // nothing pending at all

 private:
  struct Observation {
    bool exists = false;
    int64_t size = -1, mtime_ns = -1;
    bool operator==(const Observation&) const = default;
  };
  static Observation observe(const std::string& path);
  struct Entry {
    size_t root = 0;
    WatchClock::time_point last_change;
    bool writing = false;
    Observation seen;
  };
  struct RootState {
    bool whole = false;
    WatchClock::time_point whole_since;
    std::string reason;
    WatchClock::time_point last_deletion;  // of any path under the root
  };
  bool ready(const std::string& path, Entry& e, WatchClock::time_point now);

  WatchOptions options_;
  std::unordered_map<std::string, Entry> entries_;
  std::vector<RootState> roots_;
};

// Watches roots with inotify (or rescans them periodically where it cannot) and calls a rescan
// function when something is due. `log` receives one line per notable decision.
class Inotify;
class Watcher {
 public:
  using Log = std::function<void(const std::string&)>;
  // `roots`: absolute folders (or files: those are rescanned periodically).
  Watcher(std::vector<std::string> roots, WatchOptions options, Log log);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Sets the watches. Call before the first full index run so that nothing changed meanwhile is
  // missed (changes seen during that run cause one more, cheap, rescan).
  void start();
  // Until `stop()` returns true (checked at least every 250 ms between rescans): waits for
  // events, and calls `rescan` for each due Rescan. `rescan` returns false when it could not
  // run (another indexer holds the lock...): the roots are tried again after the quiet period.
  void run(const std::function<bool()>& stop, const std::function<bool(const Rescan&)>& rescan);
  // Every root that is there is rescanned whole once the quiet period has passed (a first index
  // run that could not run: another indexer held the lock).
  void rescan_all(const std::string& reason);
  // One round of run(): reads events for up to `wait`, then rescans what is due. For tests.
  void step(std::chrono::milliseconds wait, const std::function<bool(const Rescan&)>& rescan);

  size_t watched_folders() const { return by_wd_.size(); }
  size_t pending() const { return tracker_.pending(); }
  // How root number `i` is kept current.
  enum class Mode { Inotify, Polling, Missing };
  Mode mode(size_t i) const { return roots_[i].mode; }

 private:
  struct Root {
    std::string path;
    Mode mode = Mode::Missing;
    uint64_t device = 0, inode = 0;
    WatchClock::time_point next_poll;
    std::string polling_reason;  // said once
    bool said_missing = false;
  };
  struct Watched {
    std::string path;
    size_t root = 0;
  };
  enum class TreeResult { Ok, LimitReached, Network };

  void setup_root(size_t i, WatchClock::time_point now, bool rescan_now);
  void go_missing(size_t i);
  void poll_instead(size_t i, const std::string& reason, WatchClock::time_point now);
  TreeResult add_tree(size_t root, const std::string& folder, std::string& network);
  void remove_tree(const std::string& folder);
  void remove_root_watches(size_t root);
  void handle_events(WatchClock::time_point now, std::chrono::milliseconds wait);
  void check_roots(WatchClock::time_point now);
  bool is_audio_name(const std::string& name) const;

  std::vector<Root> roots_;
  WatchOptions options_;
  Log log_;
  std::unique_ptr<Inotify> inotify_;
  bool inotify_failed_ = false;
  std::unordered_map<int, Watched> by_wd_;
  std::map<std::string, int> by_path_;
  ChangeTracker tracker_;
  std::set<std::string> extensions_;
  WatchClock::time_point next_root_check_{};
};

}  // namespace clap::index
