#include "search/classify.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "search/kernels.h"

namespace clap::search {

std::string format_prompt(const std::string& templ, const std::string& label) {
  if (templ.find("{}") == std::string::npos)
    throw Error("label template '" + templ + "' has no {} where the label goes");
  std::string out;
  size_t pos = 0;
  for (size_t at; (at = templ.find("{}", pos)) != std::string::npos; pos = at + 2) out += templ.substr(pos, at - pos) + label;
  return out + templ.substr(pos);
}

std::vector<std::string> format_prompts(const std::string& templ, const std::vector<std::string>& labels) {
  std::vector<std::string> out;
  for (const auto& l : labels) out.push_back(format_prompt(templ, l));
  return out;
}

std::vector<Classification> classify(int64_t n, const float* audio, int64_t n_labels, const float* label_text, int dim,
                                     double logit_scale, int64_t top) {
  if (n_labels <= 0) throw Error("classify: no labels");
  if (dim <= 0) throw Error("classify: embedding dimension must be positive");
  std::vector<double> label_norm(static_cast<size_t>(n_labels));
  for (int64_t l = 0; l < n_labels; ++l)
    label_norm[l] = std::sqrt(static_cast<double>(dot(label_text + l * dim, label_text + l * dim, dim)));
  std::vector<Classification> out(static_cast<size_t>(std::max<int64_t>(n, 0)));
  std::vector<double> logits(static_cast<size_t>(n_labels));
  for (int64_t i = 0; i < n; ++i) {
    const float* a = audio + i * dim;
    const double na = std::sqrt(static_cast<double>(dot(a, a, dim)));
    for (int64_t l = 0; l < n_labels; ++l) {
      const double den = na * label_norm[l];
      logits[l] = logit_scale * (den > 0 ? dot(a, label_text + l * dim, dim) / den : 0.0);
    }
    // Stable softmax in double.
    const double mx = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    auto& p = out[i].probabilities;
    p.resize(static_cast<size_t>(n_labels));
    for (int64_t l = 0; l < n_labels; ++l) sum += (p[l] = std::exp(logits[l] - mx));
    for (auto& v : p) v /= sum;
    std::vector<Hit> hits;
    for (int64_t l = 0; l < n_labels; ++l) hits.push_back({l, p[l]});
    sort_hits(hits, top > 0 ? top : -1);
    out[i].top = std::move(hits);
  }
  return out;
}

}  // namespace clap::search
