// Track embeddings in 8 bits, for a search node (README: Many machines): a quarter of float32's
// memory (0.5 GB instead of 2 GB at a million tracks), with a bound per row on what the 8 bits
// cost any score, so a search takes every track that could be in the exact answer and scores just
// those exactly, from the float32 embeddings read from the store. Results are the float32 ones,
// bit for bit; only how many tracks are read depends on the 8 bits.
//
// A row x is held as scale·c, c in [-127, 127]^d (scale = max|xⱼ| / 127, rounded to nearest),
// with its length |x| and err ≥ |x − scale·c|; a query q is taken in 24-bit fixed point q̂ (dots).
// By Cauchy–Schwarz |q·x − q̂·x̂| ≤ |q|·err + |q − q̂|·|x̂|; error_bound() adds the roundings.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

#include "core/embeddings.h"
#include "search/topk.h"

namespace clap::search {

class QuantizedTracks {
 public:
  QuantizedTracks() = default;
  explicit QuantizedTracks(int dim) : dim_(dim) {}
  // Rows of `rows` (ids ascending, each above every id already held). Throws clap::Error on a
  // dimension mismatch or ids out of order.
  void append(const Embeddings& rows);
  void reserve(int64_t rows);  // room for this many rows in all (appending pages)
  // The rows of `old` whose id `keep` accepts, merged with `added` (ids ascending), in id order.
  static QuantizedTracks merge(const QuantizedTracks& old, const std::function<bool(int64_t)>& keep,
                               const Embeddings& added);

  int dim() const { return dim_; }
  int64_t size() const { return static_cast<int64_t>(ids_.size()); }
  const std::vector<int64_t>& ids() const { return ids_; }  // ascending
  int64_t find(int64_t id) const;                           // row of `id`, or -1
  int64_t memory_bytes() const;

  // Per row i: approx[i] = scale·(q̂·c), an exact integer sum scaled once: the same bits on every CPU.
  void dots(const float* query, float* approx) const;
  // A bound on |clap::dot(q, x) − approx[i]| for a query of length q_norm (as computed from
  // clap::dot(q, q); the query's 24 bits, rounding of clap::dot, q_norm and the score included).
  double error_bound(int64_t i, double q_norm) const;
  // |x| as search::similar computes it (sqrt of the double of clap::dot(x, x)).
  double norm(int64_t i) const { return norms_[static_cast<size_t>(i)]; }

 private:
  void push_row(int64_t id, const float* x);

  int dim_ = 0;
  std::vector<int64_t> ids_;
  std::vector<int8_t> codes_;  // size × dim
  std::vector<float> scales_;
  std::vector<float> errors_;  // per row: the bound's factor of |q| (see dots)
  std::vector<double> norms_;
};

// Float32 embeddings of tracks, ids ascending (those the source no longer has are left out):
// what a search node reads from the store for the candidates.
using TrackFetch = std::function<Embeddings(const std::vector<int64_t>& ids)>;

// Rows whose score could reach the k best (k <= 0 or k >= rows: all): every row i (ascending)
// with upper >= the k-th largest lower over the rows, bounds(i) = {lower, upper} (NaN: always
// taken). Rows with skip(i) are neither taken nor counted. Holds only k values besides the result.
template <class Bounds, class Skip>
std::vector<int64_t> rows_that_may_rank(int64_t n, int64_t k, const Bounds& bounds, const Skip& skip) {
  double cut = -INFINITY;
  if (k > 0) {
    std::priority_queue<double, std::vector<double>, std::greater<double>> best;  // the k largest lowers
    int64_t counted = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (skip(i)) continue;
      ++counted;
      const double lower = bounds(i).first;
      const double v = std::isnan(lower) ? -INFINITY : lower;
      if (static_cast<int64_t>(best.size()) < k) best.push(v);
      else if (v > best.top()) best.pop(), best.push(v);
    }
    if (counted > k) cut = best.top();
  }
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < n; ++i)
    if (!skip(i) && !(bounds(i).second < cut)) rows.push_back(i);
  return rows;
}

// search::similar over `tracks` for one query (exclude_id -1 = none), the same hits bit for bit:
// the 8-bit scores choose the tracks that could rank in the k best, `fetch` reads their float32
// embeddings, and those are ranked by search::similar. `fetched` (optional) counts the rows read.
std::vector<Hit> similar_quantized(const QuantizedTracks& tracks, const float* query, int64_t exclude_id, int64_t k,
                                   const TrackFetch& fetch, int64_t* fetched = nullptr);

}  // namespace clap::search
