// Audio → songs (query by example) with chunk voting.
//
// The query audio is cut into chunks and embedded by the caller. Each chunk takes its
// `per_chunk` nearest windows from the library; per track:
//   votes            = number of chunk matches that hit the track (by default one per chunk:
//                      the track's best window for that chunk; see one_vote_per_chunk)
//   total_similarity = sum of the cosines of those matches
//   combined         = w · votes / max_votes + (1 − w) · total / max_total   (w = vote_weight)
// with the maxima over all tracks hit, so a track holding both maxima scores exactly 1.0.
// Voting rewards tracks that match many parts of the query; the similarity term separates
// tracks with equal votes. (If no track has a positive total, the similarity term is 0.)
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "search/catalog.h"
#include "search/vector_index.h"

namespace clap::search {


struct QueryChunks {
  int dim = 0;
  std::vector<float> embeddings;     // size() × dim, L2-normalised
  std::vector<double> starts, ends;  // seconds within the query audio
  std::vector<uint8_t> silent;       // 1 = silent chunk: it casts no votes; empty = none silent

  int64_t size() const { return static_cast<int64_t>(starts.size()); }
};

struct LikeOptions {
  int64_t k = 10;                // results; <= 0 = every track hit
  int per_chunk = 5;             // windows taken per chunk
  double vote_weight = 0.2;      // w above
  // A track to leave out (its windows are skipped, not just its result hidden, so other tracks
  // fill the per-chunk slots). Default none: for `like --track ID` the track itself should
  // come back first with combined 1.0.
  std::optional<int64_t> exclude_track;
  // One vote per (chunk, track), from the track's best window for that chunk (default), or
  // one per matching window. With per-window votes a track with many similar windows
  // out-votes the query's own track (measured: an indexed file queried by itself came first
  // for 3 of 6 tracks); with one vote per chunk the query's own track holds both maxima and
  // scores exactly 1.0.
  bool one_vote_per_chunk = true;
  SearchParams index_search;  // nprobe / efSearch of the window index
  // Only these tracks' windows take part (a --where filter; empty = every track): the query
  // runs as if the library held only them. With a window index, each chunk asks it for more
  // candidates (in proportion to the windows left out) and is scanned exactly over the allowed
  // windows when too few of them came back, so the matches are those of the restricted library.
  std::function<bool(int64_t track_id)> track_allowed;
};

struct ChunkMatch {
  int64_t chunk = -1;  // index into the QueryChunks
  double query_start = 0, query_end = 0;
  int64_t window_id = -1, track_id = -1;
  double start = 0, end = 0;  // the matched window, seconds within its track
  double cosine = 0;
  double distance = 0;        // 1 − cosine
};

struct LikeResult {
  int64_t track_id = -1;
  double combined = 0;
  int64_t votes = 0;
  double total_similarity = 0;
  std::vector<ChunkMatch> matches;  // by chunk, then distance, then window id
};

// The windows of a library track as query chunks (`like --track ID`: no decoding needed), with
// their time ranges and silence flags. Throws clap::Error when the track is not in the catalog.
QueryChunks track_chunks(const Catalog& catalog, int64_t track_id);

// Step 1: each non-silent chunk's per_chunk best windows (cosine desc, window id asc).
// window_index holds window_index_data(catalog) (ids = window ids); null = exact scan of the
// same windows. Cosines are recomputed with kernels.h whatever found the candidates.
std::vector<ChunkMatch> match_chunks(const Catalog& catalog, const VectorIndex* window_index, const QueryChunks& chunks,
                                     const LikeOptions& options);

// Step 2: the vote fusion above over any list of matches. Results ranked by combined desc, then
// track id asc; k applied.
std::vector<LikeResult> fuse_matches(const std::vector<ChunkMatch>& matches, const LikeOptions& options);

// Both steps.
std::vector<LikeResult> like(const Catalog& catalog, const VectorIndex* window_index, const QueryChunks& chunks,
                             const LikeOptions& options);

// Both steps over a WindowSource (a library larger than memory): each voting chunk's
// `shortlist` nearest windows from the source, read exactly, and the steps above run over
// them as an exhaustive scan (the same numbers as over the whole catalog whenever every chunk's
// per_chunk best windows are among the windows read).
std::vector<LikeResult> like_source(const WindowSource& source, const QueryChunks& chunks, const LikeOptions& options,
                                    int64_t shortlist);

}  // namespace clap::search
