// Evaluation: zero-shot classification accuracy and cross-modal retrieval metrics, each with
// what chance would give, so a number can be read at a glance.
#pragma once
#include <cstdint>
#include <vector>

#include "search/classify.h"

namespace clap::search {

struct ZeroShotEval {
  int64_t n_labels = 0;
  int64_t n = 0, correct = 0;
  double accuracy = 0;                     // correct / n
  double balanced_accuracy = 0;            // mean per-class accuracy over classes with support
  std::vector<int64_t> support;            // per class: items whose true label it is
  std::vector<double> per_class_accuracy;  // correct / support; NaN when support is 0
  std::vector<int64_t> confusion;          // n_labels², row = true label, column = predicted
  int64_t confusion_at(int64_t truth, int64_t predicted) const { return confusion[truth * n_labels + predicted]; }
};

// truth[i], predicted[i] are label indexes in [0, n_labels). Throws clap::Error otherwise.
ZeroShotEval evaluate_zero_shot(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                                int64_t n_labels);
// The predicted label of each classification (its top label; ties go to the lower index).
std::vector<int64_t> predicted_labels(const std::vector<Classification>& results);

struct RetrievalScores {
  double r1 = 0, r5 = 0, r10 = 0;  // fraction of queries with a relevant item in the top 1/5/10
  double map10 = 0;                // mean over queries of AP@10 (see below)
};

struct RetrievalDirection {
  int64_t n_queries = 0, n_candidates = 0;
  RetrievalScores model;
  // Expected scores of a uniformly random ranking, computed exactly by closed form (not by
  // sampling): with N candidates and R relevant items for a query,
  //   R@k    = 1 − C(N−R, k) / C(N, k)          (= k/N when R = 1)
  //   AP@10  = 1/min(R,10) · Σ_{i≤min(10,N)} (1/i)·(R/N + (i−1)·R(R−1)/(N(N−1)))
  //            (= H_min(10,N) / N when R = 1)
  // averaged over the queries.
  RetrievalScores random;
};

struct RetrievalEval {
  RetrievalDirection text_to_audio, audio_to_text;
};

// Audio a (n_audio × dim) and captions (n_text × dim), caption t describing audio
// text_audio[t]; several captions may share an audio. Similarity = dot product of the
// (normalised) embeddings; rankings break ties by candidate index. Text → audio: each caption
// has one relevant audio. Audio → text: every caption of the audio is relevant (audios with
// no caption are not queries). AP@10 = 1/min(R,10) · Σ_{i≤10} P@i · rel_i, which for one
// relevant item is 1/rank when rank ≤ 10, else 0.
RetrievalEval evaluate_retrieval(int64_t n_audio, const float* audio, int64_t n_text, const float* text, int dim,
                                 const std::vector<int64_t>& text_audio);

// Expected random-ranking scores for N candidates and R relevant items (the closed forms above).
RetrievalScores random_retrieval_scores(int64_t n_candidates, int64_t n_relevant);

}  // namespace clap::search
