// The portable kernels of linear() (tensor/linear_kernels.h), the generic family beside
// linear_avx512.cpp, linear_avx2.cpp and linear_neon.cpp: plain C++ that any CPU runs (those
// without AVX2 or NEON, and the row-wise float32 kernel without AVX-512), with the same bits
// as the ISA kernels of the same weight type.
#include <cmath>
#include <cstdint>

#include "core/vector_math.h"
#include "tensor/linear_kernels.h"

namespace clap::detail {

// ---- float32 panels: one row at a time, the compiler vectorises ---------------------------
void strip_generic(int rows, const float* x, int64_t ldx, const float* panel, const float* bias, int64_t k_count,
                   float* const* out, int valid, bool add_residual) {
  for (int r = 0; r < rows; ++r) {
    float acc[kPanel];
    for (int j = 0; j < kPanel; ++j) acc[j] = bias[j];
    const float* xr = x + r * ldx;
    for (int64_t k = 0; k < k_count; ++k) {
      const float a = xr[k];
      const float* w = panel + k * kPanel;
      for (int j = 0; j < kPanel; ++j) acc[j] += a * w[j];
    }
    float* yr = out[r];
    for (int j = 0; j < valid; ++j) yr[j] = add_residual ? yr[j] + acc[j] : acc[j];
  }
}

// ---- BF16 panels ------------------------------------------------------------------------
// Inputs: rows of bfloat16 (ldx elements apart, k padded to even), read as pairs of k (one
// 32-bit word: k even in the low half). Panels: per pair of k, 32 words (one per output).
// Every kernel computes, per output and pair: acc += x_odd·w_odd, then acc += x_even·w_even,
// as vdpbf16ps does (products of two bfloat16 are exact in float32, so a fused multiply-add
// equals that instruction's step; denormals are flushed by the MXCSR the caller sets).
// Generic: the same order in scalar float32. Products of two bfloat16 are exact, so multiply
// then add equals the fused step (except for products below float32's normal range).
void strip_bf16_generic(int rows, const uint16_t* x, int64_t ldx, const uint16_t* panel, const float* bias,
                        int64_t pairs, float* const* out, int valid, bool add_residual) {
  for (int r = 0; r < rows; ++r) {
    float acc[kPanel];
    for (int j = 0; j < kPanel; ++j) acc[j] = bias[j];
    const uint16_t* xr = x + r * ldx;
    for (int64_t p = 0; p < pairs; ++p) {
      const float a_even = bf16_to_float(xr[2 * p]), a_odd = bf16_to_float(xr[2 * p + 1]);
      const uint16_t* w = panel + p * 2 * kPanel;
      for (int j = 0; j < kPanel; ++j) {
        acc[j] += a_odd * bf16_to_float(w[2 * j + 1]);
        acc[j] += a_even * bf16_to_float(w[2 * j]);
      }
    }
    float* yr = out[r];
    for (int j = 0; j < valid; ++j) yr[j] = add_residual ? yr[j] + acc[j] : acc[j];
  }
}

// ---- I8 panels --------------------------------------------------------------------------
// Inputs: rows of u8 (ldx bytes apart, k padded to a multiple of 4 with zeros), read as groups
// of 4 k (one 32-bit word). Panels: per group, 32 words of 4 s8 weights (one per output).
// Every kernel forms the exact int32 sums S = Σ u·q - z·Σq (the order does not matter: integer
// sums are exact, |S| < 2^31 for in < 66000) and then y = fma(float(S), s·scale, bias). Written
// as one fused step on every path: an unfused multiply and add might be contracted by the
// compiler on some paths and not others.
// Generic: the same sums in scalar int32, the same fused float step (std::fma: correctly
// rounded whether or not the CPU has the instruction).
void strip_i8_generic(int rows, const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out, int valid,
                      bool add_residual) {
  for (int r = 0; r < rows; ++r) {
    int32_t acc[kPanel] = {};
    const uint8_t* u = x.u + r * x.ldx;
    for (int64_t g = 0; g < groups; ++g) {
      const int8_t* wg = w.weights + g * 4 * kPanel;
      for (int j = 0; j < kPanel; ++j)
        for (int i = 0; i < 4; ++i) acc[j] += int32_t{u[4 * g + i]} * wg[4 * j + i];
    }
    float* yr = out[r];
    for (int j = 0; j < valid; ++j) {
      const int32_t corrected = acc[j] - x.zero[r] * w.weight_sum[j];
      const float v = std::fma(static_cast<float>(corrected), x.scale[r] * w.scale[j], w.bias[j]);
      yr[j] = add_residual ? yr[j] + v : v;
    }
  }
}

// The row-wise kernel without AVX-512: one clap::dot per output (the fixed order of
// core/vector_math.h), outputs split across threads so each weight row is read once.
void rows_portable(const float* x, int64_t rows, int64_t ldx, int64_t in, const float* weight, const float* bias,
                   int64_t out, float* y, int64_t ldy, bool add_residual, const int64_t* row_map) {
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < out; ++o) {
    const float* w = weight + o * in;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t row = row_map ? row_map[r] : r;
      if (row < 0) continue;
      const float v = dot(x + r * ldx, w, in) + (bias ? bias[o] : 0.0f);
      float& yo = y[row * ldy + o];
      yo = add_residual ? yo + v : v;
    }
  }
}

}  // namespace clap::detail
