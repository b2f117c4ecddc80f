// The few kernels the CLAP towers need besides linear layers (tensor/linear.h). Row-major
// float32 throughout.
#pragma once
#include <cstdint>

#include "tensor/activation.h"

namespace clap {

// Flush denormal floats to zero in the calling thread and the OpenMP worker threads.
void flush_denormals_in_all_threads();

// Per-row LayerNorm over `dim` (biased variance, as PyTorch). y may alias x.
void layer_norm(const float* x, int64_t rows, int64_t dim, const float* gamma, const float* beta, float eps, float* y);

// y[i] = LayerNorm(x[source[i]]) for i < rows; rows with source -1 become zeros.
void layer_norm_gather(const float* x, const int64_t* source, int64_t rows, int64_t dim, const float* gamma,
                       const float* beta, float eps, float* y);

void apply_activation(Activation act, float* x, int64_t n);

// x = gelu(x) (erf form) on the calling thread.
void gelu_erf_inplace(float* x, int64_t n);

// x = gelu(x) with the AVX-512 kernels' arithmetic (linear.cpp), the same bits as linear()'s
// fused GELU epilogue, or its 8-lane form on the AVX2 kernel sets; false (and nothing done)
// below AVX2.
bool gelu_fast(float* x, int64_t n);

// Single-head attention over n tokens: out = softmax(q·kᵀ·scale + bias + mask)·v.
// q, k, v rows have stride ld (heads interleaved), out rows stride ld_out; bias and mask
// (n x n) may be null; scratch holds attention_scratch_floats(n, hd) floats.
void attention_head(const float* q, const float* k, const float* v, int64_t ld, int64_t n, int64_t hd, float scale,
                    const float* bias, const float* mask, float* out, int64_t ld_out, float* scratch);

int64_t attention_scratch_floats(int64_t n, int64_t hd);

// y += x
void add_inplace(float* y, const float* x, int64_t n);

}  // namespace clap
