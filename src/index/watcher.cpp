#include "index/watcher.h"

#include <dirent.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "index/inotify.h"

namespace clap::index {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string duration_text(std::chrono::milliseconds d) {
  const long long s = d.count() / 1000;
  if (d.count() % 1000 != 0 || s == 0) return std::to_string(d.count()) + " ms";
  if (s % 3600 == 0) return std::to_string(s / 3600) + " h";
  if (s % 60 == 0) return std::to_string(s / 60) + " min";
  return std::to_string(s) + " s";
}

int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Folder events and the file events that matter; IN_Q_OVERFLOW, IN_IGNORED and IN_UNMOUNT
// come without asking.
constexpr uint32_t kWatchMask = IN_CREATE | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
                                IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;

}  // namespace

std::chrono::milliseconds parse_duration(const std::string& text, const std::string& option) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = lower(std::string_view(text).substr(used));
  double ms_per_unit = 0;
  if (unit.empty() || unit == "s" || unit == "sec") ms_per_unit = 1000;
  else if (unit == "ms") ms_per_unit = 1;
  else if (unit == "m" || unit == "min") ms_per_unit = 60'000;
  else if (unit == "h") ms_per_unit = 3'600'000;
  const double ms = value * ms_per_unit;
  if (used == 0 || ms_per_unit == 0 || !(ms >= 1) || ms > 1e12)
    throw InvalidArgument(option + " " + text + ": not a duration (like 500ms, 2s, 10min, 1h; at least 1 ms)");
  return std::chrono::milliseconds(static_cast<int64_t>(ms + 0.5));
}

