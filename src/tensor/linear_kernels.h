// Kernels of linear() that live in their own files (one file per ISA), called by linear.cpp's
// dispatch only when the kernel set (core/isa.h) allows them. Internal to tensor/.
#pragma once
#include <cstdint>

namespace clap::detail {

// linear_avx2.cpp (AVX2 + FMA). BF16 panels with float32 inputs already rounded to bfloat16:
// widen_rows_bf16_avx2 makes them (rows x width bfloat16 -> float32, exactly), then one strip of
// up to 12 rows against one panel, the same bits as every BF16 kernel (tensor/linear.h).
void widen_rows_bf16_avx2(const uint16_t* x, int64_t rows, int64_t width, float* out);
void strip_bf16_widened_avx2(int rows, const float* x, int64_t ldx, const uint16_t* panel, const float* bias,
                             int64_t pairs, float* const* out, int valid, bool add_residual);

// I8 panels with the quantised inputs widened to int16 (widen_rows_u8_avx2: n values), one strip
// of up to 12 rows against one panel: the exact sums and float32 step of every I8 kernel.
struct I8Strip {
  const int8_t* weights;     // the panel's groups
  const float* bias;         // the panel's 32 biases, scales and weight sums
  const float* scale;
  const int32_t* weight_sum;
  const float* row_scale;    // per input row: s, z
  const int32_t* row_zero;
};
void widen_rows_u8_avx2(const uint8_t* u, int64_t n, int16_t* out);
void strip_i8_widened_avx2(int rows, const int16_t* x, int64_t ldx, const I8Strip& s, int64_t groups,
                           float* const* out, int valid, bool add_residual);

}  // namespace clap::detail
