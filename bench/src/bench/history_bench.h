// The listening-history import at scale (issue 55: 1,000,000 ListenBrainz listens in 60 s or
// less): a synthetic library of N tracks and a synthetic ListenBrainz export of M listens, read
// and imported as `clapsearch history import` does, then imported again (which must add nothing).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace clap::bench {

struct HistoryBenchOptions {
  int64_t listens = 1000000;
  int64_t tracks = 100000;
  std::string keep;  // a folder to keep the index and the export in ("" = a temporary one, removed)
  std::function<void(const std::string&)> progress;
};

struct HistoryBenchReport {
  int64_t listens = 0, tracks = 0, export_bytes = 0;
  double read_s = 0;      // reading and parsing the export alone (its listens dropped as they come)
  double import_s = 0;    // the first import as the command runs it: read, resolve, write (streamed)
  double reimport_s = 0;  // the whole second import (read, resolve, find every play kept)
  double read_cpu_s = 0, import_cpu_s = 0;  // CPU time (user + system, every thread) of the two phases
  int64_t imported = 0, already = 0, unresolved = 0, reimported = 0;
  double peak_rss_mb = 0;
};

HistoryBenchReport run_history_bench(const HistoryBenchOptions& options);

}  // namespace clap::bench
