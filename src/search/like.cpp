#include "search/like.h"

#include <algorithm>
#include <exception>
#include <map>
#include <utility>

#include "core/error.h"
#include "search/kernels.h"
#include "search/topk.h"
#include "search/vector_index.h"

namespace clap::search {
namespace {

void check(const Catalog& c, const QueryChunks& q, const LikeOptions& o) {
  const size_t n = static_cast<size_t>(q.size());
  if (q.ends.size() != n) throw Error("like: starts and ends must have one entry per chunk");
  if (q.embeddings.size() != n * static_cast<size_t>(std::max(q.dim, 0)))
    throw Error("like: " + std::to_string(q.embeddings.size()) + " floats for " + std::to_string(n) +
                " chunks of dimension " + std::to_string(q.dim));
  if (!q.silent.empty() && q.silent.size() != n) throw Error("like: silent must be empty or one entry per chunk");
  if (n > 0 && c.window_count() > 0 && q.dim != c.dim())
    throw Error("like: query dimension " + std::to_string(q.dim) + " differs from the library's " +
                std::to_string(c.dim()));
  if (o.per_chunk <= 0) throw Error("like: per_chunk must be positive");
  if (o.vote_weight < 0 || o.vote_weight > 1) throw Error("like: vote_weight must be within [0, 1]");
}

ChunkMatch make_match(const Catalog& c, const QueryChunks& q, int64_t chunk, int64_t row, double cosine) {
  ChunkMatch m;
  m.chunk = chunk;
  m.query_start = q.starts[chunk];
  m.query_end = q.ends[chunk];
  m.window_id = c.table().window_ids[row];
  m.track_id = c.table().track_ids[row];
  m.start = c.table().starts[row];
  m.end = c.table().ends[row];
  m.cosine = cosine;
  m.distance = 1.0 - cosine;
  return m;
}

}  // namespace

QueryChunks track_chunks(const Catalog& c, int64_t track_id) {
  const int64_t t = c.track_index(track_id);
  if (t < 0) throw Error("like: track " + std::to_string(track_id) + " is not in the index");
  QueryChunks q;
  q.dim = c.dim();
  for (int64_t row : c.rows(t)) {
    q.embeddings.insert(q.embeddings.end(), c.embedding(row), c.embedding(row) + c.dim());
    q.starts.push_back(c.table().starts[row]);
    q.ends.push_back(c.table().ends[row]);
    q.silent.push_back(c.silent(row) ? 1 : 0);
  }
  return q;
}

std::vector<ChunkMatch> match_chunks(const Catalog& c, const VectorIndex* index, const QueryChunks& q,
                                     const LikeOptions& o) {
  check(c, q, o);
  const int d = c.dim();
  const int64_t excluded_t = o.exclude_track ? c.track_index(*o.exclude_track) : -1;
  // Per catalog track: whether its windows take part (the excluded track and those a filter
  // leaves out do not).
  std::vector<char> taking(static_cast<size_t>(c.track_count()), 1);
  int64_t active = 0, taken = 0;
  for (int64_t t = 0; t < c.track_count(); ++t) {
    taking[t] = t != excluded_t && (!o.track_allowed || o.track_allowed(c.track_ids()[t]));
    const auto n = static_cast<int64_t>(c.active_rows(t).size());
    active += n;
    if (taking[t]) taken += n;
  }
  auto taking_row = [&](int64_t row) { return taking[c.track_index_of_row(row)] != 0; };
  std::vector<ChunkMatch> out;
  std::vector<Hit> hits;  // id = catalog row here; ties resolved on window id below

  // Exact scan: the windows a window index would hold (active rows) of the tracks taking part;
  // with an index, made only when a chunk needs it (see below).
  std::vector<int64_t> rows;
  std::vector<float> scores;
  auto make_rows = [&] {
    if (!rows.empty()) return;
    for (int64_t t = 0; t < c.track_count(); ++t)
      if (taking[t])
        for (int64_t r : c.active_rows(t)) rows.push_back(r);
    scores.resize(rows.size());
  };
  if (!index) make_rows();
  const int64_t excluded_windows = excluded_t >= 0 ? static_cast<int64_t>(c.rows(excluded_t).size()) : 0;

  // The chunks that vote, searched as one batch: an exact index then reads the library once
  // for all chunks instead of once per chunk.
  std::vector<int64_t> voting;
  std::vector<float> batch;
  for (int64_t i = 0; i < q.size(); ++i)
    if (q.silent.empty() || !q.silent[i]) {
      voting.push_back(i);
      batch.insert(batch.end(), q.embeddings.begin() + i * d, q.embeddings.begin() + (i + 1) * d);
    }
  SearchResult found;
  if (index) {
    // A few extra candidates so exact rescoring settles near-ties, plus room for the excluded
    // track's windows.
    // A filter leaves out a share of the windows: ask for that many times more (at most 64x;
    // a chunk left short is scanned exactly below).
    const int64_t factor = o.track_allowed && taken > 0 ? std::min<int64_t>(64, (active + taken - 1) / taken) : 1;
    found = index->search(static_cast<int64_t>(voting.size()), batch.data(),
                          (o.per_chunk + 8) * factor + excluded_windows, o.index_search);
  }
  for (size_t v = 0; v < voting.size(); ++v) {
    const int64_t i = voting[v];
    const float* e = batch.data() + v * d;
    hits.clear();
    bool scan = !index;
    if (index) {
      int64_t j = 0;
      for (; j < found.k && found.ids_row(v)[j] >= 0; ++j) {
        const int64_t id = found.ids_row(v)[j];
        const int64_t row = c.row_of_window(id);
        if (row < 0)
          throw Error("like: window " + std::to_string(id) + " of the vector index is not in the catalog (index out of date)");
        if (taking_row(row)) hits.push_back({row, dot(e, c.embedding(row), d)});
      }
      // A filter took too many of a full candidate list: this chunk's matches come from an
      // exact scan of the allowed windows instead, so they are the restricted library's.
      if (o.track_allowed && static_cast<int64_t>(hits.size()) < o.per_chunk && j == found.k) {
        hits.clear();
        make_rows();
        scan = true;
      }
    }
    // Rank by cosine, then window id (not row: rows depend on the store's order).
    if (scan) {
      score_rows(1, e, c.table().embeddings.data(), rows.data(), static_cast<int64_t>(rows.size()), d, scores.data());
      BestHits best(o.per_chunk);  // per_chunk > 0 (checked above): the library's windows are not all held
      for (size_t j = 0; j < rows.size(); ++j) best.offer(c.table().window_ids[rows[j]], scores[j]);
      hits = best.take();
    } else {
      for (auto& h : hits) h.id = c.table().window_ids[h.id];
      sort_hits(hits, o.per_chunk);
    }
    for (const Hit& h : hits) out.push_back(make_match(c, q, i, c.row_of_window(h.id), h.score));
  }
  return out;
}

std::vector<LikeResult> fuse_matches(const std::vector<ChunkMatch>& matches, const LikeOptions& o) {
  std::map<int64_t, LikeResult> by_track;  // ordered: deterministic iteration
  // Best match of each (chunk, track): smallest distance, then smallest window id.
  std::map<std::pair<int64_t, int64_t>, const ChunkMatch*> best;
  for (const ChunkMatch& m : matches) {
    const ChunkMatch*& b = best[{m.chunk, m.track_id}];
    if (!b || m.distance < b->distance || (m.distance == b->distance && m.window_id < b->window_id)) b = &m;
  }
  for (const ChunkMatch& m : matches) {
    if (o.exclude_track && m.track_id == *o.exclude_track) continue;
    if (o.one_vote_per_chunk && best[{m.chunk, m.track_id}] != &m) continue;
    LikeResult& r = by_track[m.track_id];
    r.track_id = m.track_id;
    r.votes += 1;
    r.total_similarity += m.cosine;
    r.matches.push_back(m);
  }
  int64_t max_votes = 0;
  double max_total = 0;
  for (const auto& [id, r] : by_track) {
    max_votes = std::max(max_votes, r.votes);
    max_total = std::max(max_total, r.total_similarity);
  }
  std::vector<LikeResult> out;
  for (auto& [id, r] : by_track) {
    const double vote_term = max_votes > 0 ? static_cast<double>(r.votes) / max_votes : 0.0;
    const double sim_term = max_total > 0 ? r.total_similarity / max_total : 0.0;
    r.combined = o.vote_weight * vote_term + (1.0 - o.vote_weight) * sim_term;
    std::sort(r.matches.begin(), r.matches.end(), [](const ChunkMatch& a, const ChunkMatch& b) {
      if (a.chunk != b.chunk) return a.chunk < b.chunk;
      if (a.distance != b.distance) return a.distance < b.distance;
      return a.window_id < b.window_id;
    });
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const LikeResult& a, const LikeResult& b) {
    return ranks_before(a.combined, a.track_id, b.combined, b.track_id);
  });
  if (o.k > 0 && static_cast<int64_t>(out.size()) > o.k) out.resize(static_cast<size_t>(o.k));
  return out;
}

