// Finding a track's row in a large embedding matrix. Embeddings::find scans every id, which is
// right for a one-off lookup but not per candidate: a radio's 2,040 pool rows and a
// similar-tracks shortlist of 4,000 rows, each looked up among 100,000 ids, cost tens of
// milliseconds a request. The store's and the snapshot's matrices hold ids ascending.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/embeddings.h"

namespace clap {

// The row of `id` in `e`, or -1: a binary search, as if ids were ascending; a hit is the row
// whatever the order (ids are unique). A miss falls back to Embeddings::find's scan, so a
// matrix in any order is still searched whole.
inline int64_t find_row(const Embeddings& e, int64_t id) {
  size_t lo = 0, hi = e.ids.size();
  while (lo < hi) {  // the first position whose id is not below `id`, were ids ascending
    const size_t mid = lo + (hi - lo) / 2;
    if (e.ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  if (lo < e.ids.size() && e.ids[lo] == id) return static_cast<int64_t>(lo);
  return e.find(id);
}

}  // namespace clap
