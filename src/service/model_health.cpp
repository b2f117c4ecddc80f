#include "service/model_health.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "hub/hub.h"

namespace clap::service {

const std::vector<std::string>& health_prompts() {
  static const std::vector<std::string> prompts = {
      "a dog barking",         "classical piano sonata",    "heavy metal guitar riff", "rain on a window",
      "a man giving a speech", "electronic dance music",    "birds singing in a forest", "a baby crying"};
  return prompts;
}

ModelHealth check_text_health(const ClapModel& model, int threads) {
  const auto& prompts = health_prompts();
  ClapState state(threads);
  const std::vector<float> e = model.embed_text(state, prompts);
  const size_t n = prompts.size(), dim = static_cast<size_t>(model.embedding_dim());
  double sum = 0, max = -1;
  int pairs = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      double dot = 0, ni = 0, nj = 0;  // rows are normalised; divide anyway (robust to zero rows)
      for (size_t d = 0; d < dim; ++d) {
        const double a = e[i * dim + d], b = e[j * dim + d];
        dot += a * b;
        ni += a * a;
        nj += b * b;
      }
      const double cos = (ni > 0 && nj > 0) ? dot / std::sqrt(ni * nj) : 1.0;
      sum += cos;
      max = std::max(max, cos);
      ++pairs;
    }
  ModelHealth h;
  h.mean_pairwise_cosine = pairs ? sum / pairs : 0.0;
  h.max_pairwise_cosine = max;
  h.collapsed = h.mean_pairwise_cosine > kCollapsedCosine;
  return h;
}

std::string collapsed_warning(const std::string& model_id, const ModelHealth& health) {
  char cos[32];
  std::snprintf(cos, sizeof cos, "%.4f", health.mean_pairwise_cosine);
  char threshold[16];
  std::snprintf(threshold, sizeof threshold, "%.2f", kCollapsedCosine);
  return std::string("!!! WARNING: the text tower of ") + model_id + " looks COLLAPSED !!!\n" +
         "    " + std::to_string(health_prompts().size()) + " unrelated prompts embed to almost the same point " +
         "(mean pairwise cosine " + cos + " > " + threshold + "),\n" +
         "    so every text search would return the same order. This is known for laion/larger_clap_music;\n" +
         "    use another model, e.g. " + hub::kDefaultModel + ".";
}

}  // namespace clap::service
