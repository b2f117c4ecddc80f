// 8-bit track embeddings: the bound holds for every pair, and similar through them gives
// search::similar's hits bit for bit while reading few float32 rows.
#include "search/quantized_tracks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "core/isa.h"
#include "core/vector_math.h"
#include "search/first_pass_kernels.h"
#include "search/similar.h"

namespace clap::search {
namespace {

// n unit rows of dimension d around `clusters` centres; every 7th row a near-copy of the one
// before it (1e-4 apart: the 8 bits cannot tell them apart), every 11th an exact copy under
// another id, row 5 zero.
Embeddings library(int64_t n, int d, int clusters, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<std::vector<float>> centres(static_cast<size_t>(clusters), std::vector<float>(static_cast<size_t>(d)));
  for (auto& c : centres)
    for (auto& v : c) v = g(rng);
  Embeddings e;
  e.dim = d;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> x(static_cast<size_t>(d));
    if (i > 0 && i % 11 == 0) {
      x.assign(e.row(i - 1), e.row(i - 1) + d);
    } else if (i > 0 && i % 7 == 0) {
      for (int j = 0; j < d; ++j) x[j] = e.row(i - 1)[j] + 1e-4f * g(rng);
      l2_normalize_rows(x.data(), 1, d);
    } else if (i != 5) {
      const auto& c = centres[static_cast<size_t>(i % clusters)];
      for (int j = 0; j < d; ++j) x[j] = c[j] + 0.5f * g(rng);
      if (i % 13 == 0) x[static_cast<size_t>(i % d)] *= 40;  // one large component: a coarse scale
      l2_normalize_rows(x.data(), 1, d);
    }
    e.ids.push_back(3 * i + 10);
    e.data.insert(e.data.end(), x.begin(), x.end());
  }
  return e;
}

QuantizedTracks quantize(const Embeddings& e) {
  QuantizedTracks q(e.dim);
  q.append(e);
  return q;
}

// What a store gives: the rows of `e` with those ids (ids ascending), counting them.
TrackFetch fetch_from(const Embeddings& e) {
  return [&e](const std::vector<int64_t>& ids) {
    Embeddings out;
    out.dim = e.dim;
    for (int64_t id : ids) {
      const int64_t i = e.find(id);
      if (i < 0) continue;
      out.ids.push_back(id);
      out.data.insert(out.data.end(), e.row(i), e.row(i) + e.dim);
    }
    return out;
  };
}

void expect_same_hits(const std::vector<Hit>& got, const std::vector<Hit>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id) << what << " rank " << i;
    EXPECT_EQ(std::memcmp(&got[i].score, &want[i].score, sizeof(double)), 0) << what << " rank " << i;
  }
}

TEST(QuantizedTracks, BoundHoldsForEveryPairAndIsTight) {
  const Embeddings e = library(1500, 512, 20, 1);
  const QuantizedTracks q = quantize(e);
  ASSERT_EQ(q.size(), e.size());
  EXPECT_LT(q.memory_bytes(), e.size() * (512 + 40));
  std::mt19937 rng(2);
  std::normal_distribution<float> g(0.0f, 1.0f);
  double worst_ratio = 0, mean_bound = 0;
  int64_t pairs = 0;
  for (int t = 0; t < 40; ++t) {
    std::vector<float> query(512);
    if (t % 2 == 0) {
      query.assign(e.row(t * 31), e.row(t * 31) + 512);  // a track as query
    } else {
      for (auto& v : query) v = g(rng);
      if (t % 4 == 1) l2_normalize_rows(query.data(), 1, 512);  // else any length
    }
    const double q_norm = std::sqrt(static_cast<double>(dot(query.data(), query.data(), 512)));
    std::vector<float> approx(static_cast<size_t>(q.size()));
    q.dots(query.data(), approx.data());
    for (int64_t i = 0; i < e.size(); ++i) {
      const double exact = dot(query.data(), e.row(i), 512);
      const double b = q.error_bound(i, q_norm);
      ASSERT_LE(std::fabs(exact - approx[i]), b) << "query " << t << " row " << i;
      worst_ratio = std::max(worst_ratio, std::fabs(exact - approx[i]) / std::max(b, 1e-30));
      mean_bound += b / q_norm;
      ++pairs;
    }
  }
  mean_bound /= static_cast<double>(pairs);
  // Useful, not vacuous: about |residual| of a 512-d unit vector in 8 bits (~0.01).
  EXPECT_LT(mean_bound, 0.02);
  EXPECT_GT(worst_ratio, 0.05);  // the bound is reached to within a small factor
}

