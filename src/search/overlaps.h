// Shared passages: a stretch of one track that occurs in another (a song inside a DJ mix or a
// medley, a reused loop, the intro shared by a radio edit and the album version).
//
// Found from the window index, never by comparing every pair of tracks: each window of the
// track asks the index for its nearest windows; a neighbour in another track is a *match* when
// it is clearly closer than the track's own next window (the calibration of duplicates.h: 0.75×
// the distance to the song itself one hop on, so it works for any model's scale). Matches at
// one constant time offset (the same diagonal of the two window grids) chain up; a chain of
// consecutive windows (one missing window bridged) at least `min_length_s` long is a shared
// passage, reported with both time ranges and the mean cosine of its windows.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "search/catalog.h"
#include "search/vector_index.h"

namespace clap::search {

struct OverlapOptions {
  double min_length_s = 20;  // shortest passage reported (window length counted)
  int neighbours = 10;       // windows asked of the index per window
  // IVF lists scanned per window: a shared passage is a near copy, whose windows fall in the
  // same or a neighbouring list, so a few lists do (8 of ~500 at 240k windows) - the whole
  // library's scan is one window-index query per window.
  SearchParams search{.nprobe = 8};
};

struct Overlap {
  int64_t track_a = 0, track_b = 0;  // track ids (a = the track asked about)
  double a_start = 0, a_end = 0;     // seconds in a
  double b_start = 0, b_end = 0;     // seconds in b
  double score = 0;                  // mean cosine of the chained windows
  int windows = 0;                   // windows in the chain
};

// Shared passages of the tracks `of` (track ids; all tracks when empty, each pair of tracks
// reported once, from the smaller id). `index` holds the catalog's windows (ids = window ids).
// Results: by track a, then score descending, then track b. `progress(done, total)` per track.
std::vector<Overlap> find_overlaps(const Catalog& catalog, const VectorIndex& index, double hop_s, double window_s,
                                   const OverlapOptions& options, const std::vector<int64_t>& of = {},
                                   const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace clap::search
