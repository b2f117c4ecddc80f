// Playlists made from the track embeddings alone (no model run): a "radio" around a query and a
// path that moves from one track to another. Pure functions over an Embeddings matrix of track
// embeddings (the index's, or hand-made ones in tests); the service layer resolves the tracks
// and the query (service/playlists.h).
//
// Every cosine here is the one `similar` reports (search/similar.h): dot(x, y) / (‖x‖·‖y‖) with
// clap::dot, so a track's score in a playlist equals its score in `similar` for the same query.
// Ties (equal scores) go to the smaller track id, so the same index and inputs give the same
// playlist on every run, thread count and machine.
#pragma once
#include <cstdint>
#include <functional>
#include <unordered_set>
#include <vector>

#include "core/embeddings.h"
#include "search/topk.h"

namespace clap::search {

// The normalised mean of n vectors (n × dim): their float sum in order, then l2_normalize_rows
// (core/vector_math.h), so each vector weighs the same whatever else is in the query. A query
// made of seed tracks and texts is this mean of their embeddings.
std::vector<float> mean_direction(int64_t n, int dim, const float* vectors);

struct RadioOptions {
  int64_t length = 25;      // tracks in the playlist, seeds included (at least 1)
  double diversity = 0.3;   // λ in [0, 1]: 0 = the nearest tracks, larger = more spread
  int64_t candidates = 0;   // the pool: this many nearest tracks to the query; 0 = max(200, 20 × length)
  // Tracks that never enter the pool, as if `tracks` did not hold them (seeds excepted): the
  // same playlist as over a copy of `tracks` without them, without copying the matrix (205 MB
  // at 100,000 tracks). Must stay alive during the call; nullptr: none.
  const std::unordered_set<int64_t>* left_out = nullptr;
  // The pool's ranking: the k tracks of `tracks` nearest to the query (seeds and left_out
  // included), exactly as similar(tracks, 1, query, nullptr, k)[0] ranks them, bit for bit.
  // The service gives its 8-bit first pass (service::similar_all), which reads a quarter of the
  // bytes of that float32 scan; empty: the scan itself.
  std::function<std::vector<Hit>(int64_t k)> nearest;
};

// A radio around `query` (dim floats; need not be unit length) by maximal marginal relevance:
//
//   1. The seeds come first, in the order given, duplicates dropped (each must be in `tracks`).
//   2. The pool is the `candidates` tracks nearest to the query (cosine), seeds left out.
//   3. Until the playlist holds `length` tracks or the pool is empty, the next track is the pool
//      member c maximising
//          (1 − λ) · cos(query, c) − λ · max_{s ∈ selected} cos(s, c)
//      where `selected` is every track already in the playlist, seeds included (with nothing
//      selected yet, the second term is 0). λ = 0 gives the nearest tracks in order; a larger λ
//      trades closeness to the query for distance from what is already there.
//
// Hit.score = cos(query, track) for every track, seeds included. Fewer than `length` tracks come
// back when `tracks` has fewer. Throws clap::Error on a seed not in `tracks`, more distinct seeds
// than `length`, length < 1, or λ outside [0, 1].
std::vector<Hit> mmr_playlist(const Embeddings& tracks, const float* query, const std::vector<int64_t>& seeds,
                              const RadioOptions& options);

// A path of `length` tracks from `from_id` to `to_id` (both in `tracks`): with a and b their
// embeddings and n = min(length, tracks.size()), step i of n (i = 0 … n − 1) aims at
//
//   target_i = normalise((1 − t) · a + t · b),   t = i / (n − 1)
//
// (the chord from a to b, pulled back onto the unit sphere), and takes the track nearest to
// target_i (cosine) that is not in the path yet; step 0 is FROM and step n − 1 is TO, so no
// track repeats. Hit.score = cos(target_i, track). Throws clap::Error when FROM and TO are the
// same track, either is not in `tracks`, or length < 2.
std::vector<Hit> path_between(const Embeddings& tracks, int64_t from_id, int64_t to_id, int64_t length);

}  // namespace clap::search
