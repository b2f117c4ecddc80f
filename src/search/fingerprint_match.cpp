#include "search/fingerprint_match.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "core/isa.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace clap::search {

namespace {

int64_t differing_portable(const uint32_t* a, const uint32_t* b, int64_t n) {
  int64_t differing = 0;
  for (int64_t i = 0; i < n; ++i) differing += std::popcount(a[i] ^ b[i]);
  return differing;
}

#if defined(__x86_64__)
// Named with "_isa_": a dispatched kernel (tests/isa/check_baseline.sh allows POPCNT only in those).
// Two items a word: the popcount of the xor of two concatenated items is the sum of theirs.
// memcpy: b is read at any offset from a, so the words are unaligned.
__attribute__((target("popcnt"))) int64_t differing_isa_popcnt(const uint32_t* a, const uint32_t* b, int64_t n) {
  int64_t differing = 0, i = 0;
  for (; i + 2 <= n; i += 2) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    differing += std::popcount(x ^ y);
  }
  for (; i < n; ++i) differing += std::popcount(a[i] ^ b[i]);
  return differing;
}

__attribute__((target("avx512f,avx512vpopcntdq,popcnt"))) int64_t differing_avx512(const uint32_t* a, const uint32_t* b,
                                                                                    int64_t n) {
  __m512i sums = _mm512_setzero_si512();  // eight 64-bit counts
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i x = _mm512_loadu_si512(a + i), y = _mm512_loadu_si512(b + i);
    sums = _mm512_add_epi64(sums, _mm512_popcnt_epi64(_mm512_xor_si512(x, y)));
  }
  // Summed through memory: GCC 12's _mm512_reduce_add_epi64 trips -Wuninitialized in its own header.
  int64_t lanes[8];
  _mm512_storeu_si512(lanes, sums);
  int64_t differing = 0;
  for (const int64_t lane : lanes) differing += lane;
  for (; i < n; ++i) differing += std::popcount(a[i] ^ b[i]);
  return differing;
}
#endif

}  // namespace

const char* popcount_kernel_name(PopcountKernel kernel) {
  switch (kernel) {
    case PopcountKernel::Popcnt: return "popcnt";
    case PopcountKernel::Avx512: return "avx512";
    case PopcountKernel::Portable: break;
  }
  return "portable";
}

bool popcount_kernel_available(PopcountKernel kernel) {
#if defined(__x86_64__)
  switch (kernel) {
    case PopcountKernel::Portable: return true;
    case PopcountKernel::Popcnt: return __builtin_cpu_supports("popcnt");
    case PopcountKernel::Avx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
  }
  return false;
#else
  return kernel == PopcountKernel::Portable;  // ARM64: std::popcount is the cnt instruction already
#endif
}

PopcountKernel popcount_kernel() {
  static const PopcountKernel chosen = [] {
    const IsaLevel level = isa_level();
    if (level >= IsaLevel::Avx512 && popcount_kernel_available(PopcountKernel::Avx512)) return PopcountKernel::Avx512;
    if (level >= IsaLevel::Avx2 && popcount_kernel_available(PopcountKernel::Popcnt)) return PopcountKernel::Popcnt;
    return PopcountKernel::Portable;
  }();
  return chosen;
}

int64_t differing_bits(const uint32_t* a, const uint32_t* b, int64_t n, PopcountKernel kernel) {
#if defined(__x86_64__)
  switch (kernel) {
    case PopcountKernel::Avx512: return differing_avx512(a, b, n);
    case PopcountKernel::Popcnt: return differing_isa_popcnt(a, b, n);
    case PopcountKernel::Portable: break;
  }
#else
  (void)kernel;
#endif
  return differing_portable(a, b, n);
}

namespace {
double variation(const std::vector<uint32_t>& items, PopcountKernel kernel) {
  if (items.size() <= static_cast<size_t>(kVariationLagItems)) return 0;
  const auto n = static_cast<int64_t>(items.size()) - kVariationLagItems;
  return static_cast<double>(differing_bits(items.data(), items.data() + kVariationLagItems, n, kernel)) /
         (32.0 * static_cast<double>(n));
}
}  // namespace

double fingerprint_variation(const std::vector<uint32_t>& items) { return variation(items, popcount_kernel()); }

FingerprintMatch match_fingerprints(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b, double min_overlap) {
  return match_fingerprints(a, b, min_overlap, popcount_kernel());
}

FingerprintMatch match_fingerprints(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b, double min_overlap,
                                    PopcountKernel kernel) {
  FingerprintMatch best;
  int64_t best_k = 0;
  const auto na = static_cast<int64_t>(a.size()), nb = static_cast<int64_t>(b.size());
  const int64_t shorter = std::min(na, nb);
  const int64_t needed =
      std::max<int64_t>(kMinOverlapItems, static_cast<int64_t>(std::ceil(min_overlap * static_cast<double>(shorter) - 1e-9)));
  if (shorter < needed) return best;
  if (variation(a, kernel) < kMinVariation || variation(b, kernel) < kMinVariation) return best;
  // Offset k: item i of a against item i + k of b.
  for (int64_t k = -(na - needed); k <= nb - needed; ++k) {
    const int64_t first = std::max<int64_t>(0, -k), last = std::min(na, nb - k);  // i in [first, last)
    const int64_t overlap = last - first;
    if (overlap < needed) continue;
    const int64_t differing = differing_bits(a.data() + first, b.data() + first + k, overlap, kernel);
    const double rate = static_cast<double>(differing) / (32.0 * static_cast<double>(overlap));
    // Ties go to the longer overlap, then to the offset nearer zero: the result does not depend
    // on the scan order.
    const bool better =
        !best.measurable || rate < best.bit_error_rate ||
        (rate == best.bit_error_rate && (overlap > best.overlap || (overlap == best.overlap && std::abs(k) < std::abs(best_k))));
    if (better) {
      best_k = k;
      best.measurable = true;
      best.bit_error_rate = rate;
      best.offset_items = static_cast<int>(k);
      best.overlap = static_cast<int>(overlap);
    }
  }
  return best;
}

}  // namespace clap::search
