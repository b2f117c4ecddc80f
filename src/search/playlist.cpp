#include "search/playlist.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <string>
#include <unordered_set>

#include "core/deadline.h"
#include "core/embedding_rows.h"
#include "core/error.h"
#include "core/vector_math.h"
#include "search/similar.h"


namespace clap::search {
namespace {

double norm_of(const float* x, int dim) { return std::sqrt(static_cast<double>(dot(x, x, dim))); }

// The cosine `similar` reports: one clap::dot over the product of the norms (0 for a zero vector).
double cosine(const float* x, double nx, const float* y, double ny, int dim) {
  return nx > 0 && ny > 0 ? static_cast<double>(dot(x, y, dim)) / (nx * ny) : 0.0;
}

int64_t row_of(const Embeddings& tracks, int64_t id, const std::string& what) {
  const int64_t row = find_row(tracks, id);
  if (row < 0) throw Error(what + ": track " + std::to_string(id) + " has no track embedding");
  return row;
}

}  // namespace

std::vector<float> mean_direction(int64_t n, int dim, const float* vectors) {
  std::vector<float> sum(static_cast<size_t>(dim), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < dim; ++j) sum[j] += vectors[i * dim + j];
  l2_normalize_rows(sum.data(), 1, dim);
  return sum;
}

std::vector<Hit> mmr_playlist(const Embeddings& tracks, const float* query, const std::vector<int64_t>& seeds,
                              const RadioOptions& options) {
  tracks.check("playlist");
  const double lambda = options.diversity;
  if (!(lambda >= 0.0 && lambda <= 1.0))
    throw InvalidArgument("playlist: diversity must lie between 0 and 1, got " + std::to_string(lambda));
  if (options.length < 1) throw InvalidArgument("playlist: the length must be at least 1, got " + std::to_string(options.length));
  const int dim = tracks.dim;
  const double query_norm = norm_of(query, dim);

  std::vector<Hit> out;
  std::vector<int64_t> selected_rows;  // rows of the tracks in the playlist so far
  std::unordered_set<int64_t> in_playlist;
  for (int64_t id : seeds) {
    if (!in_playlist.insert(id).second) continue;  // a seed named twice plays once
    const int64_t row = row_of(tracks, id, "playlist seed");
    out.push_back({id, cosine(query, query_norm, tracks.row(row), norm_of(tracks.row(row), dim), dim)});
    selected_rows.push_back(row);
  }
  if (static_cast<int64_t>(out.size()) > options.length)
    throw Error("playlist: " + std::to_string(out.size()) + " seed tracks do not fit in a playlist of " +
                std::to_string(options.length));

  // The pool: the nearest tracks to the query, seeds and left_out tracks left out (ranked by
  // cosine, then id). Without a ranking of its own the float32 scan is asked once for enough to
  // fill it; the first-pass ranking (RadioOptions::nearest) costs more as k grows, so it is asked
  // for the pool and a margin, and for four times more while what it gave is not enough: a
  // longer ranking starts with the shorter one, so the pool is the same either way.
  const int64_t pool_size = options.candidates > 0 ? options.candidates : std::max<int64_t>(200, 20 * options.length);
  const int64_t left_out = options.left_out ? static_cast<int64_t>(options.left_out->size()) : 0;
  const int64_t taken_before = static_cast<int64_t>(out.size());
  const int64_t n = tracks.size();
  std::vector<Hit> pool;
  for (int64_t k = std::min<int64_t>(n, pool_size + taken_before + (options.nearest ? std::min(left_out, pool_size) : left_out));;
       k = std::min<int64_t>(n, k * 4)) {
    const std::vector<Hit> nearest = options.nearest ? options.nearest(k) : similar(tracks, 1, query, nullptr, k)[0];
    pool.clear();
    for (const Hit& h : nearest)
      if (!in_playlist.count(h.id) && !(options.left_out && options.left_out->count(h.id)) &&
          static_cast<int64_t>(pool.size()) < pool_size)
        pool.push_back(h);
    if (static_cast<int64_t>(pool.size()) == pool_size || static_cast<int64_t>(nearest.size()) < k || k >= n) break;
  }

  std::vector<int64_t> pool_rows(pool.size());
  std::vector<double> pool_norms(pool.size());
  for (size_t c = 0; c < pool.size(); ++c) {
    pool_rows[c] = find_row(tracks, pool[c].id);
    pool_norms[c] = norm_of(tracks.row(pool_rows[c]), dim);
  }
  std::vector<double> selected_norms;
  for (int64_t row : selected_rows) selected_norms.push_back(norm_of(tracks.row(row), dim));
  // max_sim[c] = max over the first seen[c] selected tracks of cos(s, c). The MMR score of c
  // only falls as more selected tracks are accounted for (max_sim only grows, and rounding is
  // monotonic), so a score with some of them left out is an upper bound: c is brought up to
  // date only when that bound is the best of all (lazy greedy). The picks, their order and every
  // score are those of bringing every candidate up to date at every pick (the same cosines, in
  // the same order, into the same max), with a fraction of the products: a radio of 102 over a
  // pool of 2,040 made 208,000 of them.
  std::vector<double> max_sim(pool.size(), -INFINITY);
  std::vector<size_t> seen(pool.size(), 0);
  auto bring_up_to_date = [&](size_t c) {
    for (; seen[c] < selected_rows.size(); ++seen[c]) {
      const size_t s = seen[c];
      max_sim[c] = std::max(max_sim[c], cosine(tracks.row(selected_rows[s]), selected_norms[s], tracks.row(pool_rows[c]),
                                               pool_norms[c], dim));
    }
  };
  auto mmr_score = [&](size_t c) {
    const double redundancy = std::isinf(max_sim[c]) ? 0.0 : max_sim[c];  // nothing selected yet
    return (1.0 - lambda) * pool[c].score - lambda * redundancy;
  };
  struct Candidate {
    double bound;  // the MMR score with max_sim[c] as it was when queued
    int64_t id;
    size_t c;
  };
  struct RanksAfter {
    bool operator()(const Candidate& a, const Candidate& b) const { return ranks_before(b.bound, b.id, a.bound, a.id); }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, RanksAfter> queue;
  // With nothing selected the redundancy is 0, which is no bound once a track is selected (a
  // cosine may be negative): every candidate is brought up to date with the first selected track.
  std::vector<bool> picked(pool.size(), false);
  auto queue_all = [&] {
    queue = {};
    for (size_t c = 0; c < pool.size(); ++c) {
      if (picked[c]) continue;
      if (!selected_rows.empty()) bring_up_to_date(c);
      queue.push({mmr_score(c), pool[c].id, c});
    }
  };
  queue_all();
  while (static_cast<int64_t>(out.size()) < options.length && !queue.empty()) {
    check_deadline("playlist");
    const Candidate top = queue.top();
    queue.pop();
    if (seen[top.c] < selected_rows.size()) {  // a bound: brought up to date and queued again
      bring_up_to_date(top.c);
      queue.push({mmr_score(top.c), top.id, top.c});
      continue;
    }
    // Up to date and not below any other's bound: the best (ties to the smaller id).
    picked[top.c] = true;
    out.push_back(pool[top.c]);
    selected_rows.push_back(pool_rows[top.c]);
    selected_norms.push_back(pool_norms[top.c]);
    if (selected_rows.size() == 1) queue_all();
  }
  return out;
}

std::vector<Hit> path_between(const Embeddings& tracks, int64_t from_id, int64_t to_id, int64_t length) {
  tracks.check("path");
  // Bad arguments (a front end's usage error, Python's InvalidInputError), not a failure.
  if (length < 2) throw InvalidArgument("path: a path needs at least 2 tracks (FROM and TO), got " + std::to_string(length));
  if (from_id == to_id) throw InvalidArgument("path: FROM and TO are the same track (" + std::to_string(from_id) + ")");
  const int dim = tracks.dim;
  const float* a = tracks.row(row_of(tracks, from_id, "path FROM"));
  const float* b = tracks.row(row_of(tracks, to_id, "path TO"));
  const int64_t n = std::min<int64_t>(length, tracks.size());

  std::vector<float> targets(static_cast<size_t>(n) * dim);
  for (int64_t i = 0; i < n; ++i) {
    const float t = static_cast<float>(static_cast<double>(i) / static_cast<double>(n - 1));
    for (int j = 0; j < dim; ++j) targets[i * dim + j] = (1.0f - t) * a[j] + t * b[j];
  }
  l2_normalize_rows(targets.data(), n, dim);

  // At step i at most n tracks are taken (FROM, TO and the steps before), so each target's
  // n + 1 nearest tracks always hold one that is free.
  const auto nearest = similar(tracks, n, targets.data(), nullptr, std::min<int64_t>(tracks.size(), n + 1));
  std::unordered_set<int64_t> used{from_id, to_id};
  std::vector<Hit> out;
  auto score_of = [&](int64_t i, const float* track) {
    const float* target = targets.data() + i * dim;
    return cosine(target, norm_of(target, dim), track, norm_of(track, dim), dim);
  };
  out.push_back({from_id, score_of(0, a)});
  for (int64_t i = 1; i + 1 < n; ++i)
    for (const Hit& h : nearest[i])
      if (used.insert(h.id).second) {
        out.push_back(h);
        break;
      }
  out.push_back({to_id, score_of(n - 1, b)});
  return out;
}

}  // namespace clap::search
