// The few kernels the CLAP towers need. Row-major float32 throughout; weights use the
// PyTorch layout (Linear weight is out x in), so a Linear is y = x · Wᵀ + b.
#pragma once
#include <cstdint>

#include "model/config.h"

namespace clap {

// C[M,N] = alpha · op(A) · op(B) + beta · C, row-major (oneDNN sgemm: AVX-512/AVX2 chosen at run time).
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// y[rows, out] = x[rows, in] · W[out, in]ᵀ + bias (bias may be null). y must not alias x.
void linear(const float* x, int64_t rows, int64_t in, const float* weight, const float* bias, int64_t out, float* y);

// Per-row LayerNorm over `dim` (biased variance, as PyTorch). y may alias x.
void layer_norm(const float* x, int64_t rows, int64_t dim, const float* gamma, const float* beta, float eps, float* y);

void apply_activation(Activation act, float* x, int64_t n);

// Row-wise numerically stable softmax, in place.
void softmax_rows(float* x, int64_t rows, int64_t cols);

// Row-wise x / max(||x||₂, 1e-12), in place (torch.nn.functional.normalize).
void l2_normalize_rows(float* x, int64_t rows, int64_t cols);

// y += x
void add_inplace(float* y, const float* x, int64_t n);

}  // namespace clap
