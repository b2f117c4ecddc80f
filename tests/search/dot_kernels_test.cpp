// The AVX2 and AVX-512 scan kernels (search/dot_kernels.h) against clap::dot, bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/isa.h"
#include "core/vector_math.h"
#include "search/dot_kernels.h"
#include "search/kernels.h"

namespace clap::search {
namespace {

constexpr DotKernel kKernels[] = {DotKernel::Portable, DotKernel::Avx2, DotKernel::Avx512};

// Floats that make a wrong order or a fused multiply-add show: mixed magnitudes (products that
// cancel), denormals (and products that underflow to them), values near FLT_MAX (sums that
// overflow to infinity), exact zeros of both signs. `kind` picks the mix.
std::vector<float> adversarial(size_t n, int kind, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) {
    const uint32_t pick = rng() % 8;
    switch (kind) {
      case 0: x = unit(rng); break;
      case 1: x = unit(rng) * std::ldexp(1.0f, static_cast<int>(rng() % 60) - 30); break;  // 2^-30 .. 2^30
      case 2: x = pick < 4 ? unit(rng) * std::numeric_limits<float>::denorm_min() * static_cast<float>(rng() % 1000)
                           : unit(rng) * 1e-19f;  // products near and below FLT_MIN
        break;
      case 3: x = pick < 2 ? unit(rng) * 3e38f : (pick < 4 ? unit(rng) * 1e19f : unit(rng)); break;  // overflow
      default: x = pick == 0 ? 0.0f : (pick == 1 ? -0.0f : unit(rng) * (1.0f + std::ldexp(1.0f, -23))); break;
    }
  }
  return v;
}

// Every available kernel gives clap::dot's float for every query and row (one row, or two
// side by side as score_rows passes them), compared as bytes.
void expect_same_bits(const std::vector<float>& queries, const std::vector<float>& rows, int64_t nq, int64_t d,
                      const std::string& what) {
  const int nrows = static_cast<int>(rows.size() / static_cast<size_t>(d));
  const float* row_at[2] = {rows.data(), rows.data() + (nrows > 1 ? d : 0)};
  for (const DotKernel k : kKernels) {
    if (!dot_kernel_available(k)) continue;
    std::vector<float> got(static_cast<size_t>(nq * 3), 7.0f);
    dots_with_rows(k, nq, queries.data(), row_at, nrows, d, got.data(), 3);  // stride 3: a gap after the rows
    for (int64_t q = 0; q < nq; ++q)
      for (int r = 0; r < nrows; ++r) {
        const float want = dot(queries.data() + q * d, row_at[r], d);
        ASSERT_EQ(std::memcmp(&got[q * 3 + r], &want, sizeof(float)), 0)
            << dot_kernel_name(k) << " " << what << " d " << d << " query " << q << " of " << nq << " row " << r << ": "
            << got[q * 3 + r] << " vs clap::dot " << want;
      }
    EXPECT_EQ(got[2], 7.0f) << dot_kernel_name(k) << ": wrote past its rows";
  }
}

TEST(DotKernels, EveryKernelGivesClapDotsBits) {
  int ran = 0;
  for (const DotKernel k : kKernels) ran += dot_kernel_available(k);
  EXPECT_GE(ran, 1);
  // d below 16 (tail only), not a multiple of 16, the model's 512; 1-9 queries (groups of 4 and
  // the rest); one row and two.
  for (const int64_t d : {1, 5, 15, 16, 17, 31, 33, 100, 511, 512, 513})
    for (int kind = 0; kind < 5; ++kind)
      for (const int64_t nq : {1, 3, 4, 5, 9})
        for (const int64_t nrows : {1, 2}) {
          const auto seed = static_cast<uint32_t>(d * 100 + kind * 10 + nq + 1000000 * nrows);
          expect_same_bits(adversarial(static_cast<size_t>(nq * d), kind, seed),
                           adversarial(static_cast<size_t>(nrows * d), kind, seed + 1), nq, d, "kind " + std::to_string(kind));
        }
}

TEST(DotKernels, InfinitiesAndNanComeOutAsClapDotsDo) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (const int64_t d : {7, 16, 40}) {
    std::vector<float> row = adversarial(static_cast<size_t>(2 * d), 0, 11), queries = adversarial(static_cast<size_t>(4 * d), 0, 12);
    queries[0] = inf;           // query 0: +inf in lane 0
    queries[d + 1] = inf;       // query 1: +inf and -inf (inf - inf: NaN)
    queries[d + d - 1] = -inf;
    queries[2 * d + 2] = nan;   // query 2: a NaN
    expect_same_bits(queries, row, 4, d, "inf/nan");
  }
}

// score_rows (each CLAPSEARCH_ISA level runs it in tests/CMakeLists.txt) gives clap::dot for
// each pair, in parallel (above the OpenMP threshold) as on one thread.
TEST(DotKernels, ScoreRowsIsClapDotPerPairAtAnySize) {
  const int64_t d = 512, nq = 7;
  for (const int64_t n : {int64_t{3}, int64_t{40000}}) {  // 40000 · 7 · 512 multiply-adds: a team
    const std::vector<float> queries = adversarial(static_cast<size_t>(nq * d), 1, 21),
                             base = adversarial(static_cast<size_t>(n * d), 1, 22);
    std::vector<float> got(static_cast<size_t>(nq * n));
    score_rows(nq, queries.data(), base.data(), nullptr, n, d, got.data());
    for (int64_t q = 0; q < nq; ++q)
      for (int64_t j = 0; j < n; ++j) {
        const float want = dot(queries.data() + q * d, base.data() + j * d, d);
        ASSERT_EQ(std::memcmp(&got[q * n + j], &want, sizeof(float)), 0) << "n " << n << " query " << q << " row " << j;
      }
  }
}

TEST(DotKernels, TheKernelFollowsTheKernelSet) {
  const DotKernel k = dot_kernel();
  EXPECT_TRUE(dot_kernel_available(k));
  switch (isa_level()) {
    case IsaLevel::Baseline: EXPECT_EQ(k, DotKernel::Portable); break;
    case IsaLevel::Avx2: EXPECT_EQ(k, DotKernel::Avx2); break;
    case IsaLevel::Avx512: EXPECT_EQ(k, DotKernel::Avx512); break;
  }
}

}  // namespace
}  // namespace clap::search
