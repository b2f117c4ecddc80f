#include "service/ranked_queries.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <set>
#include <utility>

#include "core/error.h"
#include "service/duplicates.h"
#include "service/queries.h"
#include "core/missing_file.h"
#include "index/crawl.h"

namespace clap::service {

namespace {

MixedQuery resolve(Library& lib, const LibrarySnapshot& snap, const RankedRequest& r, bool need_positive) {
  if (r.resolve) return r.resolve(r.terms, need_positive);
  return resolve_query(lib, snap, r.terms, r.allow_files, need_positive);
}

ListFolding folding_of(const RankedRequest& r, std::vector<int64_t> seed_tracks, RequestCopies& copies) {
  return ListFolding{r.diversity, r.collapse, std::move(seed_tracks), &copies};
}

// The first pool a folded list asks its ranking for (the plain ranking: k).
int64_t first_pool(const RankedRequest& r) {
  return r.diversity >= 0 ? results_before_diversity(r.k) : r.collapse ? results_before_collapse(r.k) : r.k;
}

template <class R, class Rank, class IdOf, class ScoreOf>
RankedList<R> folded(const LibrarySnapshot& snap, const RankedRequest& r, const ListFolding& folding, Rank rank,
                     IdOf id_of, ScoreOf score_of, const std::function<bool(int64_t n)>& wider = {}) {
  RankedList<R> list;
  list.results = folded_ranking<R>(snap, r.k, folding, rank, id_of, score_of, &list.copies, wider);
  list.copies.resize(list.results.size());
  return list;
}

// `rules` leaving out the copies of the query's own tracks too (the groups of service/duplicates.h
// around them, as diversify finds them). For like under --diversity: its ranking is the tracks that
// its chunks' per_chunk nearest windows vote for, and the seed's copies (the query again) are
// its nearest windows, so with as many copies as per_chunk they took every vote, diversity left
// them out, and the list came back empty ("0 of the 10 tracks asked for") however many other
// recordings the index holds (H11S-1). Their windows are skipped, as the seed's own are.
// The groups are the request's (`copies`): diversity's rounds find them known, not searched again.
// `kept`: tracks that are results themselves (the query's own track, like without
// --exclude-self; a track an earlier round listed): their copies are left out and they are not,
// so that each is listed once and the other songs after it.
ResultRules excluding_copies_of(const LibrarySnapshot& snap, ResultRules rules, const std::vector<int64_t>& seeds,
                                RequestCopies& copies, const std::vector<int64_t>& kept = {}) {
  copies.cover(snap, seeds);
  for (int64_t seed : seeds)
    for (int64_t id : copies.copies_of(seed))
      if (std::find(kept.begin(), kept.end(), id) == kept.end()) rules.exclude.push_back(id);
  std::sort(rules.exclude.begin(), rules.exclude.end());
  rules.exclude.erase(std::unique(rules.exclude.begin(), rules.exclude.end()), rules.exclude.end());
  return rules;
}

// The indexed track of a query that is a file (`like 2`: the file named 2, decoded), by its path
// alone: find_track takes a whole number for a track id, and a file named `2` excluded track 2
// (or left its copies out) while the file's own audio was the query.
const store::Track* query_file_track(const LibrarySnapshot& snap, const std::string& file) {
  return snap.find_track(index::absolute_path(file));
}

}  // namespace

SearchAnswer search_query(Library& lib, const LibrarySnapshot& snap, const SearchRequest& request) {
  SearchAnswer answer;
  const std::vector<std::string>& texts = request.texts;
  // The query texts are positive terms of their own: negatives alone go with them.
  if (request.mixed) answer.mixed = resolve(lib, snap, request, /*need_positive=*/texts.empty());
  // The texts ranked with n results each (a folded list may need a wider pool: one text again).
  const auto run = [&](const std::vector<std::string>& some, int64_t n) {
    search::TextSearchOptions pool = request.options;
    pool.k = n;
    return answer.mixed ? search_mixed(lib, snap, some, *answer.mixed, pool, request.rules)
                        : search_texts(lib, snap, some, pool, request.rules);
  };
  const int64_t first = first_pool(request);
  std::vector<std::vector<search::TrackScore>> results;
  if (texts.empty() || !request.between_parts) {
    results = run(texts, first);
  } else {
    // Each text's ranking is its own: parts give the same lists, with the caller's check between.
    for (size_t i = 0; i < texts.size(); i += SearchRequest::kTextsPerPart) {
      if (i > 0) request.between_parts();
      const size_t end = std::min(texts.size(), i + SearchRequest::kTextsPerPart);
      auto part = run(std::vector<std::string>(texts.begin() + static_cast<std::ptrdiff_t>(i),
                                               texts.begin() + static_cast<std::ptrdiff_t>(end)),
                      first);
      std::move(part.begin(), part.end(), std::back_inserter(results));
    }
  }
  RequestCopies copies(request.duplicate_work);
  const ListFolding folding = folding_of(request, answer.mixed ? answer.mixed->seed_tracks : std::vector<int64_t>{}, copies);
  const size_t lists = texts.empty() ? 1 : texts.size();
  for (size_t i = 0; i < lists; ++i) {
    const auto ranking = [&, i](int64_t n) {
      if (n == first) return std::move(results[i]);
      return run(texts.empty() ? texts : std::vector<std::string>{texts[i]}, n).front();
    };
    answer.lists.push_back(folded<search::TrackScore>(
        snap, request, folding, ranking, [](const search::TrackScore& r) { return r.track_id; },
        [](const search::TrackScore& r) { return r.score; }));
  }
  return answer;
}

LikeAnswer like_query(Library& lib, const LibrarySnapshot& snap, const LikeRequest& request) {
  LikeAnswer answer;
  search::LikeOptions options = request.options;
  ResultRules rules = request.rules;
  std::vector<int64_t> seed_tracks;  // the query's own tracks: their copies are the seed again, not results
  if (request.mixed) {
    answer.mixed = resolve(lib, snap, request, /*need_positive=*/request.decoded == nullptr);
    answer.chunks = mixed_query_chunks(lib, snap, *answer.mixed, request.decoded);
    rules = excluding_seeds(std::move(rules), *answer.mixed);
    seed_tracks = answer.mixed->seed_tracks;
  } else if (request.track) {
    answer.chunks = track_query_chunks(snap, *request.track);
    if (request.exclude_self) options.exclude_track = request.track->id, seed_tracks = {request.track->id};
  } else if (request.decoded) {
    answer.chunks = *request.decoded;
  } else {
    if (request.file.empty()) throw InvalidArgument("like: give a query (an audio file, a track of the index, or seeds)");
    if (request.exclude_self)
      if (const store::Track* t = query_file_track(snap, request.file)) options.exclude_track = t->id, seed_tracks = {t->id};
    answer.chunks = file_query_chunks(lib, request.file, request.chunk_s, request.hop_s);
  }
  // Without --exclude-self the query's track is a result of its own query: its copies held the
  // windows as much as an excluded seed's, and with 600 of them the diversified list held the seed
  // alone (copies14). Its copies are left out of the windows as an excluded seed's are, itself kept.
  int64_t self = -1;
  if (seed_tracks.empty() && !request.mixed) {
    if (request.track) self = request.track->id;
    else if (!request.decoded && !request.file.empty())
      if (const store::Track* t = query_file_track(snap, request.file)) self = t->id;
  }
  const std::vector<int64_t> copied = self >= 0 ? std::vector<int64_t>{self} : seed_tracks;
  RequestCopies copies(request.duplicate_work);
  const bool diversified = request.diversity >= 0;
  const bool leave_copies_out = diversified && !copied.empty();
  if (leave_copies_out) rules = excluding_copies_of(snap, std::move(rules), copied, copies, {self});
  // like ranks the tracks its chunks' per_chunk nearest windows vote for, however many results are
  // asked for: a folded list's wider pool (n past the first) takes more windows a chunk in
  // proportion, else copies of a few recordings held every vote and the list stayed short with a
  // note blaming the index (H11S-1). The first pool, and a plain list, vote as asked.
  // At most kWidestPerChunk windows a chunk (every chunk's matches are held at once: a library of
  // copies that never gives k different recordings must not take the query to every window).
  constexpr int64_t kWidestPerChunk = 1000;
  const int64_t first = first_pool(request);
  const int64_t windows = snap.compressed() ? snap.window_source().size : snap.catalog().window_count();
  const int64_t widest = std::min(windows, std::max<int64_t>(kWidestPerChunk, options.per_chunk));
  const auto per_chunk_for = [&](int64_t n) -> int64_t {
    if (n <= first || first <= 0) return options.per_chunk;
    return std::max<int64_t>(options.per_chunk, std::min(widest, options.per_chunk * (n / first)));
  };
  // The seed's group as find_duplicates first finds it around the seed can be a part of it: each
  // track is compared with its DuplicateOptions::neighbours nearest, and 600 re-encodes of one
  // recording (other bytes, one embedding) are each other's nearest, so the closure around the
  // seed stopped at 18 of them. The others held every chunk's nearest windows (1,000 at most),
  // diversity then left them out, and the list held 0 or 1 of the 10 other songs `similar` lists
  // (copies13). Each round's pool is searched for copies by diversity (RequestCopies: each track
  // once a request); the seed's copies it found are left out of the next round's windows, and
  // the pool widens again while that set grows, so the copies are skipped before the per-chunk
  // nearest are taken. The rounds add the seed's copies the last pool held, so their work is
  // linear in the group (each copy is searched once) and they end when a pool holds no new copy.
  //
  // So are the other files of every recording the last round held (copies16): another song
  // with hundreds of files near the seed held every chunk's nearest windows (1,000 at most) as
  // the seed's copies did, diversity listed it once, and the list stayed short of k though the
  // index held other songs. The group's best-ranked file keeps its windows (it is listed again);
  // its other files, which that round's pool showed and diversity found, are left out of the
  // next round's. Again each copy is searched once a request (RequestCopies), and the rounds end when
  // the list is full or a pool adds no copy to leave out.
  size_t left_out = rules.exclude.size();  // the tracks the last ranking left out
  std::vector<int64_t> last_ranked;  // the last ranking's tracks, in rank order
  const auto with_copies_left_out = [&] {
    ResultRules r = leave_copies_out ? excluding_copies_of(snap, rules, copied, copies, {self}) : rules;
    // The best-ranked file of each group of copies the last ranking held (diversity lists one
    // file a group): the groups are diversity's, which searched that ranking's pool for copies
    // (RequestCopies) in the fold before this is asked (wider(), the next round).
    std::vector<int64_t> heads;
    std::set<int64_t> groups;
    for (int64_t id : last_ranked)
      if (const int64_t g = copies.group(id); g >= 0 && groups.insert(g).second) heads.push_back(id);
    return excluding_copies_of(snap, std::move(r), heads, copies, heads);
  };
  const auto ranking = [&](int64_t n) {
    search::LikeOptions pool = options;
    pool.k = n;
    pool.per_chunk = static_cast<int>(per_chunk_for(n));
    if (diversified) rules = with_copies_left_out();
    left_out = rules.exclude.size();
    std::vector<search::LikeResult> ranked = like(snap, answer.chunks, pool, rules);
    if (diversified) {
      last_ranked.clear();
      for (const search::LikeResult& l : ranked) last_ranked.push_back(l.track_id);
    }
    return ranked;
  };
  answer.list = folded<search::LikeResult>(
      snap, request, folding_of(request, seed_tracks, copies), ranking,  // a copy: the rounds read seed_tracks
      [](const search::LikeResult& r) { return r.track_id; }, [](const search::LikeResult& r) { return r.combined; },
      [&](int64_t n) { return per_chunk_for(n) < widest || (diversified && with_copies_left_out().exclude.size() > left_out); });
  return answer;
}

SimilarAnswer similar_query(Library& lib, const LibrarySnapshot& snap, const SimilarRequest& request) {
  SimilarAnswer answer;
  // The ranking, for any number of results (a folded list may need a wider pool: fold_ranking).
  std::function<std::vector<search::Hit>(int64_t)> ranking;
  std::vector<int64_t> seed_tracks;  // the query's own tracks: their copies are not results
  std::vector<float> file_query;
  if (request.mixed) {
    answer.mixed = resolve(lib, snap, request, /*need_positive=*/true);
    seed_tracks = answer.mixed->seed_tracks;
    ranking = [&](int64_t n) { return similar_mixed(snap, *answer.mixed, lib.dim(), n, request.rules); };
  } else if (request.track) {
    seed_tracks = {request.track->id};
    ranking = [&](int64_t n) { return similar_tracks(snap, *request.track, n, request.rules); };
  } else {
    if (request.file.empty()) throw InvalidArgument("similar: give a query (a track of the index, an audio file, or seeds)");
    if (const std::string why = missing_file_reason(request.file); !why.empty())
      throw Error(request.file + ": " + why + ", and no track with that id or path in the index");
    file_query = lib.file_embedding(request.file);
    ranking = [&](int64_t n) { return similar_to_vector(snap, file_query, n, request.rules); };
  }
  RequestCopies copies(request.duplicate_work);
  answer.list = folded<search::Hit>(
      snap, request, folding_of(request, std::move(seed_tracks), copies), ranking, [](const search::Hit& h) { return h.id; },
      [](const search::Hit& h) { return h.score; });
  return answer;
}

}  // namespace clap::service
