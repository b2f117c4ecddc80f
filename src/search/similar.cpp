#include "search/similar.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "core/error.h"
#include "search/kernels.h"

namespace clap::search {
namespace {

// Norms, so scores are true cosines even if a stored embedding is slightly off unit length.
std::vector<double> norms(const Embeddings& e) {
  std::vector<double> n(static_cast<size_t>(e.size()));
  for (int64_t i = 0; i < e.size(); ++i) n[i] = std::sqrt(static_cast<double>(dot(e.row(i), e.row(i), e.dim)));
  return n;
}

double cosine(double dot_ab, double na, double nb) { return na > 0 && nb > 0 ? dot_ab / (na * nb) : 0.0; }

}  // namespace

std::vector<std::vector<Hit>> similar(const Embeddings& tracks, int64_t nq, const float* queries,
                                      const int64_t* exclude_ids, int64_t k) {
  tracks.check("similar");
  const auto n = norms(tracks);
  std::vector<std::vector<Hit>> out(static_cast<size_t>(std::max<int64_t>(nq, 0)));
  // Queries are scored in blocks (one pass over the tracks per block, parallel when large),
  // at most ~16M scores at once; each score is one clap::dot, so blocks change no bit.
  const int64_t nt = tracks.size();
  const int64_t block = std::max<int64_t>(1, std::min<int64_t>(nq, (int64_t{1} << 24) / std::max<int64_t>(nt, 1)));
  std::vector<float> scores;
  for (int64_t q = 0; q < nq; ++q) {
    const float* qv = queries + q * tracks.dim;
    if (q % block == 0) {
      const int64_t m = std::min(block, nq - q);
      scores.resize(static_cast<size_t>(m * nt));
      score_rows(m, qv, tracks.data.data(), nullptr, nt, tracks.dim, scores.data());
    }
    const float* s = scores.data() + (q % block) * nt;
    const double nqv = std::sqrt(static_cast<double>(dot(qv, qv, tracks.dim)));
    const int64_t skip = exclude_ids ? exclude_ids[q] : -1;
    // Only the k best are held (BestHits: the same hits in the same order as sorting them all).
    BestHits best(k);
    for (int64_t i = 0; i < nt; ++i)
      if (skip < 0 || tracks.ids[i] != skip) best.offer(tracks.ids[i], cosine(s[i], nqv, n[i]));
    out[q] = best.take();
  }
  return out;
}

std::vector<Hit> similar_to_track(const Embeddings& tracks, int64_t track_id, int64_t k) {
  const int64_t i = tracks.find(track_id);
  if (i < 0) throw Error("similar: track " + std::to_string(track_id) + " is not in the index");
  return similar(tracks, 1, tracks.row(i), &track_id, k)[0];
}

SimilarityMatrix similarity_matrix(const Embeddings& tracks, const std::vector<int64_t>& subset) {
  tracks.check("matrix");
  SimilarityMatrix m;
  std::vector<int64_t> rows;
  if (subset.empty()) {
    m.ids = tracks.ids;
    for (int64_t i = 0; i < tracks.size(); ++i) rows.push_back(i);
  } else {
    std::unordered_map<int64_t, int64_t> pos;
    for (int64_t i = 0; i < tracks.size(); ++i) pos[tracks.ids[i]] = i;
    for (int64_t id : subset) {
      auto it = pos.find(id);
      if (it == pos.end()) throw Error("matrix: track " + std::to_string(id) + " is not in the index");
      m.ids.push_back(id);
      rows.push_back(it->second);
    }
  }
  const size_t n = rows.size();
  std::vector<double> nr(n);
  for (size_t i = 0; i < n; ++i) nr[i] = std::sqrt(static_cast<double>(dot(tracks.row(rows[i]), tracks.row(rows[i]), tracks.dim)));
  m.values.assign(n * n, 0.0);
  // Upper triangle computed once and mirrored: symmetric by construction. The diagonal is set
  // to exactly 1 (a non-zero vector's cosine with itself) instead of carrying rounding noise.
#pragma omp parallel for schedule(dynamic, 8) if (worth_threads(static_cast<int64_t>(n * n / 2) * tracks.dim))
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i)
    for (size_t j = static_cast<size_t>(i); j < n; ++j) {
      const double c = i == static_cast<int64_t>(j) && nr[i] > 0
                           ? 1.0
                           : cosine(dot(tracks.row(rows[i]), tracks.row(rows[j]), tracks.dim), nr[i], nr[j]);
      m.values[i * n + j] = m.values[j * n + i] = c;
    }
  return m;
}

}  // namespace clap::search
