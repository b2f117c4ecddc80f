#include "search/kernels.h"

#include <cmath>

namespace clap::search {

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

void score_rows(int64_t nq, const float* queries, const float* base, const int64_t* rows, int64_t n, int64_t d,
                float* out) {
#pragma omp parallel for schedule(static) if (worth_threads(n * nq * d))
  for (int64_t j = 0; j < n; ++j) {
    const float* r = base + (rows ? rows[j] : j) * d;
    for (int64_t i = 0; i < nq; ++i) out[i * n + j] = dot(queries + i * d, r, d);
  }
}

void normalize_rows(const float* x, int64_t n, int64_t d, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += double(x[i * d + j]) * x[i * d + j];
    const double inv = s > 0 ? 1.0 / std::sqrt(s) : 0.0;
    for (int64_t j = 0; j < d; ++j) out[i * d + j] = static_cast<float>(x[i * d + j] * inv);
  }
}

}  // namespace clap::search
