#include "tensor/ops.h"

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace clap {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (st != dnnl_success) throw Error("oneDNN sgemm failed with status " + std::to_string(int(st)));
}

void linear(const float* x, int64_t rows, int64_t in, const float* weight, const float* bias, int64_t out, float* y) {
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) std::copy(bias, bias + out, y + r * out);
  }
  gemm(false, true, rows, out, in, 1.0f, x, in, weight, in, bias ? 1.0f : 0.0f, y, out);
}

void layer_norm(const float* x, int64_t rows, int64_t dim, const float* gamma, const float* beta, float eps, float* y) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    double sum = 0;
    for (int64_t i = 0; i < dim; ++i) sum += xr[i];
    const float mean = static_cast<float>(sum / dim);
    double sq = 0;
    for (int64_t i = 0; i < dim; ++i) {
      const float d = xr[i] - mean;
      sq += double(d) * d;
    }
    const float inv = 1.0f / std::sqrt(static_cast<float>(sq / dim) + eps);
    for (int64_t i = 0; i < dim; ++i) yr[i] = (xr[i] - mean) * inv * gamma[i] + beta[i];
  }
}

void apply_activation(Activation act, float* x, int64_t n) {
  switch (act) {
    case Activation::Relu:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
      break;
    case Activation::Gelu:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
      break;
    case Activation::GeluTanh:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
      }
      break;
    case Activation::Silu:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
      break;
    case Activation::Tanh:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      break;
  }
}

void softmax_rows(float* x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
    float mx = xr[0];
    for (int64_t i = 1; i < cols; ++i) mx = std::max(mx, xr[i]);
    float sum = 0;
    for (int64_t i = 0; i < cols; ++i) {
      xr[i] = std::exp(xr[i] - mx);
      sum += xr[i];
    }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < cols; ++i) xr[i] *= inv;
  }
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

void add_inplace(float* y, const float* x, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace clap