bool is_temporary_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.back() == '~') return true;
  const std::string n = lower(name);
  for (const char* suffix : {".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".!qb", ".!ut", ".swp"})
    if (ends_with(n, suffix)) return true;
  return false;
}

std::string network_filesystem(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return "";
  switch (static_cast<uint32_t>(st.f_type)) {  // magic numbers of linux/magic.h and the filesystems' sources
    case 0x6969: return "NFS";
    case 0x517B: return "SMB";
    case 0xFF534D42: return "CIFS";
    case 0xFE534D42: return "SMB2";
    case 0x65735546: return "FUSE";
    case 0x01021997: return "9P";
    case 0x00C36400: return "CEPH";
    case 0x5346414F: return "AFS";
    case 0x6B414653: return "AFS";
    case 0x73757245: return "CODA";
    case 0x564C: return "NCP";
    case 0x01161970: return "GFS2";
    case 0x7461636F: return "OCFS2";
    case 0x0BD00BD0: return "LUSTRE";
    default: return "";
  }
}

bool Rescan::skip(const CrawledFile& f) const {
  if (not_ready.count(f.path) || (modified_after_ns != 0 && f.mtime_ns > modified_after_ns)) {
    ++*left_out;
    return true;
  }
  return false;
}

// --- ChangeTracker

ChangeTracker::ChangeTracker(size_t roots, const WatchOptions& options) : options_(options), roots_(roots) {}

ChangeTracker::Observation ChangeTracker::observe(const std::string& path) {
  struct stat st {};
  Observation o;
  if (::stat(path.c_str(), &st) != 0) return o;
  o.exists = true;
  o.size = st.st_size;
  o.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return o;
}

void ChangeTracker::note(size_t root, const std::string& path, Change change, WatchClock::time_point now) {
  if (root >= roots_.size()) return;
  auto it = entries_.find(path);
  if (it == entries_.end()) {
    if (entries_.size() >= options_.max_pending) {
      // Too many files to follow one by one: their roots are rescanned whole once quiet instead.
      std::set<size_t> affected = {root};
      for (const auto& [p, e] : entries_) affected.insert(e.root);
      entries_.clear();
      for (size_t r : affected)
        note_root(r, "more than " + std::to_string(options_.max_pending) + " changed files at once", now);
      return;
    }
    it = entries_.emplace(path, Entry{}).first;
    it->second.seen = change == Change::Gone ? Observation{} : observe(path);
  }
  Entry& e = it->second;
  e.root = root;
  e.last_change = now;
  if (change == Change::Gone) roots_[root].last_deletion = std::max(roots_[root].last_deletion, now);
  switch (change) {
    case Change::Written: e.writing = true; break;
    case Change::Touched: break;
    case Change::Closed:
    case Change::Appeared:
      e.writing = false;
      e.seen = observe(path);
      break;
    case Change::Gone:
      e.writing = false;
      e.seen = Observation{};
      break;
  }
}

void ChangeTracker::note_root(size_t root, const std::string& reason, WatchClock::time_point now) {
  if (root >= roots_.size()) return;
  RootState& r = roots_[root];
  if (!r.whole) r.reason = reason;
  r.whole = true;
  r.whole_since = now;
}

void ChangeTracker::forget_root(size_t root) {
  if (root >= roots_.size()) return;
  roots_[root] = RootState{};
  std::erase_if(entries_, [root](const auto& kv) { return kv.second.root == root; });
}

bool ChangeTracker::ready(const std::string& path, Entry& e, WatchClock::time_point now) {
  if (now - e.last_change < options_.quiet) return false;
  const Observation o = observe(path);
  if (!(o == e.seen)) {  // changed without an event we saw (or since the last close): wait again
    e.seen = o;
    e.last_change = now;
    return false;
  }
  if (e.writing && o.exists && now - e.last_change < options_.open_wait) return false;
  // Deletions are taken once no other deletion happened under the root for the quiet period: a
  // deletion in progress (rm -r of a folder, a drive being emptied) is never rescanned half-way,
  // when fewer than half the tracks are gone and the indexer's "held" rule would not yet apply.
  if (!o.exists && now - roots_[e.root].last_deletion < options_.quiet) return false;
  return true;
}

std::optional<Rescan> ChangeTracker::due(const std::vector<std::string>& root_paths, WatchClock::time_point now) {
  std::vector<bool> due_root(roots_.size(), false);
  std::vector<std::string> finished;
  for (auto& [path, e] : entries_)
    if (ready(path, e, now)) {
      due_root[e.root] = true;
      finished.push_back(path);
    }
  std::vector<std::string> reasons;
  if (!finished.empty())
    reasons.push_back(std::to_string(finished.size()) + (finished.size() == 1 ? " change" : " changes"));
  for (size_t r = 0; r < roots_.size(); ++r)
    if (roots_[r].whole && now - roots_[r].whole_since >= options_.quiet) {
      due_root[r] = true;
      if (std::find(reasons.begin(), reasons.end(), roots_[r].reason) == reasons.end()) reasons.push_back(roots_[r].reason);
    }
  if (std::find(due_root.begin(), due_root.end(), true) == due_root.end()) return std::nullopt;
  Rescan out;
  for (size_t r = 0; r < roots_.size() && r < root_paths.size(); ++r)
    if (due_root[r]) {
      out.roots.push_back(root_paths[r]);
      out.root_numbers.push_back(r);
      roots_[r].whole = false;
      roots_[r].reason.clear();
    }
  for (const auto& p : finished) entries_.erase(p);
  for (const auto& [path, e] : entries_)
    if (due_root[e.root]) out.not_ready.insert(path);
  for (size_t i = 0; i < reasons.size(); ++i) out.reason += (i ? ", " : "") + reasons[i];
  return out;
}

void ChangeTracker::failed(const std::vector<size_t>& roots, const std::string& reason, WatchClock::time_point now) {
  for (size_t r : roots) note_root(r, reason, now);
}

bool ChangeTracker::idle() const {
  if (!entries_.empty()) return false;
  for (const RootState& r : roots_)
    if (r.whole) return false;
  return true;
}

// --- Watcher

Watcher::Watcher(std::vector<std::string> roots, WatchOptions options, Log log)
    : options_(std::move(options)), log_(std::move(log)), tracker_(roots.size(), options_) {
  for (auto& r : roots) {
    Root root;
    root.path = absolute_path(r);
    roots_.push_back(std::move(root));
  }
  for (const auto& e : options_.crawl.extensions.empty() ? default_audio_extensions() : options_.crawl.extensions) {
    std::string x = lower(e);
    if (!x.empty() && x.front() == '.') x.erase(0, 1);
    extensions_.insert(x);
  }
}

Watcher::~Watcher() = default;

bool Watcher::is_audio_name(const std::string& name) const {
  const size_t dot = name.rfind('.');
  return dot != std::string::npos && dot != 0 && extensions_.count(lower(std::string_view(name).substr(dot + 1)));
}

void Watcher::start() {
  try {
    inotify_ = std::make_unique<Inotify>();
  } catch (const std::exception& e) {
    inotify_failed_ = true;
    if (log_) log_(e.what());
  }
  const auto now = WatchClock::now();
  for (size_t i = 0; i < roots_.size(); ++i) setup_root(i, now, false);
  next_root_check_ = now + std::chrono::seconds(1);
}

void Watcher::rescan_all(const std::string& reason) {
  const auto now = WatchClock::now();
  for (size_t i = 0; i < roots_.size(); ++i)
    if (roots_[i].mode != Mode::Missing) tracker_.note_root(i, reason, now);
}

void Watcher::setup_root(size_t i, WatchClock::time_point now, bool rescan_now) {
  Root& r = roots_[i];
  struct stat st {};
  if (::stat(r.path.c_str(), &st) != 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
    go_missing(i);
    return;
  }
  r.device = st.st_dev;
  r.inode = st.st_ino;
  r.said_missing = false;
  if (S_ISREG(st.st_mode)) {
    poll_instead(i, "a single file, not a folder", now);
  } else if (!inotify_) {
    poll_instead(i, "inotify is unavailable", now);
  } else if (const std::string fs = network_filesystem(r.path); !fs.empty()) {
    poll_instead(i, "on a " + fs + " filesystem, where inotify does not see changes made through other machines", now);
  } else {
    std::string network;
    switch (add_tree(i, r.path, network)) {
      case TreeResult::Ok:
        r.mode = Mode::Inotify;
        r.polling_reason.clear();
        break;
      case TreeResult::LimitReached:
        remove_root_watches(i);
        poll_instead(i,
                     "the inotify watch limit is reached (raise fs.inotify.max_user_watches, e.g. `sysctl "
                     "fs.inotify.max_user_watches=524288`, and restart)",
                     now);
        break;
      case TreeResult::Network:
        remove_root_watches(i);
        poll_instead(i, "its folder " + network + " is on a network or FUSE filesystem, where inotify does not see changes",
                     now);
        break;
    }
  }
  if (rescan_now) {
    if (r.mode == Mode::Polling) r.next_poll = now;
    else tracker_.note_root(i, "the folder is back", now);
  }
}

void Watcher::go_missing(size_t i) {
  Root& r = roots_[i];
  remove_root_watches(i);
  tracker_.forget_root(i);
  r.mode = Mode::Missing;
  if (!r.said_missing && log_)
    log_(r.path + ": not there (an unmounted drive or a deleted folder?): its tracks stay in the index; it is "
                  "watched for and rescanned when it is back");
  r.said_missing = true;
}

void Watcher::poll_instead(size_t i, const std::string& reason, WatchClock::time_point now) {
  Root& r = roots_[i];
  r.mode = Mode::Polling;
  r.next_poll = now + options_.rescan_every;
  if (r.polling_reason != reason && log_)
    log_(r.path + ": " + reason + ": rescanned every " + duration_text(options_.rescan_every) + " instead of watched");
  r.polling_reason = reason;
}

Watcher::TreeResult Watcher::add_tree(size_t root, const std::string& folder, std::string& network) {
  const uint64_t root_device = roots_[root].device;
  std::vector<std::string> stack = {folder};
  while (!stack.empty()) {
    const std::string dir = std::move(stack.back());
    stack.pop_back();
    int error = 0;
    const int wd = inotify_->add(dir, kWatchMask, error);
    if (wd < 0) {
      if (error == ENOSPC) return TreeResult::LimitReached;
      continue;  // unreadable or already gone: the crawl reports unreadable folders
    }
    auto [it, added] = by_wd_.try_emplace(wd, Watched{dir, root});
    if (added) by_path_[dir] = wd;
    else if (it->second.path != dir) continue;  // the same folder through another path (a link): watched once
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;  // ".", "..", hidden folders (the crawl skips them too)
      if (e->d_type != DT_DIR && e->d_type != DT_LNK && e->d_type != DT_UNKNOWN) continue;
      const std::string sub = dir + "/" + e->d_name;
      struct stat st {};
      if (::stat(sub.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      if (st.st_dev != root_device) {  // another filesystem mounted inside the root
        if (const std::string fs = network_filesystem(sub); !fs.empty()) {
          ::closedir(d);
          network = sub + " (" + fs + ")";
          return TreeResult::Network;
        }
      }
      stack.push_back(sub);
    }
    ::closedir(d);
  }
  return TreeResult::Ok;
}

void Watcher::remove_tree(const std::string& folder) {
  auto drop = [this](std::map<std::string, int>::iterator it) {
    if (inotify_) inotify_->remove(it->second);
    by_wd_.erase(it->second);
    return by_path_.erase(it);
  };
  if (auto it = by_path_.find(folder); it != by_path_.end()) drop(it);
  const std::string prefix = folder + "/";
  for (auto it = by_path_.lower_bound(prefix); it != by_path_.end() && it->first.compare(0, prefix.size(), prefix) == 0;)
    it = drop(it);
}

void Watcher::remove_root_watches(size_t root) {
  for (auto it = by_wd_.begin(); it != by_wd_.end();) {
    if (it->second.root != root) {
      ++it;
      continue;
    }
    if (inotify_) inotify_->remove(it->first);
    if (auto p = by_path_.find(it->second.path); p != by_path_.end() && p->second == it->first) by_path_.erase(p);
    it = by_wd_.erase(it);
  }
}

void Watcher::handle_events(WatchClock::time_point now, std::chrono::milliseconds wait) {
  if (!inotify_) {
    std::this_thread::sleep_for(wait);
    return;
  }
  const std::vector<InotifyEvent> events = inotify_->read(static_cast<int>(wait.count()));
  now = WatchClock::now();
  for (const InotifyEvent& ev : events) {
    if (ev.mask & IN_Q_OVERFLOW) {
      if (log_) log_("the inotify event queue overflowed (changes were lost): one full rescan");
      for (size_t i = 0; i < roots_.size(); ++i) {
        if (roots_[i].mode != Mode::Inotify) continue;
        std::string network;
        if (add_tree(i, roots_[i].path, network) != TreeResult::Ok) {  // folders created meanwhile
          remove_root_watches(i);
          setup_root(i, now, true);
          continue;
        }
        tracker_.note_root(i, "event queue overflow", now);
      }
      continue;
    }
    const auto w = by_wd_.find(ev.wd);
    if (w == by_wd_.end()) continue;  // a watch removed meanwhile
    const Watched watched = w->second;
    const bool is_root = watched.path == roots_[watched.root].path;
    if (ev.mask & IN_IGNORED) {  // the kernel dropped the watch: folder deleted, filesystem unmounted
      if (auto p = by_path_.find(watched.path); p != by_path_.end() && p->second == ev.wd) by_path_.erase(p);
      by_wd_.erase(ev.wd);
      if (is_root) next_root_check_ = now;
      continue;
    }
    if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
      // A subfolder's deletion or move is handled through its parent's event; the root's is checked now.
      if (is_root) next_root_check_ = now;
      continue;
    }
    if (ev.name.empty()) continue;
    const std::string path = watched.path + "/" + ev.name;
    if (ev.mask & IN_ISDIR) {
      if (ev.name.front() == '.') continue;
      if (ev.mask & (IN_CREATE | IN_MOVED_TO)) {
        if (roots_[watched.root].mode != Mode::Inotify) continue;
        std::string network;
        switch (add_tree(watched.root, path, network)) {
          case TreeResult::Ok: break;
          case TreeResult::LimitReached:
            remove_root_watches(watched.root);
            poll_instead(watched.root,
                         "the inotify watch limit is reached (raise fs.inotify.max_user_watches, e.g. `sysctl "
                         "fs.inotify.max_user_watches=524288`, and restart)",
                         now);
            roots_[watched.root].next_poll = now;
            continue;
          case TreeResult::Network:
            remove_root_watches(watched.root);
            poll_instead(watched.root, "its folder " + network + " is on a network or FUSE filesystem", now);
            roots_[watched.root].next_poll = now;
            continue;
        }
        tracker_.note(watched.root, path, ChangeTracker::Change::Appeared, now);  // its files came without events
      } else if (ev.mask & (IN_DELETE | IN_MOVED_FROM)) {
        remove_tree(path);
        tracker_.note(watched.root, path, ChangeTracker::Change::Gone, now);
      }
      continue;
    }
    if (is_temporary_name(ev.name) || !is_audio_name(ev.name)) continue;
    using C = ChangeTracker::Change;
    C change = C::Touched;
    if (ev.mask & (IN_DELETE | IN_MOVED_FROM)) change = C::Gone;
    else if (ev.mask & IN_MOVED_TO) change = C::Appeared;
    else if (ev.mask & IN_CLOSE_WRITE) change = C::Closed;
    else if (ev.mask & (IN_CREATE | IN_MODIFY)) change = C::Written;
    tracker_.note(watched.root, path, change, now);
  }
}

void Watcher::check_roots(WatchClock::time_point now) {
  for (size_t i = 0; i < roots_.size(); ++i) {
    Root& r = roots_[i];
    struct stat st {};
    const bool present = ::stat(r.path.c_str(), &st) == 0 && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode));
    if (r.mode == Mode::Missing) {
      if (present) {
        if (log_) log_(r.path + ": back: watched again and rescanned");
        setup_root(i, now, true);
      }
    } else if (!present) {
      go_missing(i);
    } else if (st.st_dev != r.device || st.st_ino != r.inode ||
               (r.mode == Mode::Inotify && by_path_.find(r.path) == by_path_.end())) {
      // Another folder or filesystem is there now (a drive mounted on it or unmounted from it, the
      // folder deleted and made again): watched afresh and rescanned.
      if (log_) log_(r.path + ": another folder or filesystem is there now: watched again and rescanned");
      remove_root_watches(i);
      tracker_.forget_root(i);
      setup_root(i, now, true);
    }
  }
}

