#include "search/fingerprint_match.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace clap::search {

double fingerprint_variation(const std::vector<uint32_t>& items) {
  if (items.size() <= static_cast<size_t>(kVariationLagItems)) return 0;
  int64_t differing = 0;
  const size_t n = items.size() - kVariationLagItems;
  for (size_t i = 0; i < n; ++i) differing += std::popcount(items[i] ^ items[i + kVariationLagItems]);
  return static_cast<double>(differing) / (32.0 * static_cast<double>(n));
}

FingerprintMatch match_fingerprints(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b, double min_overlap) {
  FingerprintMatch best;
  int64_t best_k = 0;
  const auto na = static_cast<int64_t>(a.size()), nb = static_cast<int64_t>(b.size());
  const int64_t shorter = std::min(na, nb);
  const int64_t needed =
      std::max<int64_t>(kMinOverlapItems, static_cast<int64_t>(std::ceil(min_overlap * static_cast<double>(shorter) - 1e-9)));
  if (shorter < needed) return best;
  if (fingerprint_variation(a) < kMinVariation || fingerprint_variation(b) < kMinVariation) return best;
  // Offset k: item i of a against item i + k of b.
  for (int64_t k = -(na - needed); k <= nb - needed; ++k) {
    const int64_t first = std::max<int64_t>(0, -k), last = std::min(na, nb - k);  // i in [first, last)
    const int64_t overlap = last - first;
    if (overlap < needed) continue;
    int64_t differing = 0;
    for (int64_t i = first; i < last; ++i) differing += std::popcount(a[i] ^ b[i + k]);
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
