// `clapsearch bench --serve-tracks N`: a load test of the server over loopback.
//
// Builds a synthetic index of N tracks (clustered random unit windows, recorded as made by the
// given model, so text queries run the real text tower), serves it in this process, and drives
// it with C concurrent HTTP clients (cpp-httplib, one connection each) for a fixed time per
// level: text searches with cached texts (no model run) and with texts never seen (one text
// tower run each), then query by example of a 30 s clip. Reports p50/p99 latency and requests
// per second per level, and the process's peak memory.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/clap.h"

namespace clap::server {

struct LoadBenchOptions {
  std::string model;               // folder or hub id (text queries embed with it)
  int64_t tracks = 10000;
  int windows_per_track = 24;      // 2-minute tracks at 10 s windows every 5 s
  double seconds = 5;              // per level
  std::vector<int> clients = {1, 4, 16};
  int threads = 0;                 // model threads
  Precision text_precision = Precision::F32;  // of the server's text tower
  std::string window_index = "auto";          // how the server searches windows (auto, memory, compressed)
  std::string work_dir;            // where the synthetic index goes; empty = a temporary folder
  std::string where;               // also time the cached texts under this filter (tracks have year 1926 + t % 100)
  std::function<void(const std::string&)> progress;
};

struct LoadLevel {
  std::string kind;  // "text, cached", "text, uncached", "like 30 s clip"
  int clients = 0;
  int64_t requests = 0, errors = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0, per_second = 0;
};

struct LoadBenchReport {
  int64_t tracks = 0, windows = 0;
  double make_index_s = 0, server_start_s = 0;
  std::vector<LoadLevel> levels;
  double peak_rss_mb = 0;
};

LoadBenchReport run_load_bench(const LoadBenchOptions& options);

}  // namespace clap::server
