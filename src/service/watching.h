// `clapsearch index --watch` and `serve --watch`: one normal index run, then the index kept
// current by a watcher (index/watcher.h) whose rescans are incremental index runs
// (service/indexing.h) of the roots that changed, each under the one-indexer-at-a-time lock
// (taken per rescan, so a manual `clapsearch index` may run in between), with the model loaded
// once and kept. The index's own model and settings are used (those of `request`, resolved
// against the index like any run).
#pragma once
#include <exception>
#include <functional>

#include "index/watcher.h"
#include "service/indexing.h"

namespace clap::service {

// Thrown through an index run when the watch is asked to stop (the run is abandoned between
// two files; every finished file is stored).
struct WatchStopped : std::exception {
  const char* what() const noexcept override { return "stopped"; }
};

struct WatchCallbacks {
  index::IndexCallbacks index;  // for every run
  // After the first run (rescan == nullptr) and after every rescan.
  std::function<void(const IndexRun&, const index::Rescan* rescan)> finished;
  Notice log;  // the watcher's decisions, failed rescans, model warnings
  // A first run that fails is logged and tried again as a rescan is, instead of thrown (serve
  // --watch: a server started while `clapsearch index` or another server's watch was indexing
  // stopped watching for good, H11S-4). `index --watch` throws it: its user is there to read it.
  bool retry_first_run = false;
};

// Runs until `stop` returns true (checked between rescans and between files), then returns.
// Throws what the first index run throws (a model that does not match...; unless
// retry_first_run); later failed rescans are logged and tried again. A folder not there at the start is waited for (looked for
// every second) and indexed when it appears. A warning is said once while its cause stays.
void watch_index(const IndexRequest& request, const index::WatchOptions& options, const WatchCallbacks& callbacks,
                 const std::function<bool()>& stop);

}  // namespace clap::service