// The first pass's scores are exact integer sums scaled once: every kernel this CPU runs
// (vpdpbusd of AVX-512 VNNI and AVX-VNNI, vpmaddwd of AVX-512BW and AVX2, plain C++) gives the
// same bits, for dimensions with and without a tail and queries of any length and scale, and the
// bound holds for them.
TEST(QuantizedTracks, EveryKernelGivesTheSameBits) {
  const std::vector<FirstPassKernel> kernels = first_pass_kernels_here();
  std::string names;
  for (FirstPassKernel k : kernels) names += std::string(" ") + first_pass_kernel_name(k);
  RecordProperty("kernels", names);
  std::mt19937 rng(9);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int d : {512, 100, 37, 64, 1}) {
    const Embeddings e = library(300, d, 7, 10 + static_cast<uint32_t>(d));
    const QuantizedTracks q = quantize(e);
    for (int t = 0; t < 6; ++t) {
      std::vector<float> query(static_cast<size_t>(d));
      for (auto& v : query) v = g(rng) * (t == 1 ? 1e-15f : t == 2 ? 1e15f : 1.0f);  // q·q stays a normal float
      if (t == 3) query.assign(e.row(t), e.row(t) + d);
      if (t == 4) std::fill(query.begin(), query.end(), 0.0f);
      if (t == 5) query[static_cast<size_t>(d / 2)] = 40000.0f;  // one component far above the rest
      std::vector<float> want(static_cast<size_t>(q.size()));
      force_first_pass_kernel(FirstPassKernel::Portable);
      q.dots(query.data(), want.data());
      for (FirstPassKernel k : kernels) {
        std::vector<float> got(want.size(), -1.0f);
        force_first_pass_kernel(k);
        q.dots(query.data(), got.data());
        EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
            << first_pass_kernel_name(k) << ", dimension " << d << ", query " << t;
      }
      force_first_pass_kernel(std::nullopt);
      const double q_norm = std::sqrt(static_cast<double>(dot(query.data(), query.data(), d)));
      for (int64_t i = 0; i < e.size(); ++i)
        ASSERT_LE(std::fabs(double(dot(query.data(), e.row(i), d)) - want[i]), q.error_bound(i, q_norm))
            << "dimension " << d << ", query " << t << ", row " << i;
    }
  }
  if (isa_level() == IsaLevel::Avx512) {
    EXPECT_GE(kernels.size(), 3u) << names;  // portable, avx2 and an AVX-512 one
  }
}

TEST(QuantizedTracks, SimilarGivesTheExactHitsReadingFewRows) {
  const Embeddings e = library(3000, 64, 30, 3);
  const QuantizedTracks q = quantize(e);
  const TrackFetch fetch = fetch_from(e);
  std::mt19937 rng(4);
  std::normal_distribution<float> g(0.0f, 1.0f);
  int64_t fetched_total = 0, queries = 0;
  for (int t = 0; t < 60; ++t) {
    std::vector<float> query(64);
    int64_t exclude = -1;
    if (t % 3 != 0) {
      const int64_t row = (t * 97) % e.size();
      query.assign(e.row(row), e.row(row) + 64);
      exclude = e.ids[row];
    } else {
      for (auto& v : query) v = g(rng);
    }
    for (int64_t k : {int64_t{1}, int64_t{5}, int64_t{10}, int64_t{0}, e.size() + 5}) {
      int64_t fetched = 0;
      const auto got = similar_quantized(q, query.data(), exclude, k, fetch, &fetched);
      const auto want = similar(e, 1, query.data(), &exclude, k)[0];
      expect_same_hits(got, want, "query " + std::to_string(t) + " k " + std::to_string(k));
      if (k == 10) {
        fetched_total += fetched;
        ++queries;
      }
    }
  }
  // At k = 10 a query reads a few dozen of the 3,000 rows, not all of them.
  EXPECT_LT(fetched_total / queries, 300);
}

