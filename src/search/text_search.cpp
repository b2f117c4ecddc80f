#include "search/text_search.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "core/error.h"
#include "search/kernels.h"
#include "search/topk.h"
#include "search/vector_index.h"

namespace clap::search {
namespace {

// Bound on how far a candidate-selection score (centroid dot, FAISS score) may sit from the
// exact score computed later: float dot products of unit vectors in 512-d differ by < 1e-5 in
// practice. Every track within this margin of the k-th candidate is rescored exactly, so the
// selection can only differ from the exhaustive scan for scores that tie within float noise.
constexpr double kSelectionMargin = 1e-3;

void check_dim(const Catalog& c, int64_t nq, const float* queries) {
  if (nq > 0 && !queries) throw Error("text search: null queries");
  if (c.window_count() > 0 && c.dim() <= 0) throw Error("text search: catalog has no dimension");
}

// Orders track scores by score desc, track id asc and keeps k (k <= 0: all).
void rank(std::vector<TrackScore>& v, int64_t k) {
  auto less = [](const TrackScore& a, const TrackScore& b) { return ranks_before(a.score, a.track_id, b.score, b.track_id); };
  if (k > 0 && k < static_cast<int64_t>(v.size())) {
    std::partial_sort(v.begin(), v.begin() + k, v.end(), less);
    v.resize(static_cast<size_t>(k));
  } else {
    std::sort(v.begin(), v.end(), less);
  }
}

}  // namespace

TrackScore score_track(const Catalog& c, int64_t t, const float* query, const TextSearchOptions& options) {
  const auto rows = c.active_rows(t);
  std::vector<float> s(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) s[i] = dot(query, c.embedding(rows[i]), c.dim());
  TrackScore ts;
  ts.track_id = c.track_ids()[t];
  ts.stats = summarize(c, rows, s.data());
  ts.score = ts.stats.score(options.aggregate);
  ts.label = label_for(ts.score, options.thresholds);
  return ts;
}

std::vector<std::vector<TrackScore>> text_search_exhaustive(const Catalog& c, int64_t nq, const float* queries,
                                                            const TextSearchOptions& options) {
  std::vector<int64_t> all(static_cast<size_t>(c.track_count()));
  for (size_t t = 0; t < all.size(); ++t) all[t] = static_cast<int64_t>(t);
  return text_search_tracks(c, all, nq, queries, options);
}

std::vector<std::vector<TrackScore>> text_search_tracks(const Catalog& c, const std::vector<int64_t>& track_indices,
                                                        int64_t nq, const float* queries, const TextSearchOptions& options) {
  check_dim(c, nq, queries);
  const auto nt = static_cast<int64_t>(track_indices.size());
  std::vector<std::vector<TrackScore>> out(static_cast<size_t>(std::max<int64_t>(nq, 0)));
  for (auto& v : out) v.resize(static_cast<size_t>(nt));
  int64_t windows = 0;
  for (int64_t t : track_indices) windows += static_cast<int64_t>(c.active_rows(t).size());
  // One pass over the windows: each track's windows are read once and compared with every query.
#pragma omp parallel for schedule(dynamic, 16) if (worth_threads(windows * nq * c.dim()))
  for (int64_t i = 0; i < nt; ++i)
    for (int64_t q = 0; q < nq; ++q) out[q][i] = score_track(c, track_indices[i], queries + q * c.dim(), options);
  for (auto& v : out) rank(v, options.k);
  return out;
}

TextSearcher::TextSearcher(const Catalog& catalog) : catalog_(catalog) {
  const int d = catalog.dim();
  centroids_.assign(static_cast<size_t>(catalog.track_count()) * d, 0.0f);
  std::vector<double> sum(static_cast<size_t>(d));
  for (int64_t t = 0; t < catalog.track_count(); ++t) {
    std::fill(sum.begin(), sum.end(), 0.0);
    const auto rows = catalog.active_rows(t);
    for (int64_t r : rows)
      for (int j = 0; j < d; ++j) sum[j] += catalog.embedding(r)[j];
    for (int j = 0; j < d; ++j) centroids_[t * d + j] = static_cast<float>(sum[j] / static_cast<double>(rows.size()));
  }
}

std::vector<std::vector<TrackScore>> TextSearcher::search(int64_t nq, const float* queries, const TextSearchOptions& options,
                                                          const VectorIndex* window_index) const {
  check_dim(catalog_, nq, queries);
  if (window_index && window_index->size() > 0 && window_index->dim() != catalog_.dim())
    throw Error("text search: window index dimension " + std::to_string(window_index->dim()) +
                " differs from the catalog's " + std::to_string(catalog_.dim()));
  std::vector<std::vector<TrackScore>> out;
  for (int64_t q = 0; q < nq; ++q) {
    const float* query = queries + q * catalog_.dim();
    if (options.aggregate == Aggregate::Mean)
      out.push_back(search_mean(query, options));
    else if (window_index)
      out.push_back(search_max(*window_index, query, options));
    else
      out.push_back(text_search_exhaustive(catalog_, 1, query, options)[0]);
  }
  return out;
}

std::vector<TrackScore> TextSearcher::search_mean(const float* query, const TextSearchOptions& options) const {
  const int64_t nt = catalog_.track_count();
  const int64_t k = options.k > 0 ? std::min(options.k, nt) : nt;
  if (nt == 0) return {};
  std::vector<float> approx(static_cast<size_t>(nt));
  score_rows(1, query, centroids_.data(), nullptr, nt, catalog_.dim(), approx.data());
  std::vector<float> sorted = approx;
  std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end(), std::greater<float>());
  const double cut = static_cast<double>(sorted[k - 1]) - kSelectionMargin;
  std::vector<TrackScore> cand;
  for (int64_t t = 0; t < nt; ++t)
    if (approx[t] >= cut) cand.push_back(score_track(catalog_, t, query, options));
  rank(cand, k);
  return cand;
}

