// Helpers for the search tests: hand-made catalogs and seeded random unit vectors.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "search/catalog.h"

namespace clap::search::test {

// Unit vectors whose dot products are exact in float: axes and (±½, ±½, ±½, ±½).
inline std::vector<float> e(int i, int dim = 4) {
  std::vector<float> v(dim, 0.0f);
  v[i] = 1.0f;
  return v;
}
inline std::vector<float> h(float a, float b, float c, float d) { return {0.5f * a, 0.5f * b, 0.5f * c, 0.5f * d}; }
// (s, sqrt(1 - s²), 0, 0): its dot with e(0) is exactly s, so window scores can be chosen freely.
inline std::vector<float> scored(double s) {
  return {static_cast<float>(s), static_cast<float>(std::sqrt(1 - s * s)), 0.0f, 0.0f};
}

struct WindowSpec {
  int64_t window_id, track_id;
  double start, end;
  std::vector<float> embedding;
  bool silent = false;
};

inline WindowTable make_table(const std::vector<WindowSpec>& windows) {
  WindowTable t;
  t.dim = windows.empty() ? 0 : static_cast<int>(windows[0].embedding.size());
  bool any_silent = false;
  for (const auto& w : windows) any_silent |= w.silent;
  for (const auto& w : windows) {
    t.window_ids.push_back(w.window_id);
    t.track_ids.push_back(w.track_id);
    t.starts.push_back(w.start);
    t.ends.push_back(w.end);
    t.embeddings.insert(t.embeddings.end(), w.embedding.begin(), w.embedding.end());
    if (any_silent) t.silent.push_back(w.silent ? 1 : 0);
  }
  return t;
}

inline std::vector<float> random_unit(int64_t n, int dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n) * dim);
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int j = 0; j < dim; ++j) s += double(x[i * dim + j] = g(rng)) * x[i * dim + j];
    for (int j = 0; j < dim; ++j) x[i * dim + j] = static_cast<float>(x[i * dim + j] / std::sqrt(s));
  }
  return x;
}

// A random library: `tracks` tracks (ids 10, 20, ...) of 1..max_windows windows, window ids
// scattered, some windows silent, rows shuffled.
inline WindowTable random_table(int tracks, int max_windows, int dim, uint32_t seed, double silent_rate = 0.1) {
  std::mt19937 rng(seed);
  std::vector<WindowSpec> specs;
  int64_t next = 0;
  for (int t = 0; t < tracks; ++t) {
    const int n = 1 + static_cast<int>(rng() % max_windows);
    for (int w = 0; w < n; ++w) {
      WindowSpec s{(next * 7919) % 100003 + 1, 10 * (t + 1), 5.0 * w, 5.0 * w + 10, {}, false};
      ++next;
      s.silent = std::uniform_real_distribution<double>(0, 1)(rng) < silent_rate;
      specs.push_back(s);
    }
  }
  const auto x = random_unit(static_cast<int64_t>(specs.size()), dim, seed + 1);
  for (size_t i = 0; i < specs.size(); ++i) specs[i].embedding.assign(x.begin() + i * dim, x.begin() + (i + 1) * dim);
  std::shuffle(specs.begin(), specs.end(), rng);
  return make_table(specs);
}

}  // namespace clap::search::test
