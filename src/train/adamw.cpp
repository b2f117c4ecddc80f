#include "train/adamw.h"

#include <cmath>

#include "core/error.h"

namespace clap::train {

size_t AdamW::add(size_t size) {
  m_.emplace_back(size, 0.0);
  v_.emplace_back(size, 0.0);
  return m_.size() - 1;
}

void AdamW::step(const std::vector<std::vector<double>*>& params, const std::vector<const std::vector<double>*>& grads) {
  if (params.size() != m_.size() || grads.size() != m_.size()) throw Error("AdamW: step with a different set of tensors");
  ++t_;
  const double c1 = 1.0 - std::pow(s_.beta1, static_cast<double>(t_));
  const double c2 = 1.0 - std::pow(s_.beta2, static_cast<double>(t_));
  for (size_t i = 0; i < params.size(); ++i) {
    std::vector<double>& p = *params[i];
    const std::vector<double>& g = *grads[i];
    if (p.size() != m_[i].size() || g.size() != m_[i].size()) throw Error("AdamW: a tensor changed size");
    for (size_t k = 0; k < p.size(); ++k) {
      p[k] *= 1.0 - s_.lr * s_.weight_decay;
      m_[i][k] = s_.beta1 * m_[i][k] + (1.0 - s_.beta1) * g[k];
      v_[i][k] = s_.beta2 * v_[i][k] + (1.0 - s_.beta2) * g[k] * g[k];
      const double denom = std::sqrt(v_[i][k]) / std::sqrt(c2) + s_.eps;
      p[k] -= s_.lr / c1 * m_[i][k] / denom;
    }
  }
}

}  // namespace clap::train
