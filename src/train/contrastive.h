// The symmetric InfoNCE loss of CLIP and LAION's CLAP: for n pairs (audio i, text i),
// logits = exp(logit_scale) · A·Tᵀ, loss = (CE(logits, i) + CE(logitsᵀ, i)) / 2, and its
// gradients with respect to both embeddings and the logit scale. (transformers'
// ClapModel(return_loss=True) computes both terms text -> audio; this is the symmetric one.)
#pragma once
#include <cstdint>
#include <vector>

namespace clap::train {

struct ContrastiveResult {
  double loss = 0;
  std::vector<double> logits_per_audio;  // [n, n]
  std::vector<double> d_audio, d_text;   // d loss / d embeddings, [n, d]
  double d_logit_scale = 0;              // d loss / d logit_scale (the log of the scale)
};

// audio, text: n rows of d values each (normalised embeddings).
ContrastiveResult symmetric_infonce(const std::vector<double>& audio, const std::vector<double>& text, int64_t n, int64_t d,
                                    double logit_scale);

}  // namespace clap::train