std::vector<TrackScore> TextSearcher::search_max(const VectorIndex& window_index, const float* query,
                                                const TextSearchOptions& options) const {
  // Windows come back best first; a track's first window in that order is its max. Fetch until
  // k distinct tracks are seen and the next window scores below the k-th track's best by more
  // than the margin, so that every track that could still rank is rescored exactly.
  const int64_t n = window_index.size();
  const int64_t want = options.k > 0 ? std::min(options.k, catalog_.track_count()) : catalog_.track_count();
  if (want == 0 || n == 0) return {};
  int64_t fetch = std::min<int64_t>(n, 8 * want + 64);
  std::vector<int64_t> tracks;  // track indexes, in discovery order
  while (true) {
    tracks.clear();
    std::unordered_set<int64_t> seen;
    const SearchResult r = window_index.search(1, query, fetch, options.index_search);
    double kth = 0;
    bool complete = false;
    for (int64_t j = 0; j < r.k && r.ids[j] >= 0; ++j) {
      if (static_cast<int64_t>(tracks.size()) >= want && r.scores[j] < kth - kSelectionMargin) {
        complete = true;
        break;
      }
      const int64_t row = catalog_.row_of_window(r.ids[j]);
      if (row < 0)
        throw Error("text search: window " + std::to_string(r.ids[j]) +
                    " of the vector index is not in the catalog (index out of date)");
      const int64_t t = catalog_.track_index_of_row(row);
      if (seen.insert(t).second) {
        tracks.push_back(t);
        if (static_cast<int64_t>(tracks.size()) == want) kth = r.scores[j];
      }
    }
    if (complete || fetch >= n) break;
    fetch = std::min(n, fetch * 4);
  }
  std::vector<TrackScore> out;
  for (int64_t t : tracks) out.push_back(score_track(catalog_, t, query, options));
  rank(out, want);
  return out;
}

namespace {

// Candidate tracks read and scored at a time: memory stays bounded when a query asks for every
// track (k = 0) of a library larger than memory.
constexpr size_t kCandidateBatch = 2048;
// Windows a Max query's shortlist may grow to; a query wanting more tracks than its shortlist
// can settle scores every track instead.
constexpr int64_t kMaxShortlist = int64_t{1} << 18;

// The candidates' windows as small catalogs, each track scored exactly, ranked and cut to k.
std::vector<TrackScore> score_candidates(const WindowSource& source, const std::vector<int64_t>& track_ids,
                                         const float* query, const TextSearchOptions& options, int64_t k) {
  std::vector<TrackScore> out;
  for (size_t at = 0; at < track_ids.size(); at += kCandidateBatch) {
    const std::vector<int64_t> part(track_ids.begin() + static_cast<ptrdiff_t>(at),
                                    track_ids.begin() + static_cast<ptrdiff_t>(std::min(track_ids.size(), at + kCandidateBatch)));
    WindowTable rows = source.track_windows(part);
    if (rows.size() == 0) continue;
    const Catalog small(std::move(rows));
    for (int64_t t = 0; t < small.track_count(); ++t) out.push_back(score_track(small, t, query, options));
  }
  rank(out, k);
  return out;
}

std::vector<TrackScore> source_mean(const QuantizedTracks& tracks, const std::vector<float>& norms,
                                    const WindowSource& source, const float* query, const TextSearchOptions& options,
                                    const std::function<bool(int64_t)>& track_allowed) {
  // search_mean's rule (candidates: every track whose centroid score norm·(q·x) is within the
  // margin of the k-th), in two steps. The 8-bit scores, within their bound (plus the float
  // product's rounding), choose every track that could pass it; their float32 embeddings (one
  // row a track, far cheaper to read than its windows) then apply it exactly: the candidates are
  // those the float32 embeddings of every track would give.
  const int64_t nt = tracks.size();
  const int64_t k = options.k > 0 ? std::min(options.k, nt) : nt;
  if (nt == 0) return {};
  std::vector<float> approx(static_cast<size_t>(nt));
  tracks.dots(query, approx.data());
  const double q_norm = std::sqrt(static_cast<double>(dot(query, query, tracks.dim())));
  const auto bounds = [&](int64_t t) -> std::pair<double, double> {
    const double a = static_cast<double>(approx[t] * norms[t]);
    const double b = norms[t] * tracks.error_bound(t, q_norm) * (1 + 1e-5) + 0x1p-22 * (std::fabs(a) + norms[t] * q_norm);
    return {a - b, a + b + kSelectionMargin};
  };
  std::vector<int64_t> maybe;
  const auto skip = [&](int64_t row) { return track_allowed && !track_allowed(tracks.ids()[row]); };
  for (int64_t row : rows_that_may_rank(nt, k, bounds, skip)) maybe.push_back(tracks.ids()[row]);
  const Embeddings exact = source.track_embeddings(maybe);
  const int64_t n = exact.size();
  if (n == 0) return {};
  std::vector<float> score(static_cast<size_t>(n));
  score_rows(1, query, exact.data.data(), nullptr, n, exact.dim, score.data());
  for (int64_t i = 0; i < n; ++i) score[i] *= norms[static_cast<size_t>(tracks.find(exact.ids[i]))];
  double cut = -INFINITY;
  if (n > k) {
    std::vector<float> sorted = score;
    std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end(), std::greater<float>());
    cut = static_cast<double>(sorted[k - 1]) - kSelectionMargin;
  }
  std::vector<int64_t> cand;
  for (int64_t i = 0; i < n; ++i)
    if (score[i] >= cut) cand.push_back(exact.ids[i]);
  return score_candidates(source, cand, query, options, k);
}

