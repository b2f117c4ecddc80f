#include "service/watching.h"

#include <string>

namespace clap::service {

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
  const IndexRun first = run_index(request, cb, callbacks.log, &model);
  if (callbacks.finished) callbacks.finished(first, nullptr);

  IndexRequest again = request;
  again.rebuild = false;  // done by the first run
  again.quiet = true;     // no download progress in the middle of a log
  std::string last_failure;
  watcher.run(stop, [&](const index::Rescan& rescan) {
    IndexRequest run = again;
    run.dirs = rescan.roots;
    run.skip = [&rescan](const index::CrawledFile& f) { return rescan.skip(f); };
    try {
      const IndexRun done = run_index(run, cb, callbacks.log, &model);
      last_failure.clear();
      if (callbacks.finished) callbacks.finished(done, &rescan);
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
