#include "search/playlist.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_set>

#include "core/deadline.h"
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
  const int64_t row = tracks.find(id);
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
    throw Error("playlist: diversity must lie between 0 and 1, got " + std::to_string(lambda));
  if (options.length < 1) throw Error("playlist: the length must be at least 1, got " + std::to_string(options.length));
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

  // The pool: the nearest tracks to the query, seeds left out (ranked by cosine, then id).
  const int64_t pool_size = options.candidates > 0 ? options.candidates : std::max<int64_t>(200, 20 * options.length);
  const int64_t left_out = options.left_out ? static_cast<int64_t>(options.left_out->size()) : 0;
  const int64_t wanted = std::min<int64_t>(tracks.size(), pool_size + static_cast<int64_t>(out.size()) + left_out);
  const std::vector<Hit> nearest = similar(tracks, 1, query, nullptr, wanted)[0];
  std::vector<Hit> pool;
  for (const Hit& h : nearest)
    if (!in_playlist.count(h.id) && !(options.left_out && options.left_out->count(h.id)) &&
        static_cast<int64_t>(pool.size()) < pool_size)
      pool.push_back(h);

  std::vector<int64_t> pool_rows(pool.size());
  std::vector<double> pool_norms(pool.size());
  for (size_t c = 0; c < pool.size(); ++c) {
    pool_rows[c] = tracks.find(pool[c].id);
    pool_norms[c] = norm_of(tracks.row(pool_rows[c]), dim);
  }
  // max_sim[c] = max over the selected tracks of cos(s, c), kept up to date as tracks are picked.
  std::vector<double> max_sim(pool.size(), -INFINITY);
  auto account_for = [&](int64_t row) {
    const double n = norm_of(tracks.row(row), dim);
    for (size_t c = 0; c < pool.size(); ++c)
      max_sim[c] = std::max(max_sim[c], cosine(tracks.row(row), n, tracks.row(pool_rows[c]), pool_norms[c], dim));
  };
  for (int64_t row : selected_rows) account_for(row);

  std::vector<bool> taken(pool.size(), false);
  while (static_cast<int64_t>(out.size()) < options.length) {
    check_deadline("playlist");
    int64_t best = -1;
    double best_score = 0;
    for (size_t c = 0; c < pool.size(); ++c) {
      if (taken[c]) continue;
      const double redundancy = std::isinf(max_sim[c]) ? 0.0 : max_sim[c];  // nothing selected yet
      const double score = (1.0 - lambda) * pool[c].score - lambda * redundancy;
      if (best < 0 || ranks_before(score, pool[c].id, best_score, pool[best].id)) {
        best = static_cast<int64_t>(c);
        best_score = score;
      }
    }
    if (best < 0) break;  // the pool is used up: fewer tracks than asked for
    taken[best] = true;
    out.push_back(pool[best]);
    account_for(pool_rows[best]);
  }
  return out;
}

std::vector<Hit> path_between(const Embeddings& tracks, int64_t from_id, int64_t to_id, int64_t length) {
  tracks.check("path");
  if (length < 2) throw Error("path: a path needs at least 2 tracks (FROM and TO), got " + std::to_string(length));
  if (from_id == to_id) throw Error("path: FROM and TO are the same track (" + std::to_string(from_id) + ")");
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
