// Diversity in a result list (issue 38): maximal marginal relevance over the tracks' embeddings,
// and copies of one recording (service/duplicates.h) listed once. A front end asks its ranking
// for results_before_diversity(k) results, then keeps diversify()'s k:
//
//   next = argmax over the rest c of  (1 − d) · relevance(c) − d · max_{s listed} cos(s, c)
//
// relevance = the ranking's own score (a cosine for search and similar, like's combined score),
// cos over the tracks' stored track embeddings (the normalised mean of their windows). d = 0 keeps
// the ranking's order; ties go to the earlier rank. A track whose recording is already listed
// (find_duplicates over the candidates: fingerprints and embeddings; then, against the tracks
// listed, the rule of service/recordings.h) is skipped, and so is a copy of a recording the query
// names itself (`listed`: its seed tracks, whose copies are the seed again, not a result).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "service/duplicates.h"
#include "service/library.h"
#include "service/recordings.h"

namespace clap::service {

// The pool a ranking is asked for: 4k, at least k + 40 (k <= 0: every track).
int64_t results_before_diversity(int64_t k);

// The copies of one recording one request has found (find_duplicates' groups, without bands),
// kept while its pool widens (fold_ranking), so that each track's neighbours are searched at
// most once per request: a round searches only around the tracks no earlier round reached (a
// track in a group found before was searched then, or is an identical copy of one that was),
// and not again around the tracks they chain to that were searched before (their pairs are
// known). The groups are those find_duplicates finds around every track asked about at once
// (the closure around a set is the union of the closures around its tracks). Before (copies12,
// H11S-1), each round searched around its whole pool again, and around the query's own tracks,
// whose copies (600 re-encodes in the measured library) each cost a search of the library.
//
// The groups are not the whole recording when its files are many and of several kinds (H14S-4:
// 300 MP3 re-encodes of one song made a group for each bit-rate class, as each file's 16 nearest
// are files of its own class), so diversify_order also tells a candidate from the tracks listed
// before it as the radio and /api/sonic/ do (service/recordings.h: identities, then the stored
// fingerprints of the listed tracks nearest it) and `join`s the groups it finds to be one: the
// rest of such a group is then skipped by its number, and a later round (like's) knows it.
class RequestCopies {
 public:
  explicit RequestCopies(DuplicateWork* work = nullptr, RecordingWork* recording_work = nullptr)
      : work_(work), recording_work_(recording_work) {}
  // Finds the groups around those of `ids` not reached yet.
  void cover(const LibrarySnapshot& snap, const std::vector<int64_t>& ids);
  // The group of `id` (a number shared by its copies), or -1 when it has no copy found.
  int64_t group(int64_t id) const;
  // The tracks of `id`'s group, `id` included (just `id` when it has no copy found).
  std::vector<int64_t> copies_of(int64_t id) const;
  // Makes `a`'s group (or `a`) part of `b`'s (or of a new one with `b`); returns its number.
  int64_t join(int64_t a, int64_t b);
  // The request's fingerprints and compared pairs (each pair compared once a request).
  RecordingPrints& prints(const LibrarySnapshot& snap);