std::vector<TrackScore> source_max(const QuantizedTracks& tracks, const WindowSource& source, const float* query,
                                   const TextSearchOptions& options, int64_t shortlist) {
  // As search_max: windows best first (exact scores of the shortlist), a track's first window
  // is its max; take tracks until k are seen and the next window is below the k-th track's
  // best by more than the margin; a longer shortlist when the first did not settle it.
  const int64_t want = options.k > 0 ? std::min(options.k, tracks.size()) : tracks.size();
  if (want == 0 || source.size == 0) return {};
  if (8 * want + 64 > kMaxShortlist) return score_candidates(source, tracks.ids(), query, options, want);
  int64_t n = std::min(source.size, std::max(shortlist, 8 * want + 64));
  std::vector<int64_t> cand;
  while (true) {
    cand.clear();
    const WindowTable rows = source.windows(source.shortlist(query, n));
    std::vector<float> scores(static_cast<size_t>(rows.size()));
    score_rows(1, query, rows.embeddings.data(), nullptr, rows.size(), rows.dim, scores.data());
    std::vector<int64_t> order(static_cast<size_t>(rows.size()));
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return ranks_before(scores[a], rows.window_ids[a], scores[b], rows.window_ids[b]);
    });
    std::unordered_set<int64_t> seen;
    double kth = 0;
    bool complete = false;
    for (int64_t i : order) {
      if (static_cast<int64_t>(cand.size()) >= want && scores[i] < kth - kSelectionMargin) {
        complete = true;
        break;
      }
      if (seen.insert(rows.track_ids[i]).second) {
        cand.push_back(rows.track_ids[i]);
        if (static_cast<int64_t>(cand.size()) == want) kth = scores[i];
      }
    }
    if (complete || n >= std::min(source.size, kMaxShortlist)) break;
    n = std::min({source.size, kMaxShortlist, n * 4});
  }
  return score_candidates(source, cand, query, options, want);
}

}  // namespace

std::vector<std::vector<TrackScore>> text_search_source(const QuantizedTracks& tracks, const std::vector<float>& centroid_norms,
                                                        const WindowSource& source, int64_t nq, const float* queries,
                                                        const TextSearchOptions& options, int64_t shortlist,
                                                        const std::function<bool(int64_t track_id)>& track_allowed) {
  if (track_allowed && options.aggregate != Aggregate::Mean)
    throw std::logic_error("text search: a track filter applies to the mean aggregate only");
  if (centroid_norms.size() != tracks.ids().size())
    throw Error("text search: " + std::to_string(centroid_norms.size()) + " centroid norms for " +
                std::to_string(tracks.size()) + " tracks");
  if (nq > 0 && !queries) throw Error("text search: null queries");
  std::vector<std::vector<TrackScore>> out;
  for (int64_t q = 0; q < nq; ++q) {
    const float* query = queries + q * tracks.dim();
    out.push_back(options.aggregate == Aggregate::Mean ? source_mean(tracks, centroid_norms, source, query, options, track_allowed)
                                                       : source_max(tracks, source, query, options, shortlist));
  }
  return out;
}

}  // namespace clap::search
