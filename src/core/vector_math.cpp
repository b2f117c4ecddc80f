#include "core/vector_math.h"

namespace clap {

std::vector<float> track_embedding(int64_t n, int dim, const float* windows, const uint8_t* silent) {
  bool any_active = false;
  for (int64_t i = 0; i < n && !any_active; ++i) any_active = !silent || !silent[i];
  std::vector<float> sum(static_cast<size_t>(dim), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    if (any_active && silent && silent[i]) continue;
    for (int k = 0; k < dim; ++k) sum[k] += windows[i * dim + k];
  }
  l2_normalize_rows(sum.data(), 1, dim);
  return sum;
}

}  // namespace clap