 private:
  DuplicateWork* work_;
  RecordingWork* recording_work_;
  std::unique_ptr<RecordingPrints> prints_;
  std::set<int64_t> reached_;
  std::map<int64_t, int64_t> group_of_;
  std::map<int64_t, std::vector<int64_t>> members_;  // group -> its tracks, ascending
  int64_t next_group_ = 0;
};

// Positions into the ranked list (ids and relevance in rank order) in the diversified order,
// at most k (<= 0: all). Throws InvalidArgument when d is not in [0, 1]. `copies`: the request's
// (a fresh one when null).
std::vector<size_t> diversify_order(const LibrarySnapshot& snap, const std::vector<int64_t>& ids,
                                    const std::vector<double>& relevance, int64_t k, double d,
                                    const std::vector<int64_t>& listed = {}, RequestCopies* copies = nullptr);

// Checks d (InvalidArgument "diversity: …" outside [0, 1] or not a number).
void check_diversity(double d);

template <class R, class IdOf, class ScoreOf>
std::vector<R> diversify(const LibrarySnapshot& snap, std::vector<R> ranked, int64_t k, double d, IdOf id_of,
                         ScoreOf score_of, const std::vector<int64_t>& listed = {}, RequestCopies* copies = nullptr) {
  std::vector<int64_t> ids;
  std::vector<double> relevance;
  for (const R& r : ranked) {
    ids.push_back(id_of(r));
    relevance.push_back(score_of(r));
  }
  std::vector<R> out;
  for (size_t i : diversify_order(snap, ids, relevance, k, d, listed, copies)) out.push_back(std::move(ranked[i]));
  return out;
}

// A ranking folded to k entries (by diversify, or by collapse_results: service/duplicates.h)
// keeps far fewer than k when the head of the ranking is copies of a few recordings: in a
// library of copies every candidate of a 4k pool can be a copy of the seed or of one other
// track, and `similar COPY --diversity` listed one track. `rank(n)` ranks n results; `fold` folds
// them. The pool starts at `first` and grows fourfold until k entries are kept or the ranking
// had no more to give (fewer than asked, unless `wider(n)` says a ranking asked for more could
// still reach other tracks: like's, whose votes reach per_chunk windows a chunk however many
// results are asked for, or leave out the seed's copies the fold found); the time budget
// (core/deadline.h) bounds the rounds. `wider` is asked after the fold, which may have found
// what the next ranking leaves out.
template <class R, class Rank, class Fold>
std::vector<R> fold_ranking(int64_t k, int64_t first, Rank rank, Fold fold,
                            const std::function<bool(int64_t n)>& wider = {}) {
  for (int64_t n = first;; n *= 4) {
    std::vector<R> ranked = rank(n);
    const bool short_of_n = static_cast<int64_t>(ranked.size()) < n;
    std::vector<R> kept = fold(std::move(ranked));
    const bool whole = n <= 0 || (short_of_n && !(wider && wider(n)));
    if (whole || k <= 0 || static_cast<int64_t>(kept.size()) >= k) return kept;
  }
}

// How a front end folds a ranked list: diversity (-1: none), copies of one recording collapsed
// into one entry (--collapse-duplicates, collapse_duplicates=true), and the query's own tracks,
// whose copies diversity leaves out.
struct ListFolding {
  double diversity = -1;
  bool collapse = false;
  std::vector<int64_t> seed_tracks;
  RequestCopies* copies = nullptr;  // the request's, shared by every round of its pool (null: one per round)
};

// The k entries a query lists: `rank(n)` (n results of the ranking) diversified and/or collapsed
// as `f` says, from a pool widened until k remain (fold_ranking). `copies` (when given) gets each
// entry's copies when collapsing, else stays empty. `wider`: fold_ranking's.
template <class R, class Rank, class IdOf, class ScoreOf>
std::vector<R> folded_ranking(const LibrarySnapshot& snap, int64_t k, const ListFolding& f, Rank rank, IdOf id_of,
                              ScoreOf score_of, std::vector<std::vector<int64_t>>* copies = nullptr,
                              const std::function<bool(int64_t n)>& wider = {}) {
  std::vector<std::vector<int64_t>> found;
  std::vector<R> list;
  if (f.diversity >= 0) {
    list = fold_ranking<R>(k, results_before_diversity(k), rank, [&](std::vector<R> ranked) {
      return diversify(snap, std::move(ranked), k, f.diversity, id_of, score_of, f.seed_tracks, f.copies);
    }, wider);
    if (f.collapse) found = collapse_results(snap, list, k, id_of);  // copies named, none listed twice already
  } else if (f.collapse) {
    list = fold_ranking<R>(k, results_before_collapse(k), rank, [&](std::vector<R> ranked) {
      found = collapse_results(snap, ranked, k, id_of);
      return ranked;
    }, wider);
  } else {
    list = rank(k);
  }
  if (copies) *copies = std::move(found);
  return list;
}

// The note of a folded list shorter than asked for (copies of one recording listed once, the
// seed's copies left out), "" when it is not short.
std::string short_list_note(size_t listed, int64_t k);

}  // namespace clap::service
