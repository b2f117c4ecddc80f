#include "search/topk.h"

#include <algorithm>

namespace clap::search {

std::vector<Hit> top_k(const float* scores, const int64_t* ids, int64_t n, int64_t k) {
  if (k == 0) return {};  // sort_hits(hits, 0) keeps none (BestHits would read 0 as "all")
  BestHits best(k);
  for (int64_t i = 0; i < n; ++i) best.offer(ids ? ids[i] : i, scores[i]);
  return best.take();
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

namespace {
// The heap order: the front is the hit that ranks last (the first to give up its place).
bool ranks_after_in_heap(const Hit& a, const Hit& b) { return ranks_before(a, b); }
}  // namespace

BestHits::BestHits(int64_t k) : k_(k) {
  if (bounded()) heap_.reserve(static_cast<size_t>(std::min<int64_t>(k, int64_t{1} << 20)));
}

void BestHits::offer(int64_t id, double score) {
  if (!bounded()) {
    heap_.push_back({id, score});
    return;
  }
  if (static_cast<int64_t>(heap_.size()) < k_) {
    heap_.push_back({id, score});
    std::push_heap(heap_.begin(), heap_.end(), ranks_after_in_heap);
  } else if (ranks_before(score, id, heap_.front().score, heap_.front().id)) {
    std::pop_heap(heap_.begin(), heap_.end(), ranks_after_in_heap);
    heap_.back() = {id, score};
    std::push_heap(heap_.begin(), heap_.end(), ranks_after_in_heap);
  }
}

std::vector<Hit> BestHits::take() {
  std::vector<Hit> out = std::move(heap_);
  heap_.clear();
  if (bounded()) std::sort_heap(out.begin(), out.end(), ranks_after_in_heap);
  else sort_hits(out);
  return out;
}

}  // namespace clap::search
