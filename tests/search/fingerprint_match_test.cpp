// The popcount kernels of fingerprint line-up (search/fingerprint_match.h, issue 53): each one the
// CPU has gives the bits a plain bit-by-bit count gives, at every length and alignment (the
// vector kernels' tails included), and match_fingerprints gives the same match with each. The
// kernel chosen follows the kernel set CLAPSEARCH_ISA allows (QuantizedTracks.ExactOnEveryKernelSet
// runs this binary's tests under each).
#include "search/fingerprint_match.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/isa.h"

namespace clap::search {
namespace {

constexpr PopcountKernel kKernels[] = {PopcountKernel::Portable, PopcountKernel::Popcnt, PopcountKernel::Avx512};

int64_t count_by_bits(const uint32_t* a, const uint32_t* b, int64_t n) {
  int64_t differing = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int bit = 0; bit < 32; ++bit) differing += ((a[i] ^ b[i]) >> bit) & 1u;
  return differing;
}

std::vector<uint32_t> random_items(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint32_t> out(n);
  for (uint32_t& x : out) x = rng();
  return out;
}

TEST(FingerprintKernels, EveryKernelCountsTheBitsABitByBitCountDoes) {
  const std::vector<uint32_t> a = random_items(200, 1), b = random_items(200, 2);
  int ran = 0;
  for (const PopcountKernel k : kKernels) {
    if (!popcount_kernel_available(k)) continue;
    ++ran;
    for (int64_t from_a = 0; from_a < 3; ++from_a)
      for (int64_t from_b = 0; from_b < 5; ++from_b)
        for (int64_t n = 0; n + std::max(from_a, from_b) <= 140; ++n)
          ASSERT_EQ(differing_bits(a.data() + from_a, b.data() + from_b, n, k), count_by_bits(a.data() + from_a, b.data() + from_b, n))
              << popcount_kernel_name(k) << " n " << n << " from " << from_a << ", " << from_b;
  }
  EXPECT_GE(ran, 1);
}

// b: a trimmed by 37 items with a few bits flipped (a copy), c: another song (random).
TEST(FingerprintKernels, MatchFingerprintsIsTheSameWithEveryKernel) {
  std::vector<uint32_t> a = random_items(1450, 3), b(a.begin() + 37, a.end() - 11), c = random_items(1300, 4);
  std::mt19937 rng(5);
  for (uint32_t& x : b)
    if (rng() % 4 == 0) x ^= 1u << (rng() % 32);
  for (const auto& [x, y] : std::vector<std::pair<const std::vector<uint32_t>*, const std::vector<uint32_t>*>>{{&a, &b}, {&b, &a}, {&a, &c}}) {
    const FingerprintMatch want = match_fingerprints(*x, *y, 0.5, PopcountKernel::Portable);
    ASSERT_TRUE(want.measurable);
    for (const PopcountKernel k : kKernels) {
      if (!popcount_kernel_available(k)) continue;
      const FingerprintMatch got = match_fingerprints(*x, *y, 0.5, k);
      EXPECT_EQ(got.measurable, want.measurable) << popcount_kernel_name(k);
      EXPECT_EQ(got.bit_error_rate, want.bit_error_rate) << popcount_kernel_name(k);  // bit for bit
      EXPECT_EQ(got.offset_items, want.offset_items) << popcount_kernel_name(k);
      EXPECT_EQ(got.overlap, want.overlap) << popcount_kernel_name(k);
    }
  }
  EXPECT_EQ(match_fingerprints(a, b, 0.5).offset_items, -37);  // the chosen kernel: the copy found where it is
  EXPECT_LT(match_fingerprints(a, b, 0.5).bit_error_rate, 0.01);
}

TEST(FingerprintKernels, TheKernelFollowsTheKernelSet) {
  const PopcountKernel k = popcount_kernel();
  EXPECT_TRUE(popcount_kernel_available(k));
  switch (isa_level()) {
    case IsaLevel::Baseline: EXPECT_EQ(k, PopcountKernel::Portable); break;
    case IsaLevel::Avx2: EXPECT_EQ(k, PopcountKernel::Popcnt); break;
    case IsaLevel::Avx512:
      EXPECT_EQ(k, popcount_kernel_available(PopcountKernel::Avx512) ? PopcountKernel::Avx512 : PopcountKernel::Popcnt);
      break;
  }
}

}  // namespace
}  // namespace clap::search
