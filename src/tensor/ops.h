// The few kernels the CLAP towers need. Row-major float32 throughout; weights use the
// PyTorch layout (Linear weight is out x in), so a Linear is y = x · Wᵀ + b.
#pragma once
#include <cstdint>

#include "model/config.h"

namespace clap {

// Flush denormal floats to zero in the calling thread and the OpenMP worker threads.
void flush_denormals_in_all_threads();

// C[M,N] = alpha · op(A) · op(B) + beta · C, row-major (oneDNN sgemm: AVX-512/AVX2 chosen at run time).
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// y[rows, out] = x[rows, in] · W[out, in]ᵀ + bias (bias may be null). y must not alias x.
// Up to kFewRows rows take linear_rowwise (reads W once); more rows take oneDNN's sgemm. The
// path depends only on the shape, so a given input always gives the same bits.
inline constexpr int64_t kFewRows = 16;
void linear(const float* x, int64_t rows, int64_t in, const float* weight, const float* bias, int64_t out, float* y);

// Same as linear, but each output row is computed the same way whatever the row count (a
// dot product per output over the weight row, lanes in a fixed order): the text tower runs
// many texts' tokens together and each text must come out as if alone. Streams W once per
// call; for the few rows of text it is the fast path.
void linear_rowwise(const float* x, int64_t rows, int64_t in, const float* weight, const float* bias, int64_t out,
                    float* y);

// Per-row LayerNorm over `dim` (biased variance, as PyTorch). y may alias x.
void layer_norm(const float* x, int64_t rows, int64_t dim, const float* gamma, const float* beta, float eps, float* y);

// y[i] = LayerNorm(x[source[i]]) for i < rows; rows with source -1 become zeros.
void layer_norm_gather(const float* x, const int64_t* source, int64_t rows, int64_t dim, const float* gamma,
                       const float* beta, float eps, float* y);

void apply_activation(Activation act, float* x, int64_t n);

// x = gelu(x) (erf form) on the calling thread.
void gelu_erf_inplace(float* x, int64_t n);

// Single-head attention over n tokens: out = softmax(q·kᵀ·scale + bias + mask)·v.
// q, k, v rows have stride ld (heads interleaved), out rows stride ld_out; bias and mask
// (n x n) may be null; scratch holds attention_scratch_floats(n, hd) floats.
void attention_head(const float* q, const float* k, const float* v, int64_t ld, int64_t n, int64_t hd, float scale,
                    const float* bias, const float* mask, float* out, int64_t ld_out, float* scratch);

int64_t attention_scratch_floats(int64_t n, int64_t hd);

// Row-wise x / max(||x||₂, 1e-12), in place (torch.nn.functional.normalize).
void l2_normalize_rows(float* x, int64_t rows, int64_t cols);

// y += x
void add_inplace(float* y, const float* x, int64_t n);

}  // namespace clap
