// Deterministic ranking: every result list in the library is ordered by score (higher first),
// then by id (smaller first), so equal scores come out in the same order on every run, thread
// count and machine, and the CLI's output is byte-identical for the same index and query.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

namespace clap::search {

struct Hit {
  int64_t id = -1;
  double score = 0;
};

// NaN ranks below everything (it would otherwise break the strict weak order of std::sort).
inline double rank_key(double s) { return std::isnan(s) ? -INFINITY : s; }

// True when (sa, ia) ranks strictly before (sb, ib).
inline bool ranks_before(double sa, int64_t ia, double sb, int64_t ib) {
  const double a = rank_key(sa), b = rank_key(sb);
  return a > b || (a == b && ia < ib);
}
inline bool ranks_before(const Hit& a, const Hit& b) { return ranks_before(a.score, a.id, b.score, b.id); }

// The k best of n scored items in rank order; item i has id ids[i] (or i when ids is null).
std::vector<Hit> top_k(const float* scores, const int64_t* ids, int64_t n, int64_t k);

// Sorts hits into rank order and keeps the first k (k < 0: keep all).
void sort_hits(std::vector<Hit>& hits, int64_t k = -1);

// The k best of the hits offered one at a time, without holding the others: what sort_hits(all,
// k) keeps, in the same order, from O(k) memory and O(n log k) time. ranks_before is a total
// order on (score, id) with distinct ids, so the k best are one set and one order whichever way
// they are found (H19C-3: `duplicates` built and sorted a full list of every track per query to
// keep 2 · neighbours of them). k <= 0 keeps everything (then sorted as sort_hits does).
class BestHits {
 public:
  explicit BestHits(int64_t k);
  // Whether (score, id) would be kept now: it ranks before the worst of k kept (or fewer are kept).
  bool would_keep(double score, int64_t id) const {
    return !bounded() || static_cast<int64_t>(heap_.size()) < k_ || ranks_before(score, id, heap_.front().score, heap_.front().id);
  }
  void offer(int64_t id, double score);
  // The kept hits in rank order; the collector is empty afterwards.
  std::vector<Hit> take();

 private:
  bool bounded() const { return k_ > 0; }
  int64_t k_;
  std::vector<Hit> heap_;  // bounded: a heap whose front is the worst kept; else every hit offered
};

}  // namespace clap::search
