// Text-tower health check: embeds a fixed set of unrelated prompts and measures how far
// apart they land. A healthy CLAP text tower spreads them out; a collapsed one (e.g. the
// published laion/larger_clap_music) maps every text to almost the same point, so every
// search would return the same order. Used by `clapsearch doctor` and when a model is first used.
#pragma once
#include <string>
#include <vector>

#include "model/clap.h"

namespace clap::service {

inline constexpr double kCollapsedCosine = 0.95;  // mean pairwise cosine above this = collapsed

struct ModelHealth {
  double mean_pairwise_cosine = 0;
  double max_pairwise_cosine = 0;
  bool collapsed = false;
};

// The prompts embedded by the check (unrelated on purpose).
const std::vector<std::string>& health_prompts();

// Throws clap::Error if the model has no tokenizer. threads: per model call (0 = all cores).
ModelHealth check_text_health(const ClapModel& model, int threads = 0);

// The loud multi-line warning printed for a collapsed model (no trailing newline).
std::string collapsed_warning(const std::string& model_id, const ModelHealth& health);

}  // namespace clap::service
