#include "core/vector_math.h"

#include <algorithm>
#include <cmath>

namespace clap {

float dot(const float* a, const float* b, int64_t d) {
  // 16 independent lanes: the compiler vectorises the lane loop (it is element-wise, not a
  // reduction, so no -ffast-math is needed) and the order of additions never changes.
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= d; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  float tail = 0;
  for (; i < d; ++i) tail += a[i] * b[i];
  for (int s = 8; s > 0; s >>= 1)
    for (int j = 0; j < s; ++j) acc[j] += acc[j + s];
  return acc[0] + tail;
}

void l2_normalize_rows(float* x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
    double sq = 0;
    for (int64_t i = 0; i < cols; ++i) sq += double(xr[i]) * xr[i];
    const float inv = 1.0f / std::max(static_cast<float>(std::sqrt(sq)), 1e-12f);
    for (int64_t i = 0; i < cols; ++i) xr[i] *= inv;
  }
}

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
