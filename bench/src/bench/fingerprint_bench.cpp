#include "bench/fingerprint_bench.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "core/error.h"
#include "search/fingerprint_match.h"

namespace clap {

FingerprintBenchReport bench_fingerprints(int pairs, int repeat) {
  if (pairs < 1 || repeat < 1) throw InvalidArgument("bench --fingerprints: pairs and repeats must be at least 1");
  constexpr int kItems = 1450;  // 3 minutes at audio::fingerprint_item_seconds()
  constexpr int kTrimmed = 16;  // 2 s
  std::mt19937 rng(53);
  std::vector<uint32_t> a(kItems);
  for (uint32_t& x : a) x = rng();
  std::vector<uint32_t> b(a.begin() + kTrimmed, a.end());
  for (uint32_t& x : b)
    if (rng() % 8 == 0) x ^= 1u << (rng() % 32);
  FingerprintBenchReport r;
  r.items = kItems;
  r.pairs = pairs;
  r.repeat = repeat;
  r.chosen = search::popcount_kernel_name(search::popcount_kernel());
  const search::FingerprintMatch want = search::match_fingerprints(a, b, 0.5, search::PopcountKernel::Portable);
  for (const search::PopcountKernel k :
       {search::PopcountKernel::Portable, search::PopcountKernel::Popcnt, search::PopcountKernel::Avx512}) {
    if (!search::popcount_kernel_available(k)) continue;
    double best = 1e300;
    for (int t = 0; t < repeat; ++t) {
      const auto start = std::chrono::steady_clock::now();
      for (int p = 0; p < pairs; ++p) {
        const search::FingerprintMatch got = search::match_fingerprints(a, b, 0.5, k);
        if (got.bit_error_rate != want.bit_error_rate || got.offset_items != want.offset_items || got.overlap != want.overlap)
          throw Error(std::string("bench --fingerprints: the ") + search::popcount_kernel_name(k) +
                      " kernel's match differs from the portable one's");
      }
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / pairs);
    }
    FingerprintKernelRate rate;
    rate.kernel = search::popcount_kernel_name(k);
    rate.ms_per_pair = best;
    rate.speedup = r.kernels.empty() ? 1.0 : r.kernels.front().ms_per_pair / best;
    r.kernels.push_back(rate);
  }
  return r;
}

}  // namespace clap
