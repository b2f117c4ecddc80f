// oneDNN, kept only as the comparison `clapsearch bench` measures the own kernels against: no
// model code path uses it, and the bench layer is the only target that links it.
#pragma once
#include <cstdint>
#include <string>

namespace clap {

// C[M,N] = alpha · op(A) · op(B) + beta · C, row-major (oneDNN picks AVX-512/AVX2 at run time).
void onednn_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// oneDNN's run-time version ("3.0.0 (commit ...)"), for `clapsearch --version`.
std::string onednn_version();

}  // namespace clap
