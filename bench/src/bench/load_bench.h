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

#include <httplib.h>

#include "model/clap.h"
#include "store/store.h"

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
  // The Subsonic API (/rest/) instead of the text and audio queries (subsonic_bench.cpp): album
  // lists, tag search, a phone's sync, artists, sonic similarity, a stream's first byte, a cached
  // cover. The synthetic tracks get albums (12 tracks each) and a user; a few real WAV files with
  // a cover beside them are indexed too, so that streams and covers read real files.
  bool subsonic = false;
  // With subsonic: the bench user's history, this many plays of the synthetic tracks (every answer
  // listing songs shows the user's play counts: issue 54's user marks at 100,000 plays).
  int64_t plays = 0;
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

// Internal to the load benchmarks. A mono 16-bit PCM WAV file's bytes:
std::string mono_wav(const std::vector<int16_t>& samples, int rate);
// `clients` connections send requests made by `request(client, client_number, i)` for
// `seconds`; a non-200 answer counts as an error.
LoadLevel drive_load(const std::string& kind, int port, int clients, double seconds,
                     const std::function<httplib::Result(httplib::Client&, int, int64_t)>& request);
// The same with a request that says itself whether it succeeded (a stream stopped at its first bytes).
LoadLevel drive_load_until(const std::string& kind, int port, int clients, double seconds,
                           const std::function<bool(httplib::Client&, int, int64_t)>& request);
// subsonic_bench.cpp: adds the real files and the user to the synthetic index at `db` (before the
// server starts), then times the /rest/ levels against the server at `port`.
void add_subsonic_library(const std::string& db, const std::string& dir, const store::ModelIdentity& identity,
                          int64_t plays = 0);
void run_subsonic_levels(int port, int64_t tracks, const LoadBenchOptions& o, LoadBenchReport& report);

}  // namespace clap::server
