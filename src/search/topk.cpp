#include "search/topk.h"

#include <algorithm>

namespace clap::search {

std::vector<Hit> top_k(const float* scores, const int64_t* ids, int64_t n, int64_t k) {
  std::vector<Hit> hits(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) hits[i] = {ids ? ids[i] : i, scores[i]};
  sort_hits(hits, k);
  return hits;
}

void sort_hits(std::vector<Hit>& hits, int64_t k) {
  auto less = [](const Hit& a, const Hit& b) { return ranks_before(a, b); };
  if (k >= 0 && k < static_cast<int64_t>(hits.size())) {
    std::partial_sort(hits.begin(), hits.begin() + k, hits.end(), less);
    hits.resize(static_cast<size_t>(k));
  } else {
    std::sort(hits.begin(), hits.end(), less);
  }
}

}  // namespace clap::search
