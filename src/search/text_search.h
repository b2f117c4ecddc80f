// Text → songs: rank tracks by the cosine between a text embedding and their windows
// (mean over the track's non-silent windows by default, or the best window), with a label and
// the best window's time range. Several queries at once.
//
// Two entry points that return the same lists:
//   text_search_exhaustive  scores every window: the reference, fine for small libraries.
//   TextSearcher            for interactive queries on large libraries. Mean: the mean of
//                           q·wᵢ equals q·(mean of wᵢ), so one dot per track against a
//                           precomputed centroid selects candidates, and only the candidates'
//                           windows are scored (exact; see text_search.cpp for the margin).
//                           Max: candidates come from the window VectorIndex (exact when the
//                           index is Exact, approximate when it is IVF/HNSW); without an index
//                           it falls back to the exhaustive scan.
// Reported scores always come from the candidates' windows scored with kernels.h, so both
// paths print identical numbers.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "search/catalog.h"
#include "search/quantized_tracks.h"
#include "search/scores.h"
#include "search/vector_index.h"

namespace clap::search {


struct TextSearchOptions {
  int64_t k = 10;  // results per query; <= 0 = every track
  Aggregate aggregate = Aggregate::Mean;
  LabelThresholds thresholds;
  SearchParams index_search;  // nprobe / efSearch when candidates come from the window index
};

struct TrackScore {
  int64_t track_id = -1;
  double score = 0;   // stats.mean or stats.max, per the aggregation
  Label label = Label::Low;
  WindowStats stats;  // n_windows, mean/max/min/std, best window (start/end/id)
};

// Per query (nq × dim text embeddings, row-major) the k best tracks, ranked by score desc then
// track id asc.
std::vector<std::vector<TrackScore>> text_search_exhaustive(const Catalog& catalog, int64_t nq, const float* queries,
                                                            const TextSearchOptions& options);

// The same over some of the catalog's tracks only (track indices; the exact ranking of a
// filtered query, service/queries.cpp).
std::vector<std::vector<TrackScore>> text_search_tracks(const Catalog& catalog, const std::vector<int64_t>& track_indices,
                                                        int64_t nq, const float* queries, const TextSearchOptions& options);

class TextSearcher {
 public:
  // Keeps a reference to `catalog`, which must outlive the searcher. Immutable: concurrent
  // searches are safe.
  explicit TextSearcher(const Catalog& catalog);

  // window_index (ids = window ids, built from window_index_data(catalog)) gives the candidates
  // of Max; null = Max scans exhaustively. Mean never needs it.
  std::vector<std::vector<TrackScore>> search(int64_t nq, const float* queries, const TextSearchOptions& options,
                                              const VectorIndex* window_index = nullptr) const;

 private:
  std::vector<TrackScore> search_mean(const float* query, const TextSearchOptions& options) const;
  std::vector<TrackScore> search_max(const VectorIndex& window_index, const float* query,
                                     const TextSearchOptions& options) const;

  const Catalog& catalog_;
  std::vector<float> centroids_;  // track_count × dim: unnormalised mean of each track's active windows
};

// The same lists from a WindowSource: Mean takes its candidates as TextSearcher does from the
// track embeddings scaled by `centroid_norms` (per row of `tracks`: the length of the mean of
// the track's windows, so that norm × (q · track embedding) = q · mean), the 8-bit ones
// (`tracks`) choosing which tracks' float32 embeddings the source reads to apply the rule; Max
// from the source's shortlist; the candidate tracks' windows are then read and scored as above
// (the same numbers). Exact for Mean; for Max exact when the shortlist holds every track's best
// window. `track_allowed` (Mean only; empty = every track): only the tracks it accepts are
// candidates, chosen by their 8-bit embeddings in memory, so a selective filter reads the
// windows of about k tracks, not of every allowed one (the exact ranking of the allowed tracks).
std::vector<std::vector<TrackScore>> text_search_source(const QuantizedTracks& tracks, const std::vector<float>& centroid_norms,
                                                        const WindowSource& source, int64_t nq, const float* queries,
                                                        const TextSearchOptions& options, int64_t shortlist,
                                                        const std::function<bool(int64_t track_id)>& track_allowed = {});

// The full TrackScore of one track (catalog track index) for one query: scores the track's
// active windows. Shared by every path so they report identical numbers.
TrackScore score_track(const Catalog& catalog, int64_t track_index, const float* query, const TextSearchOptions& options);

}  // namespace clap::search
