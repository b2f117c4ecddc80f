// The kernels of linear() (tensor/linear.h), one file per ISA family: linear.cpp holds the
// dispatch, linear_pack.cpp the packing; linear_generic.cpp the portable kernels,
// linear_avx512.cpp and linear_avx2.cpp the x86 kernels (each function with its own target
// attribute, called only when the kernel set of core/isa.h allows it), linear_neon.cpp ARM64's.
// Internal to tensor/.
//
// Every kernel of one weight type gives the same bits (the order of each output's sum is the
// contract; tensor/linear.h): a strip is up to 12 rows of inputs against one panel of 32
// outputs, out[r] pointing at row r's first output of the panel; `valid` outputs are stored
// (added to the existing values with add_residual, or through the epilogue).
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "tensor/linear.h"

namespace clap::detail {

constexpr int kPanel = 32;  // outputs per panel: two 16-float vectors (PackedLinear's layout)

// BF16 inputs are read as pairs of k (one 32-bit word: k even in the low half).
typedef uint32_t __attribute__((may_alias)) Word;
inline uint32_t pair_at(const uint16_t* x, int64_t pair) { return *reinterpret_cast<const Word*>(x + 2 * pair); }

// I8 panels: per group of 4 k, 32 words of 4 s8 weights (one per output), and per output the
// bias, the scale and Σq. Inputs: rows of u8 (k padded to a multiple of 4 with zeros), per row
// a scale s and a zero point z. Every kernel forms the exact int32 sums S = Σ u·q - z·Σq and then
// y = fma(float(S), s·scale, bias), one fused step on every path.
struct I8Panel {              // one panel's per-output data
  const int8_t* weights;      // groups x 32 x 4
  const float* bias;          // 32
  const float* scale;         // 32
  const int32_t* weight_sum;  // 32
};
// A row's quantisation from its range [lo, hi] (which includes 0, so zero is exact): s = range
// / 255 and z = nearbyint(-lo · 255 / range) in 0..255; returns 255 / range, the multiplier
// every path rounds x by. An all-zero row (hi = lo) gets s = 0, z = 0 and returns 0.
inline float quantisation_of_range(float lo, float hi, float* scale, int32_t* zero) {
  if (!(hi > lo)) {
    *scale = 0.0f;
    *zero = 0;
    return 0.0f;
  }
  const float range = hi - lo, inv = 255.0f / range;
  *zero = std::clamp(static_cast<int32_t>(std::nearbyint(-lo * inv)), 0, 255);
  *scale = range / 255.0f;
  return inv;
}

struct I8Rows {                // a strip's inputs
  const uint8_t* u;            // rows of ldx bytes
  int64_t ldx;
  const float* scale;          // per row
  const int32_t* zero;         // per row
};

// bfloat16 to float32, exactly (tensor/linear.h's from_bf16, inlined for the kernels).
inline float bf16_to_float(uint16_t value) { return std::bit_cast<float>(static_cast<uint32_t>(value) << 16); }

// ---- linear_generic.cpp (any CPU; the same bits as the ISA kernels of each weight type)
void strip_generic(int rows, const float* x, int64_t ldx, const float* panel, const float* bias, int64_t k_count,
                   float* const* out, int valid, bool add_residual);
void strip_bf16_generic(int rows, const uint16_t* x, int64_t ldx, const uint16_t* panel, const float* bias,
                        int64_t pairs, float* const* out, int valid, bool add_residual);
void strip_i8_generic(int rows, const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out, int valid,
                      bool add_residual);
// The row-wise float32 kernel (WeightLayout::Rows) without AVX-512: one clap::dot per output.
void rows_portable(const float* x, int64_t rows, int64_t ldx, int64_t in, const float* weight, const float* bias,
                   int64_t out, float* y, int64_t ldy, bool add_residual, const int64_t* row_map);

#if defined(__x86_64__)
// ---- linear_avx512.cpp (AVX-512 Foundation; BW/VL for int8; BF16/VNNI where named)
void strip_avx512(int rows, const float* x, int64_t ldx, const float* panel, const float* bias, int64_t k_count,
                  float* const* out, int valid, Epilogue epilogue);
// bf16_instructions: vdpbf16ps (AVX512-BF16); else bfloat16 widened to float32, the same bits.
void strip_bf16_avx512(bool bf16_instructions, int rows, const uint16_t* x, int64_t ldx, const uint16_t* panel,
                       const float* bias, int64_t pairs, float* const* out, int valid, Epilogue epilogue);
// vnni: vpdpbusd (AVX512-VNNI); else AVX-512BW multiplies, the same sums.
void strip_i8_avx512(bool vnni, int rows, const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out,
                     int valid, Epilogue epilogue);
// AMX (cpu_has_amx_int8): up to kAmxStripRows rows, groups a multiple of 16; rows past the
// last whole 16 go to strip_i8_avx512's vpdpbusd. Between amx_begin_avx512() and amx_end_avx512() only (each
// thread's tile configuration, released after).
constexpr int kAmxStripRows = 32;
void amx_begin_avx512();
void amx_end_avx512();
void strip_i8_amx_avx512(int rows, const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out, int valid,
                  Epilogue epilogue);
// AMX-BF16 (cpu_has_amx_bf16): up to kAmxStripRows rows of x, which holds whole blocks of 16
// rows (zeros past the real ones) and whole steps of 32 k (ldx a multiple of 32, zeros past k);
// between amx_begin_avx512() and amx_end_avx512() only. Its sums are tdpbf16ps's (linear.h).
void strip_bf16_amx_avx512(int rows, const uint16_t* x, int64_t ldx, const uint16_t* panel, const float* bias,
                           int64_t pairs, float* const* out, int valid, Epilogue epilogue);
// The row-wise float32 kernel (WeightLayout::Rows: the text tower).
void rows_avx512(const float* x, int64_t rows, int64_t ldx, int64_t in, const float* weight, const float* bias,
                 int64_t out, float* y, int64_t ldy, bool add_residual, const int64_t* row_map);
void gelu_avx512(float* x, int64_t n);
// bf16_instructions: vcvtneps2bf16 (AVX512-BF16) instead of integer steps; the same bits.
void to_bf16_avx512(const float* x, int64_t n, uint16_t* out, bool bf16_instructions);
// One row times `multiplier` (null: none), quantised to u8 and padded with zeros to `width`.
void quantize_row_u8_fused_avx512(const float* x, int64_t n, const float* multiplier, uint8_t* u, int64_t width,
                                  float* scale, int32_t* zero);

// ---- linear_avx2.cpp (AVX2 + FMA)
void strip_avx2(int rows, const float* x, int64_t ldx, const float* panel, const float* bias, int64_t k_count,
                float* const* out, int valid, bool add_residual);
// BF16 panels with float32 inputs already rounded to bfloat16: widen_rows_bf16_avx2 makes them
// (rows x width bfloat16 -> float32, exactly), then one strip against one panel.
void widen_rows_bf16_avx2(const uint16_t* x, int64_t rows, int64_t width, float* out);
void strip_bf16_widened_avx2(int rows, const float* x, int64_t ldx, const uint16_t* panel, const float* bias,
                             int64_t pairs, float* const* out, int valid, bool add_residual);
// I8 panels with the quantised inputs as int16 rows (quantize_row_i16_fused_avx2).
struct I8Strip {
  const int8_t* weights;     // the panel's groups
  const float* bias;         // the panel's 32 biases, scales and weight sums
  const float* scale;
  const int32_t* weight_sum;
  const float* row_scale;    // per input row: s, z
  const int32_t* row_zero;
};
// quantize_row_u8_fused_avx512's step on AVX2 (the same s, z and u).
void quantize_row_u8_fused_avx2(const float* x, int64_t n, const float* multiplier, uint8_t* u, int64_t width,
                                float* scale, int32_t* zero);
// The same values written as int16 (the rows strip_i8_widened_avx2 reads), with no u8 pass.
void quantize_row_i16_fused_avx2(const float* x, int64_t n, const float* multiplier, int16_t* u, int64_t width,
                                 float* scale, int32_t* zero);
void strip_i8_widened_avx2(int rows, const int16_t* x, int64_t ldx, const I8Strip& s, int64_t groups,
                           float* const* out, int valid, bool add_residual);
// GELU (erf form) on 8 lanes, gelu_avx512's steps: gelu_erf_inplace on the AVX2 kernel sets.
void gelu_avx2(float* x, int64_t n);
// I8 panels with AVX-VNNI (core/isa.h allows it: KernelIsa::Avx2Vnni): vpdpbusd on the u8 rows.
void strip_i8_avx_vnni(int rows, const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out, int valid,
                       bool add_residual);
#endif  // __x86_64__

}  // namespace clap::detail
