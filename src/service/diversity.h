// Diversity in a result list (issue 38): maximal marginal relevance over the tracks' embeddings,
// and copies of one recording (service/duplicates.h) listed once. A front end asks its ranking
// for results_before_diversity(k) results, then keeps diversify()'s k:
//
//   next = argmax over the rest c of  (1 − d) · relevance(c) − d · max_{s listed} cos(s, c)
//
// relevance = the ranking's own score (a cosine for search and similar, like's combined score),
// cos over the tracks' stored track embeddings (the normalised mean of their windows). d = 0 keeps
// the ranking's order; ties go to the earlier rank. A track whose recording is already listed
// (find_duplicates over the candidates: fingerprints and embeddings) is skipped.
#pragma once
#include <cstdint>
#include <vector>

#include "service/library.h"

namespace clap::service {

// The pool a ranking is asked for: 4k, at least k + 40 (k <= 0: every track).
int64_t results_before_diversity(int64_t k);

// Positions into the ranked list (ids and relevance in rank order) in the diversified order,
// at most k (<= 0: all). Throws InvalidArgument when d is not in [0, 1].
std::vector<size_t> diversify_order(const LibrarySnapshot& snap, const std::vector<int64_t>& ids,
                                    const std::vector<double>& relevance, int64_t k, double d);

// Checks d (InvalidArgument "diversity: …" outside [0, 1] or not a number).
void check_diversity(double d);

template <class R, class IdOf, class ScoreOf>
std::vector<R> diversify(const LibrarySnapshot& snap, std::vector<R> ranked, int64_t k, double d, IdOf id_of,
                         ScoreOf score_of) {
  std::vector<int64_t> ids;
  std::vector<double> relevance;
  for (const R& r : ranked) {
    ids.push_back(id_of(r));
    relevance.push_back(score_of(r));
  }
  std::vector<R> out;
  for (size_t i : diversify_order(snap, ids, relevance, k, d)) out.push_back(std::move(ranked[i]));
  return out;
}

}  // namespace clap::service
