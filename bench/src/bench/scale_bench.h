// `clapsearch bench --scale TRACKS --db LOCATION`: a search node over a library larger than its
// memory, measured end to end on synthetic embeddings.
//
//  1. Fills an empty store with TRACKS synthetic tracks of `windows_per_track` windows each
//     (bench/vector_bench.h's clustered generator: styles, tracks around a style, windows around a
//     track), in one import transaction, a few hundred tracks at a time. A store that already
//     holds the synthetic library of the same parameters is used as it is (load once, measure
//     often); any other non-empty store is refused: the bench never writes into a real library.
//  2. Builds the compressed window index (search/compressed_index.h) the way a search node does
//     without holding the library: the active window ids, a training sample spread over them
//     read by id, training, then one scan of the store adding every window a batch at a time.
//     The same scan computes the exact top-k of every query (the ground truth).
//  3. Saves the index and loads it back (what a restarted node does instead of re-reading every
//     vector), then times warm single queries - shortlist from the codes, the shortlist's
//     float32 vectors read from the store, exact re-rank - for each (nprobe, shortlist), with recall@k
//     against the exact results.
//  4. With filter_share, times the same queries under a selective filter (see the request).
// Queries are windows of fresh synthetic tracks (as a query by example; a text query's
// embedding costs the text tower on top). Nothing is timed in tests; numbers go in the README.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "search/compressed_index.h"

namespace clap::service {

struct ScaleBenchRequest {
  std::string db;  // SQLite path or postgresql:// URL: empty, or holding this same synthetic library
  int64_t tracks = 1000000;
  int windows_per_track = 20;
  int dim = 512;
  int64_t queries = 200;
  int k = 10;
  std::vector<int> nprobes = {16, 32};
  std::vector<int> shortlists = {200, 500, 1000};  // candidates re-ranked exactly; one row per (nprobe, refine, shortlist)
  std::vector<int> refines = {0, 4000};  // with index.refine_bytes: candidates ranked by both codes first (0 = not)
  search::CompressedIndexOptions index;
  std::string index_path;  // where the index is saved; empty = beside the database / in the cache
  // A filtered query's row (issue 38): every (1 / filter_share)-th track allowed (0 = no row),
  // answered as the query layer answers a selective filter in compressed mode
  // (service/filters.h): the allowed tracks' windows read from the store and ranked exactly.
  double filter_share = 0.01;
  std::function<void(const std::string&)> progress;
};

struct ScaleBenchQueries {
  int nprobe = 0, refine = 0, shortlist = 0;
  double p50_ms = 0, p99_ms = 0, mean_ms = 0;
  double fetch_mean_ms = 0;  // of which reading the shortlist's vectors from the store
  double recall = 0;         // mean |top-k ∩ exact top-k| / k
};

struct ScaleBenchReport {
  std::string store;  // "sqlite" or "postgresql"
  int64_t tracks = 0, windows = 0;
  bool loaded = false;        // the synthetic library was written by this run
  double load_s = 0;          // writing it
  int nlist = 0, code_bytes = 0, refine_bytes = 0, k = 0;
  int64_t train_points = 0;
  double ids_s = 0, sample_s = 0, train_s = 0;
  double scan_add_s = 0;      // reading every window from the store and adding it
  double ground_truth_s = 0;  // of which the exact scores of the queries (not part of a node's build)
  double build_s() const { return ids_s + sample_s + train_s + scan_add_s - ground_truth_s; }
  double save_s = 0, reload_s = 0;
  int64_t index_bytes = 0, file_bytes = 0;
  double rss_mb = 0;       // resident memory after the reload (the searching node)
  double peak_rss_mb = 0;  // of the whole run
  std::vector<ScaleBenchQueries> results;
  // The filtered row (filter_share > 0): text search by the mean over the allowed tracks (exact
  // by construction, recall 1); fetch = reading their windows.
  int64_t filtered_tracks = 0, filtered_windows = 0;
  ScaleBenchQueries filtered;
};

// Throws clap::Error naming the store and the reason.
ScaleBenchReport run_scale_bench(const ScaleBenchRequest& request);

}  // namespace clap::service
