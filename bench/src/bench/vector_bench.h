// Vector index benchmark on synthetic data: build time, single-query latency (one query at a
// time, as an interactive user issues them) and recall of the approximate indexes against the
// exact one. Index search only; a text query adds the text tower's time on top.
//
// Data: a two-level Gaussian mixture shaped like a music library, all vectors unit length.
//   `clusters` style centres c (random unit vectors);
//   tracks:  t = normalise(c + σ_t·g) around a random style,
//   windows: w = normalise(t + σ_w·g), `windows_per_track` consecutive rows per track,
// with g ~ N(0, I/dim) so ‖noise‖ ≈ σ. Defaults (σ_t = 1.0, σ_w = 0.6) give cosines of about
// 0.74 between windows of one track, 0.37 between tracks of one style and 0 ± 0.04 across
// styles. Uniform random vectors would make neighbour lists meaningless in 512-d; one level of
// clusters alone is too easy for IVF (its lists become the clusters: recall 1.0 at nprobe 4,
// measured). Queries are windows of fresh tracks (not in the data) in random styles, so their
// neighbours are windows of other tracks of that style, as for a query by example.
// Everything is seeded: the same arguments give the same vectors.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "search/vector_index.h"

namespace clap::search {

struct SyntheticData {
  int clusters = 1000;         // styles
  int windows_per_track = 30;
  double track_noise = 1.0;    // σ_t
  double window_noise = 0.6;   // σ_w
  uint64_t seed = 42;
};

struct VectorBenchOptions {
  SyntheticData data;
  bool exact = true;   // also time the exact index (ground truth is computed either way)
  std::vector<IndexKind> approximate = {IndexKind::Ivf, IndexKind::Hnsw};
  HnswParams hnsw;
  IvfParams ivf;
  SearchParams search;               // nprobe / efSearch of the first timed row of each kind
  bool deterministic_build = true;   // as VectorIndexOptions
  std::vector<int> ef_search_sweep;  // extra efSearch values timed on the same HNSW index
  std::vector<int> nprobe_sweep;     // extra nprobe values timed on the same IVF index
  int warmup_queries = 5;
};

struct IndexBenchResult {
  std::string kind;     // "exact", "ivf", "hnsw"
  std::string params;   // build key + search parameter
  double build_ms = 0;  // 0 for the extra rows of a sweep (same index)
  double mean_ms = 0, p50_ms = 0, p99_ms = 0;  // per single query
  double recall = 1;    // mean over queries of |top-k ∩ exact top-k| / k
};

struct SearchBenchResult {
  int64_t n_vectors = 0, n_queries = 0, k = 0;
  int dim = 0;
  int threads = 0;             // OpenMP threads available to FAISS
  double generate_ms = 0;      // synthetic data
  double ground_truth_ms = 0;  // exact batch search for all queries
  std::vector<IndexBenchResult> indexes;
};

// Synthetic data of n_vectors × dim (options.data) and n_queries fresh queries.
SearchBenchResult run_vector_bench(int64_t n_vectors, int dim, int64_t n_queries, int64_t k,
                                   const VectorBenchOptions& options = {});

// The same measurements on given vectors and queries (n_queries × vectors.dim), e.g. a real
// library's window embeddings from the store with text embeddings or held-out windows as
// queries: recall on real data is the number that decides nprobe / efSearch for a library.
// options.data is unused here.
SearchBenchResult run_index_bench(const Embeddings& vectors, int64_t n_queries, const float* queries, int64_t k,
                                  const VectorBenchOptions& options = {});

// The p-quantile (0..1) of latencies: the smallest value with at least p of them at or below it.
double percentile(std::vector<double> values, double p);

// The synthetic data itself (n × dim, row-major, unit rows), for tests and other benchmarks.
// stream 0 = the library, stream 1 = queries (one window from each of n fresh tracks). Row i
// depends only on (data, stream, i): any prefix of a larger set is the smaller set.
std::vector<float> synthetic_embeddings(int64_t n, int dim, const SyntheticData& data, uint64_t stream = 0);
// Rows [first, first + n) of the same data, without making the rows before them (a library too
// large for memory is generated a batch at a time).
std::vector<float> synthetic_embeddings_range(int64_t first, int64_t n, int dim, const SyntheticData& data,
                                              uint64_t stream = 0);

}  // namespace clap::search
