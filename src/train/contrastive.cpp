#include "train/contrastive.h"

#include <algorithm>
#include <cmath>

namespace clap::train {

ContrastiveResult symmetric_infonce(const std::vector<double>& a, const std::vector<double>& t, int64_t n, int64_t d,
                                    double logit_scale) {
  ContrastiveResult r;
  const double scale = std::exp(logit_scale);
  std::vector<double> sim(static_cast<size_t>(n * n));  // A·Tᵀ
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t k = 0; k < d; ++k) s += a[i * d + k] * t[j * d + k];
      sim[i * n + j] = s;
    }
  r.logits_per_audio.resize(sim.size());
  for (size_t i = 0; i < sim.size(); ++i) r.logits_per_audio[i] = scale * sim[i];
  // Softmax over rows (audio -> texts) and over columns (text -> audios); the gradient of the
  // mean cross-entropy with respect to a logit is (softmax - onehot) / n, halved for the average.
  std::vector<double> g(static_cast<size_t>(n * n), 0.0);  // d loss / d logits_per_audio
  double loss = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t i = 0; i < n; ++i) {
      auto at = [&](int64_t j) -> size_t { return pass == 0 ? static_cast<size_t>(i * n + j) : static_cast<size_t>(j * n + i); };
      double m = -INFINITY;
      for (int64_t j = 0; j < n; ++j) m = std::max(m, r.logits_per_audio[at(j)]);
      double z = 0;
      for (int64_t j = 0; j < n; ++j) z += std::exp(r.logits_per_audio[at(j)] - m);
      loss += (m + std::log(z) - r.logits_per_audio[at(i)]) / (2.0 * n);
      for (int64_t j = 0; j < n; ++j)
        g[at(j)] += (std::exp(r.logits_per_audio[at(j)] - m) / z - (j == i ? 1.0 : 0.0)) / (2.0 * n);
    }
  }
  r.loss = loss;
  // logits = scale · A·Tᵀ: dA = scale · g·T, dT = scale · gᵀ·A, d logit_scale = Σ g ∘ logits.
  r.d_audio.assign(static_cast<size_t>(n * d), 0.0);
  r.d_text.assign(static_cast<size_t>(n * d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double gij = g[i * n + j] * scale;
      for (int64_t k = 0; k < d; ++k) {
        r.d_audio[i * d + k] += gij * t[j * d + k];
        r.d_text[j * d + k] += gij * a[i * d + k];
      }
    }
  for (size_t i = 0; i < g.size(); ++i) r.d_logit_scale += g[i] * r.logits_per_audio[i];
  return r;
}

}  // namespace clap::train
