// Song to song: nearest tracks by track embedding, and the pairwise similarity matrix.
// Track embeddings come from the store (or track_embeddings(catalog)); a library has far fewer
// tracks than windows, so an exact scan is used: no index to keep in sync.
#pragma once
#include <cstdint>
#include <vector>

#include "core/embeddings.h"
#include "search/topk.h"

namespace clap::search {

// For each of nq query vectors (nq × tracks.dim), the k most similar tracks by cosine, ranked by
// cosine desc then track id asc; exclude_ids[i] (when exclude_ids is not null and the entry is
// not -1) is left out of query i's list. Hit.id = track id, Hit.score = cosine.
std::vector<std::vector<Hit>> similar(const Embeddings& tracks, int64_t nq, const float* queries,
                                      const int64_t* exclude_ids, int64_t k);

// The k tracks most similar to a track of `tracks`, the track itself excluded. Throws
// clap::Error when track_id is not in `tracks`.
std::vector<Hit> similar_to_track(const Embeddings& tracks, int64_t track_id, int64_t k);

struct SimilarityMatrix {
  std::vector<int64_t> ids;   // row/column order
  std::vector<double> values; // ids.size()² cosines, row-major; symmetric, diagonal 1
  double at(size_t i, size_t j) const { return values[i * ids.size() + j]; }
};

// Pairwise cosine of the tracks in `subset` (in that order), or of all tracks (in `tracks`
// order) when subset is empty. Throws clap::Error on an unknown id.
SimilarityMatrix similarity_matrix(const Embeddings& tracks, const std::vector<int64_t>& subset = {});

}  // namespace clap::search
