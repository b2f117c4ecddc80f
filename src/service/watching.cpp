#include "service/watching.h"

#include <sys/stat.h>

#include <set>
#include <string>
#include <utility>

#include "index/crawl.h"

namespace clap::service {

namespace {

bool root_is_there(const std::string& root) {
  struct stat st {};
  return ::stat(root.c_str(), &st) == 0 && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode));
}

// A watch rescans the same folders for days: a warning about something that stays as it is (a
// symbolic link loop, a FIFO with an audio name) is said once, not at every rescan. Forgotten
// when a rescan of its folder no longer finds it, so it is said again if it comes back.
class WarningsSaid {
 public:
  void filter(index::IndexSummary& s, const std::vector<std::string>& rescanned_roots) {
    std::set<std::pair<std::string, std::string>> now;
    for (const index::CrawlWarning& w : s.warnings) now.insert({w.path, w.reason});
    for (auto it = said_.begin(); it != said_.end();) {
      bool under = false;
      for (const std::string& root : rescanned_roots) under = under || index::path_under(it->first, index::absolute_path(root));
      it = under && !now.count(*it) ? said_.erase(it) : std::next(it);
    }
    std::vector<index::CrawlWarning> fresh;
    for (index::CrawlWarning& w : s.warnings)
      if (said_.insert({w.path, w.reason}).second) fresh.push_back(std::move(w));
    s.warnings = std::move(fresh);
  }

 private:
  std::set<std::pair<std::string, std::string>> said_;
};

}  // namespace

void watch_index(const IndexRequest& request, const index::WatchOptions& options, const WatchCallbacks& callbacks,
                 const std::function<bool()>& stop) {
  index::WatchOptions watch = options;
  watch.crawl.extensions.clear();  // the indexer's audio extensions
  index::Watcher watcher(request.dirs, watch, callbacks.log);
  watcher.start();  // before the first run: nothing changed during it is missed

  // Every run stops between two files when asked to.
  index::IndexCallbacks cb = callbacks.index;
  cb.progress = [&](const index::IndexProgress& p) {
    if (stop()) throw WatchStopped();
    if (callbacks.index.progress) callbacks.index.progress(p);
  };
  LoadedModel model;
  WarningsSaid warnings;
  // A root that is not there yet (a drive mounted later, a network share not up at boot) is left
  // out of the first run: the watcher (which said so) looks for it every second and rescans it
  // when it appears. With none there, the first run is that rescan.
  IndexRequest first_request = request;
  first_request.dirs.clear();
  for (const std::string& d : request.dirs)
    if (root_is_there(d)) first_request.dirs.push_back(d);
  bool first_done = false;
  std::string last_failure;
  if (!first_request.dirs.empty() || request.dirs.empty()) {
    try {
      IndexRun first = run_index(first_request, cb, callbacks.log, &model);
      warnings.filter(first.summary, first_request.dirs);
      first_done = true;
      if (callbacks.finished) callbacks.finished(first, nullptr);
    } catch (const WatchStopped&) {
      throw;
    } catch (const std::exception& e) {
      if (!callbacks.retry_first_run) throw;
      // The first rescan that runs is the first run (reported as such: callbacks.finished).
      last_failure = e.what();
      if (callbacks.log) callbacks.log("first run failed (tried again): " + last_failure);
      watcher.rescan_all("the first run failed");
    }
  }

  watcher.run(stop, [&](const index::Rescan& rescan) {
    IndexRequest run = request;
    run.rebuild = run.rebuild && !first_done;  // done by the first run
    run.quiet = first_done || request.quiet;    // no download progress in the middle of a log
    run.dirs = rescan.roots;
    run.skip = [&rescan](const index::CrawledFile& f) { return rescan.skip(f); };
    try {
      IndexRun done = run_index(run, cb, callbacks.log, &model);
      warnings.filter(done.summary, rescan.roots);
      const bool was_first = !first_done;
      first_done = true;
      last_failure.clear();
      if (callbacks.finished) callbacks.finished(done, was_first ? nullptr : &rescan);
      return true;
    } catch (const WatchStopped&) {
      return true;  // run() sees stop() next
    } catch (const std::exception& e) {
      // Another indexer holds the lock, a folder vanished mid-crawl, the disk is full...: said
      // once per different reason, and tried again after the quiet period.
      const std::string failure = e.what();
      if (failure != last_failure && callbacks.log) callbacks.log("rescan failed (tried again): " + failure);
      last_failure = failure;
      return false;
    }
  });
}

}  // namespace clap::service
