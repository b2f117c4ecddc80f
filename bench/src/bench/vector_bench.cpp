#include "bench/vector_bench.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <numeric>
#include <unordered_set>

#include "core/error.h"

namespace clap::search {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// splitmix64: tiny, fast, and lets every row seed its own stream, so generation can run in
// parallel and still produce the same numbers.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Rng {
  uint64_t s;
  double uniform() { return ((s = mix(s)) >> 11) * 0x1.0p-53; }  // [0, 1)
  // Box-Muller; the second value is dropped to keep the stream simple.
  double normal() {
    double u = uniform();
    while (u <= 0) u = uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(2 * std::numbers::pi * uniform());
  }
};

void normalise(float* x, int d) {
  double s = 0;
  for (int j = 0; j < d; ++j) s += double(x[j]) * x[j];
  const double inv = s > 0 ? 1 / std::sqrt(s) : 0;
  for (int j = 0; j < d; ++j) x[j] = static_cast<float>(x[j] * inv);
}

// Times single queries; returns per-query results for recall.
IndexBenchResult time_queries(const VectorIndex& index, const std::vector<float>& queries, int64_t nq, int64_t k,
                              int warmup, const SearchParams& params, std::vector<int64_t>* ids) {
  const int d = index.dim();
  for (int i = 0; i < warmup && i < nq; ++i) index.search(1, queries.data() + i * d, k, params);
  std::vector<double> ms;
  ids->assign(static_cast<size_t>(nq * k), -1);
  for (int64_t q = 0; q < nq; ++q) {
    auto t = Clock::now();
    const SearchResult r = index.search(1, queries.data() + q * d, k, params);
    ms.push_back(ms_since(t));
    std::copy(r.ids.begin(), r.ids.end(), ids->begin() + q * k);
  }
  IndexBenchResult out;
  out.kind = index_kind_name(index.kind());
  out.mean_ms = std::accumulate(ms.begin(), ms.end(), 0.0) / std::max<size_t>(1, ms.size());
  out.p50_ms = percentile(ms, 0.50);
  out.p99_ms = percentile(ms, 0.99);
  return out;
}

double recall(const std::vector<int64_t>& got, const std::vector<int64_t>& truth, int64_t nq, int64_t k) {
  if (nq == 0 || k == 0) return 1;
  double sum = 0;
  for (int64_t q = 0; q < nq; ++q) {
    std::unordered_set<int64_t> t(truth.begin() + q * k, truth.begin() + (q + 1) * k);
    t.erase(-1);
    int64_t hit = 0;
    for (int64_t j = 0; j < k; ++j) hit += got[q * k + j] >= 0 && t.count(got[q * k + j]);
    sum += t.empty() ? 1.0 : static_cast<double>(hit) / static_cast<double>(t.size());
  }
  return sum / static_cast<double>(nq);
}

}  // namespace

namespace {

// A unit vector around `centre`: normalise(centre + sigma·g), g ~ N(0, I/d).
void perturb(const float* centre, double noise, int d, Rng& rng, float* out) {
  const double sigma = noise / std::sqrt(static_cast<double>(d));
  for (int j = 0; j < d; ++j) out[j] = static_cast<float>(centre[j] + sigma * rng.normal());
  normalise(out, d);
}

}  // namespace

std::vector<float> synthetic_embeddings(int64_t n, int dim, const SyntheticData& p, uint64_t stream) {
  return synthetic_embeddings_range(0, n, dim, p, stream);
}

std::vector<float> synthetic_embeddings_range(int64_t first, int64_t n, int dim, const SyntheticData& p, uint64_t stream) {
  if (dim <= 0 || p.clusters <= 0 || p.windows_per_track <= 0)
    throw Error("bench: dimension, clusters and windows per track must be positive");
  if (first < 0 || n < 0) throw Error("bench: negative row range");
  std::vector<float> styles(static_cast<size_t>(p.clusters) * dim);
  for (int c = 0; c < p.clusters; ++c) {
    Rng rng{mix(p.seed ^ mix(0xC0FFEEULL + static_cast<uint64_t>(c)))};
    for (int j = 0; j < dim; ++j) styles[c * dim + j] = static_cast<float>(rng.normal());
    normalise(styles.data() + c * dim, dim);
  }
  // Queries: every row is a window of its own fresh track.
  const int64_t per_track = stream == 0 ? p.windows_per_track : 1;
  const int64_t first_track = first / per_track;
  const int64_t tracks = n == 0 ? 0 : (first + n - 1) / per_track - first_track + 1;
  std::vector<float> centres(static_cast<size_t>(tracks) * dim);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < tracks; ++i) {
    const int64_t t = first_track + i;
    Rng rng{mix(p.seed ^ mix((stream << 56) ^ (static_cast<uint64_t>(t) << 1) ^ 0x7EA7ULL))};
    const int c = static_cast<int>(rng.uniform() * p.clusters);
    perturb(styles.data() + c * dim, p.track_noise, dim, rng, centres.data() + i * dim);
  }
  std::vector<float> x(static_cast<size_t>(n) * dim);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    const int64_t i = first + r;
    Rng rng{mix(p.seed ^ mix((stream << 56) ^ (static_cast<uint64_t>(i) << 1) ^ 1ULL))};
    perturb(centres.data() + (i / per_track - first_track) * dim, p.window_noise, dim, rng, x.data() + r * dim);
  }
  return x;
}

