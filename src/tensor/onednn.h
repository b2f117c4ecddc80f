// oneDNN's sgemm, kept only as the comparison `clapsearch bench` measures the own kernels
// against; no model code path uses it.
#pragma once
#include <cstdint>

namespace clap {

// C[M,N] = alpha · op(A) · op(B) + beta · C, row-major (oneDNN picks AVX-512/AVX2 at run time).
void onednn_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace clap