void Watcher::step(std::chrono::milliseconds wait, const std::function<bool(const Rescan&)>& rescan) {
  handle_events(WatchClock::now(), wait);
  auto now = WatchClock::now();
  if (now >= next_root_check_) {
    check_roots(now);
    next_root_check_ = now + std::chrono::seconds(1);
  }
  std::vector<std::string> paths;
  for (const Root& r : roots_) paths.push_back(r.path);
  if (std::optional<Rescan> r = tracker_.due(paths, now)) {
    // A root that went missing since its files changed is not rescanned (the crawl would fail):
    // its tracks stay until it is back.
    Rescan present;
    present.reason = r->reason;
    for (size_t k = 0; k < r->roots.size(); ++k)
      if (roots_[r->root_numbers[k]].mode != Mode::Missing) {
        present.roots.push_back(r->roots[k]);
        present.root_numbers.push_back(r->root_numbers[k]);
      }
    for (const auto& p : r->not_ready) present.not_ready.insert(p);
    if (!present.roots.empty() && !rescan(present)) tracker_.failed(present.root_numbers, "the last rescan failed", WatchClock::now());
  }
  for (size_t i = 0; i < roots_.size(); ++i) {
    Root& root = roots_[i];
    now = WatchClock::now();
    if (root.mode != Mode::Polling || now < root.next_poll) continue;
    Rescan r;
    r.roots = {root.path};
    r.root_numbers = {i};
    r.modified_after_ns = wall_now_ns() - std::chrono::duration_cast<std::chrono::nanoseconds>(options_.quiet).count();
    r.reason = "periodic rescan";
    const bool ok = rescan(r);
    // Files modified within the quiet period (maybe still being written) or a failed run: soon again.
    root.next_poll = WatchClock::now() + (ok && *r.left_out == 0 ? options_.rescan_every : options_.quiet * 2);
  }
}

void Watcher::run(const std::function<bool()>& stop, const std::function<bool(const Rescan&)>& rescan) {
  while (!stop()) step(std::chrono::milliseconds(250), rescan);
}

}  // namespace clap::index