SearchBenchResult run_vector_bench(int64_t n_vectors, int dim, int64_t n_queries, int64_t k,
                                   const VectorBenchOptions& o) {
  if (n_vectors <= 0 || n_queries <= 0 || k <= 0) throw Error("bench: vectors, queries and k must be positive");
  auto t = Clock::now();
  Embeddings data;
  data.dim = dim;
  data.data = synthetic_embeddings(n_vectors, dim, o.data, 0);
  data.ids.resize(static_cast<size_t>(n_vectors));
  std::iota(data.ids.begin(), data.ids.end(), 0);
  const std::vector<float> queries = synthetic_embeddings(n_queries, dim, o.data, 1);
  const double generate_ms = ms_since(t);
  SearchBenchResult res = run_index_bench(data, n_queries, queries.data(), k, o);
  res.generate_ms = generate_ms;
  return res;
}

SearchBenchResult run_index_bench(const Embeddings& vectors, int64_t n_queries, const float* query_data, int64_t k,
                                  const VectorBenchOptions& o) {
  vectors.check("bench");
  if (vectors.size() <= 0 || n_queries <= 0 || k <= 0) throw Error("bench: vectors, queries and k must be positive");
  const int64_t n_vectors = vectors.size();
  const int dim = vectors.dim;
  const std::vector<float> queries(query_data, query_data + n_queries * dim);
  // Every index reads `vectors` in place (HNSW copies them into FAISS).
  const VectorSource source = VectorSource::borrowing(vectors);
  SearchBenchResult res;
  res.n_vectors = n_vectors;
  res.dim = dim;
  res.n_queries = n_queries;
  res.k = k;
  res.threads = omp_get_max_threads();
  auto t = Clock::now();

  VectorIndexOptions base;
  base.hnsw = o.hnsw;
  base.ivf = o.ivf;
  base.deterministic_build = o.deterministic_build;

  // Exact index: ground truth (one batched search) and, optionally, its single-query timing.
  std::vector<int64_t> truth, got;
  {
    VectorIndexOptions eo = base;
    eo.kind = IndexKind::Exact;
    t = Clock::now();
    VectorIndex exact = VectorIndex::build(source, eo);
    const double build_ms = ms_since(t);
    t = Clock::now();
    truth = exact.search(n_queries, queries.data(), k).ids;
    res.ground_truth_ms = ms_since(t);
    if (o.exact) {
      IndexBenchResult r = time_queries(exact, queries, n_queries, k, o.warmup_queries, SearchParams{}, &got);
      r.params = exact.build_key();
      r.build_ms = build_ms;
      r.recall = recall(got, truth, n_queries, k);
      res.indexes.push_back(r);
    }
  }

  for (IndexKind kind : o.approximate) {
    VectorIndexOptions ao = base;
    ao.kind = kind;
    t = Clock::now();
    VectorIndex index = VectorIndex::build(source, ao);
    const double build_ms = ms_since(t);
    std::vector<int> settings = {kind == IndexKind::Hnsw ? o.search.ef_search : o.search.nprobe};
    for (int s : kind == IndexKind::Hnsw ? o.ef_search_sweep : o.nprobe_sweep)
      if (std::find(settings.begin(), settings.end(), s) == settings.end()) settings.push_back(s);
    for (size_t i = 0; i < settings.size(); ++i) {
      SearchParams params = o.search;
      if (kind == IndexKind::Hnsw) params.ef_search = settings[i];
      if (kind == IndexKind::Ivf) params.nprobe = settings[i];
      IndexBenchResult r = time_queries(index, queries, n_queries, k, o.warmup_queries, params, &got);
      r.params = index.build_key() + (kind == IndexKind::Hnsw ? " ef_search=" : " nprobe=") + std::to_string(settings[i]);
      r.build_ms = i == 0 ? build_ms : 0;
      r.recall = recall(got, truth, n_queries, k);
      res.indexes.push_back(r);
    }
  }
  return res;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::min<double>(v.size() - 1, std::ceil(p * v.size()) - 1));
  return v[i];
}

}  // namespace clap::search
