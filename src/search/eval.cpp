#include "search/eval.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "search/kernels.h"
#include "search/topk.h"

namespace clap::search {

ZeroShotEval evaluate_zero_shot(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                                int64_t n_labels) {
  if (truth.size() != predicted.size())
    throw Error("eval: " + std::to_string(truth.size()) + " true labels but " + std::to_string(predicted.size()) +
                " predictions");
  if (n_labels <= 0) throw Error("eval: no labels");
  ZeroShotEval e;
  e.n_labels = n_labels;
  e.n = static_cast<int64_t>(truth.size());
  e.support.assign(static_cast<size_t>(n_labels), 0);
  e.confusion.assign(static_cast<size_t>(n_labels * n_labels), 0);
  for (size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] < 0 || truth[i] >= n_labels || predicted[i] < 0 || predicted[i] >= n_labels)
      throw Error("eval: label index out of range at item " + std::to_string(i));
    e.support[truth[i]]++;
    e.confusion[truth[i] * n_labels + predicted[i]]++;
    e.correct += truth[i] == predicted[i];
  }
  e.accuracy = e.n > 0 ? static_cast<double>(e.correct) / e.n : 0.0;
  double sum = 0;
  int64_t classes = 0;
  for (int64_t l = 0; l < n_labels; ++l) {
    if (e.support[l] == 0) {
      e.per_class_accuracy.push_back(std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    const double a = static_cast<double>(e.confusion_at(l, l)) / e.support[l];
    e.per_class_accuracy.push_back(a);
    sum += a;
    ++classes;
  }
  e.balanced_accuracy = classes > 0 ? sum / classes : 0.0;
  return e;
}

std::vector<int64_t> predicted_labels(const std::vector<Classification>& results) {
  std::vector<int64_t> out;
  for (const auto& r : results) {
    std::vector<Hit> hits;
    for (size_t l = 0; l < r.probabilities.size(); ++l) hits.push_back({static_cast<int64_t>(l), r.probabilities[l]});
    sort_hits(hits, 1);
    out.push_back(hits.empty() ? -1 : hits[0].id);
  }
  return out;
}

RetrievalScores random_retrieval_scores(int64_t n, int64_t r) {
  RetrievalScores s;
  if (n <= 0 || r <= 0) return s;
  r = std::min(r, n);
  auto recall = [&](int64_t k) {
    // P(no relevant item in the top k) = Π_{i<k} (N−R−i)/(N−i).
    double miss = 1;
    for (int64_t i = 0; i < std::min(k, n); ++i) miss *= std::max<double>(0, static_cast<double>(n - r - i)) / (n - i);
    return 1 - miss;
  };
  s.r1 = recall(1);
  s.r5 = recall(5);
  s.r10 = recall(10);
  const double pair = n > 1 ? static_cast<double>(r) * (r - 1) / (static_cast<double>(n) * (n - 1)) : 0.0;
  double ap = 0;
  for (int64_t i = 1; i <= std::min<int64_t>(10, n); ++i)
    ap += (static_cast<double>(r) / n + (i - 1) * pair) / static_cast<double>(i);
  s.map10 = ap / static_cast<double>(std::min<int64_t>(r, 10));
  return s;
}

namespace {

// Metrics of one direction: queries (nq × dim) against candidates (nc × dim); relevant[q] lists
// the relevant candidate indexes of query q.
RetrievalDirection run_direction(int64_t nq, const float* queries, int64_t nc, const float* cands, int dim,
                                 const std::vector<std::vector<int64_t>>& relevant) {
  RetrievalDirection d;
  d.n_candidates = nc;
  std::vector<float> scores(static_cast<size_t>(nc));
  std::vector<uint8_t> is_rel(static_cast<size_t>(nc), 0);
  RetrievalScores sum, rnd;
  for (int64_t q = 0; q < nq; ++q) {
    if (relevant[q].empty()) continue;
    ++d.n_queries;
    score_rows(1, queries + q * dim, cands, nullptr, nc, dim, scores.data());
    const std::vector<Hit> ranked = top_k(scores.data(), nullptr, nc, std::min<int64_t>(nc, 10));
    for (int64_t c : relevant[q]) is_rel[c] = 1;
    int64_t first = -1, hits = 0;
    double ap = 0;
    for (size_t i = 0; i < ranked.size(); ++i) {
      if (!is_rel[ranked[i].id]) continue;
      if (first < 0) first = static_cast<int64_t>(i);
      ++hits;
      ap += static_cast<double>(hits) / static_cast<double>(i + 1);  // P@(i+1) at a relevant position
    }
    for (int64_t c : relevant[q]) is_rel[c] = 0;
    const int64_t r = static_cast<int64_t>(relevant[q].size());
    sum.r1 += first >= 0 && first < 1;
    sum.r5 += first >= 0 && first < 5;
    sum.r10 += first >= 0 && first < 10;
    sum.map10 += ap / static_cast<double>(std::min<int64_t>(r, 10));
    const RetrievalScores b = random_retrieval_scores(nc, r);
    rnd.r1 += b.r1;
    rnd.r5 += b.r5;
    rnd.r10 += b.r10;
    rnd.map10 += b.map10;
  }
  if (d.n_queries > 0) {
    const double n = static_cast<double>(d.n_queries);
    d.model = {sum.r1 / n, sum.r5 / n, sum.r10 / n, sum.map10 / n};
    d.random = {rnd.r1 / n, rnd.r5 / n, rnd.r10 / n, rnd.map10 / n};
  }
  return d;
}

}  // namespace

RetrievalEval evaluate_retrieval(int64_t n_audio, const float* audio, int64_t n_text, const float* text, int dim,
                                 const std::vector<int64_t>& text_audio) {
  if (static_cast<int64_t>(text_audio.size()) != n_text)
    throw Error("eval: " + std::to_string(n_text) + " captions but " + std::to_string(text_audio.size()) +
                " caption→audio links");
  if (dim <= 0) throw Error("eval: embedding dimension must be positive");
  std::vector<std::vector<int64_t>> t2a(static_cast<size_t>(n_text)), a2t(static_cast<size_t>(n_audio));
  for (int64_t t = 0; t < n_text; ++t) {
    if (text_audio[t] < 0 || text_audio[t] >= n_audio)
      throw Error("eval: caption " + std::to_string(t) + " refers to audio " + std::to_string(text_audio[t]) +
                  " of " + std::to_string(n_audio));
    t2a[t].push_back(text_audio[t]);
    a2t[text_audio[t]].push_back(t);
  }
  RetrievalEval e;
  e.text_to_audio = run_direction(n_text, text, n_audio, audio, dim, t2a);
  e.audio_to_text = run_direction(n_audio, audio, n_text, text, dim, a2t);
  return e;
}

}  // namespace clap::search