std::vector<LikeResult> like(const Catalog& c, const VectorIndex* index, const QueryChunks& q, const LikeOptions& o) {
  return fuse_matches(match_chunks(c, index, q, o), o);
}

std::vector<LikeResult> like_source(const WindowSource& source, const QueryChunks& chunks, const LikeOptions& options,
                                    int64_t shortlist) {
  // Room for the excluded track's windows, which take shortlist places without counting.
  const int64_t n = std::min(source.size, std::max<int64_t>(shortlist, options.per_chunk + 8) +
                                              (options.exclude_track ? 1024 : 0));
  // Chunks a group at a time (a long query's shortlists would not fit in memory at once): each
  // group's chunks are matched over the union of their shortlists, then every match is fused.
  constexpr int64_t kGroup = 32;
  std::vector<ChunkMatch> matches;
  for (int64_t g = 0; g < chunks.size(); g += kGroup) {
    QueryChunks group;
    group.dim = chunks.dim;
    const int64_t end = std::min(chunks.size(), g + kGroup);
    for (int64_t i = g; i < end; ++i) {
      const float* e = chunks.embeddings.data() + i * chunks.dim;
      group.embeddings.insert(group.embeddings.end(), e, e + chunks.dim);
      group.starts.push_back(chunks.starts[i]);
      group.ends.push_back(chunks.ends[i]);
      group.silent.push_back(!chunks.silent.empty() && chunks.silent[i] ? 1 : 0);
    }
    // The chunks' shortlists on every core (each is its own scan of the compressed lists: at
    // 20 M windows ~16 ms, twenty of them were most of a query); each lands in its own slot and
    // the union is sorted, so the result does not depend on the threads.
    std::vector<std::vector<int64_t>> near(static_cast<size_t>(end - g));
    std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic, 1) if (end - g > 1)
    for (int64_t i = g; i < end; ++i) {
      if (group.silent[static_cast<size_t>(i - g)]) continue;
      try {
        near[static_cast<size_t>(i - g)] = source.shortlist(chunks.embeddings.data() + i * chunks.dim, n);
      } catch (...) {
#pragma omp critical(like_source_failure)
        if (!failure) failure = std::current_exception();
      }
    }
    if (failure) std::rethrow_exception(failure);
    std::vector<int64_t> ids;
    for (const auto& v : near) ids.insert(ids.end(), v.begin(), v.end());
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    WindowTable rows = source.windows(ids);
    if (rows.size() == 0) continue;
    const Catalog small(std::move(rows));
    for (ChunkMatch m : match_chunks(small, nullptr, group, options)) {
      m.chunk += g;
      matches.push_back(m);
    }
  }
  return fuse_matches(matches, options);
}

}  // namespace clap::search