TEST(QuantizedTracks, RowsTheStoreNoLongerHasAreLeftOut) {
  const Embeddings e = library(400, 32, 4, 5);
  const QuantizedTracks q = quantize(e);
  Embeddings kept;  // every other row, as if half the tracks were removed since
  kept.dim = e.dim;
  for (int64_t i = 0; i < e.size(); i += 2) {
    kept.ids.push_back(e.ids[i]);
    kept.data.insert(kept.data.end(), e.row(i), e.row(i) + e.dim);
  }
  const std::vector<float> query(e.row(3), e.row(3) + 32);
  const auto got = similar_quantized(q, query.data(), -1, 0, fetch_from(kept));
  expect_same_hits(got, similar(kept, 1, query.data(), nullptr, 0)[0], "all of the kept rows");
}

TEST(QuantizedTracks, NonFiniteRowsGiveWhatSimilarGives) {
  Embeddings e = library(200, 32, 4, 7);
  e.data[3 * 32] = std::nanf("");
  e.data[4 * 32 + 1] = INFINITY;
  const QuantizedTracks q = quantize(e);
  for (int64_t row : {int64_t{0}, int64_t{3}, int64_t{4}, int64_t{50}}) {
    const std::vector<float> query(e.row(row), e.row(row) + 32);
    for (int64_t k : {int64_t{5}, int64_t{0}}) {
      expect_same_hits(similar_quantized(q, query.data(), e.ids[row], k, fetch_from(e)),
                       similar(e, 1, query.data(), &e.ids[row], k)[0],
                       "row " + std::to_string(row) + " k " + std::to_string(k));
    }
  }
}

TEST(QuantizedTracks, MergeEqualsBuildingAgain) {
  const Embeddings e = library(500, 48, 5, 6);
  Embeddings first, later;  // the first 400 rows; then rows 100-149 changed and 400-499 added
  first.dim = later.dim = e.dim;
  for (int64_t i = 0; i < e.size(); ++i) {
    if (i < 400) first.ids.push_back(e.ids[i]), first.data.insert(first.data.end(), e.row(i), e.row(i) + e.dim);
    if ((i >= 100 && i < 150) || i >= 400)
      later.ids.push_back(e.ids[i]), later.data.insert(later.data.end(), e.row(i), e.row(i) + e.dim);
  }
  Embeddings gone = first;  // rows 100-149 first held as other vectors
  for (int64_t i = 100; i < 150; ++i)
    for (int j = 0; j < e.dim; ++j) gone.data[static_cast<size_t>(i * e.dim + j)] = e.row(i + 200)[j];
  const auto changed = [&](int64_t id) { return id < e.ids[100] || id > e.ids[149]; };
  const QuantizedTracks merged = QuantizedTracks::merge(quantize(gone), changed, later);
  const QuantizedTracks built = quantize(e);
  ASSERT_EQ(merged.ids(), built.ids());
  const std::vector<float> query(e.row(120), e.row(120) + e.dim);
  std::vector<float> a(static_cast<size_t>(e.size())), b(a.size());
  merged.dots(query.data(), a.data());
  built.dots(query.data(), b.data());
  EXPECT_EQ(a, b);
  for (int64_t i = 0; i < e.size(); ++i) {
    EXPECT_EQ(merged.norm(i), built.norm(i));
    EXPECT_EQ(merged.error_bound(i, 1.0), built.error_bound(i, 1.0));
  }
  // A changed track kept and added again, or added out of order, is refused.
  EXPECT_THROW(QuantizedTracks::merge(quantize(first), [](int64_t) { return true; }, later), Error);
  QuantizedTracks q = quantize(later);
  EXPECT_THROW(q.append(first), Error);
}

}  // namespace
}  // namespace clap::search
