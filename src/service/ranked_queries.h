// The three queries that list ranked tracks — search (text -> songs), like (audio -> songs by
// chunk voting) and similar (song -> songs by track embedding) — each written once, from the
// request to the folded list (issue 53). The CLI commands, the REST routes and Python's Library
// parse their input into a request, call one of these, and format the answer; they had each
// their own copy of this logic, and the copies drifted (Python's like(FILE, exclude_self=True)
// with diversity listed a copy of the seed: its copy left folding.seed_tracks empty).
//
// Every query: its seeds/texts/negatives (service/seeds.h) resolved into a MixedQuery, the
// query's own indexed tracks left out of the results with their copies, the ranking under the
// rules (service/filters.h), and the list folded by diversity and/or collapsing
// (service/diversity.h, folded_ranking) from a pool widened until k entries remain.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "search/like.h"
#include "search/similar.h"
#include "search/text_search.h"
#include "service/diversity.h"
#include "service/filters.h"
#include "service/library.h"
#include "service/seeds.h"

namespace clap::service {

// One query's folded list and, per result, the ids of its copies (collapsing; else empty lists).
template <class R>
struct RankedList {
  std::vector<R> results;
  std::vector<std::vector<int64_t>> copies;  // one per result
};

// Resolves a request's terms (need_positive as resolve_query's). Unset: resolve_query with the
// request's allow_files. The server sets its own, which answers 400/404 for a bad term.
using TermResolver = std::function<MixedQuery(const std::vector<QueryTerm>& terms, bool need_positive)>;

// What every ranked query shares.
struct RankedRequest {
  bool mixed = false;             // the terms make the query (--seed, --not, …), even when empty
  std::vector<QueryTerm> terms;   // seeds, texts, negatives; like/similar: the query's own seed first
  int64_t k = 10;                 // results (0: all)
  double diversity = -1;          // 0..1, -1: none
  bool collapse = false;          // copies of one recording listed once, named in `copies`
  ResultRules rules;
  bool allow_files = true;        // audio files as seeds (the server: tracks of the index only)
  TermResolver resolve;
  DuplicateWork* duplicate_work = nullptr;  // counts the copy search of the whole request (tests)
};

// Text -> songs: per text, its ranking (the texts mixed with the terms when `mixed`); with no
// text, the terms are the one query.
struct SearchRequest : RankedRequest {
  std::vector<std::string> texts;
  search::TextSearchOptions options;  // aggregate, thresholds (its k is ignored: `k`)
  // Called between parts of kTextsPerPart texts (Python sees Ctrl-C there); unset: one part.
  std::function<void()> between_parts;
  static constexpr size_t kTextsPerPart = 64;
};
struct SearchAnswer {
  std::optional<MixedQuery> mixed;
  std::vector<RankedList<search::TrackScore>> lists;  // one per text, or one for the terms alone
};
SearchAnswer search_query(Library& lib, const LibrarySnapshot& snap, const SearchRequest& request);

// Audio -> songs. The query, in this order: the terms (`mixed`: the chunks of every positive
// audio seed, steered by texts and negatives; `decoded`, when given, the first positive seed),
// an indexed `track` (its stored windows), audio the caller `decoded` (the server's upload), or
// an audio `file` (decoded with chunk_s/hop_s; 0 = the index's). exclude_self: the query track
// (the track, or the indexed track at `file`'s path) is no result, nor are its copies.
struct LikeRequest : RankedRequest {
  const store::Track* track = nullptr;
  const search::QueryChunks* decoded = nullptr;
  std::string file;
  double chunk_s = 0, hop_s = 0;
  bool exclude_self = false;
  search::LikeOptions options;  // per_chunk, vote_weight (its k and exclude_track are set here)
};
struct LikeAnswer {
  std::optional<MixedQuery> mixed;
  search::QueryChunks chunks;  // the query's chunks, as they voted
  RankedList<search::LikeResult> list;
};
LikeAnswer like_query(Library& lib, const LibrarySnapshot& snap, const LikeRequest& request);

// Song -> songs. The query: the terms (`mixed`), an indexed `track` (left out with its copies),
// or an audio `file` (embedded as the indexer would; Error when it does not exist).
struct SimilarRequest : RankedRequest {
  const store::Track* track = nullptr;
  std::string file;
};
struct SimilarAnswer {
  std::optional<MixedQuery> mixed;
  RankedList<search::Hit> list;
};
SimilarAnswer similar_query(Library& lib, const LibrarySnapshot& snap, const SimilarRequest& request);

}  // namespace clap::service
