// AVX2 + FMA kernels of tensor/linear.cpp (float32, BF16 and int8 panels), called by its
// dispatch when the kernel set (core/isa.h) is avx2: the x86 kernels of each ISA live in their
// own file (linear_avx512.cpp, this one; ARM64's in linear_neon.cpp).
//
// BF16 without a bfloat16 dot-product instruction: the weights stay bfloat16 in memory (half the
// bytes of float32 panels) and become float32 in the load (a bfloat16 is the high half of a
// float32: the odd k of each pair is the word AND 0xFFFF0000, the even k the word shifted left by
// 16); the inputs, already rounded to bfloat16, are widened once per call into float32 rows so
// each is a plain broadcast from memory. Each output then takes, per pair of k, acc += x_odd·w_odd
// then acc += x_even·w_even as fused multiply-adds: products of two bfloat16 are exact in
// float32, so these are the same bits as vdpbf16ps's steps and as every other BF16 kernel
// (denormals are flushed by the MXCSR the caller sets). The register block is the float32
// kernel's: 6 rows x 16 outputs (12 accumulators), the odd and the even halves of a pair's
// weights widened in turn (2 registers), the 0xFFFF0000 mask and one broadcast: 16 registers.
#if defined(__x86_64__)  // the whole file: x86-64 only (ARM64 has tensor/linear_neon.cpp)
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "tensor/linear_kernels.h"

namespace clap::detail {

namespace {

#define CLAP_AVX2 __attribute__((target("avx2,fma")))

// The end of a rows x 16 half-tile (float32 and BF16 alike): columns column..column+15 of each
// output row, adding what is there when add_residual, stored with masks past `valid` (no scalar
// tail loop over a runtime count). Always inlined, so the accumulators stay in registers.
template <int R>
CLAP_AVX2 __attribute__((always_inline)) inline void store_half_tile(__m256 (&acc0)[R], __m256 (&acc1)[R],
                                                                     float* const* out, int column, int valid,
                                                                     bool add_residual) {
  const int count = std::min(16, valid - column);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lane);
  const __m256i mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(count - 8), lane);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* yr = out[r] + column;
    if (add_residual) {
      acc0[r] = _mm256_add_ps(_mm256_maskload_ps(yr, mask0), acc0[r]);
      acc1[r] = _mm256_add_ps(_mm256_maskload_ps(yr + 8, mask1), acc1[r]);
    }
    _mm256_maskstore_ps(yr, mask0, acc0[r]);
    _mm256_maskstore_ps(yr + 8, mask1, acc1[r]);
  }
}

// rows x 16 outputs (columns column..column+15) over all pairs of k.
template <int R>
CLAP_AVX2 inline void half_tile_bf16_avx2(const float* x, int64_t ldx, const uint16_t* panel, const float* bias,
                                          int64_t pairs, float* const* out, int column, int valid, bool add_residual) {
  __m256 acc0[R], acc1[R];
  const __m256 bias0 = _mm256_loadu_ps(bias + column), bias1 = _mm256_loadu_ps(bias + column + 8);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    acc0[r] = bias0;
    acc1[r] = bias1;
  }
  const __m256i high = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (int64_t p = 0; p < pairs; ++p) {
    const __m256i* w = reinterpret_cast<const __m256i*>(panel + p * 2 * kPanel + 2 * column);
    const __m256 w0_odd = _mm256_castsi256_ps(_mm256_and_si256(_mm256_loadu_si256(w), high));
    const __m256 w1_odd = _mm256_castsi256_ps(_mm256_and_si256(_mm256_loadu_si256(w + 1), high));
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(x + r * ldx + 2 * p + 1);
      acc0[r] = _mm256_fmadd_ps(a, w0_odd, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(a, w1_odd, acc1[r]);
    }
    const __m256 w0_even = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256(w), 16));
    const __m256 w1_even = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256(w + 1), 16));
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(x + r * ldx + 2 * p);
      acc0[r] = _mm256_fmadd_ps(a, w0_even, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(a, w1_even, acc1[r]);
    }
  }
  store_half_tile<R>(acc0, acc1, out, column, valid, add_residual);
}

// acc + vpmaddwd(a, w) (per 32-bit lane: the two int16 products of the lane's pair, summed),
// written as two instructions in one asm statement: GCC 12 compiles the intrinsics' 6-row tile
// into stores and reloads of 8 of its 12 accumulators per step (int8 ran no faster than
// float32); this form leaves the 12 accumulators, 2 weights, a broadcast and the product in
// the 16 ymm registers.
CLAP_AVX2 inline __m256i madd_add(__m256i acc, __m256i a, __m256i w) {
  __m256i product;
  asm("vpmaddwd %[w], %[a], %[p]\n\tvpaddd %[p], %[acc], %[acc]"
      : [acc] "+x"(acc), [p] "=&x"(product)
      : [a] "x"(a), [w] "x"(w));
  return acc;
}

// I8 panels: rows x 8 outputs (columns column..column+7) over all groups of 4 k. Inputs are the
// quantised rows as int16 (the input step writes them so, once per call), so a group of a row
// (4 values, 8 bytes) is one broadcast from memory; the weights of 4 outputs x 4 k (16 bytes)
// are sign-extended to 16 int16 per load. vpmaddwd gives per output two exact pair sums (|u·q| ≤ 255·127, no saturation, unlike
// vpmaddubsw's int16 sums of two u8·s8 products), added up in int32 and paired at the end: the
// exact sums S = Σ u·q of every I8 kernel, then the same float32 step. 6 rows: 12 accumulators,
// 2 weight vectors, a broadcast and madd_add's product (the 16 ymm registers).
// Why not vpmaddubsw: an exact form (u split into its top bit and 7 low bits, recombined) needs
// 18 multiply-port operations per step where this needs 12, and measured 0.4-0.7x this kernel;
// 7-bit weights would be 1.3x here but change every index's numbers (bench/runs/
// 2026-11-27-avx2-int8-vpmaddubsw.md).
template <int R>
CLAP_AVX2 inline void tile_i8_avx2(const int16_t* x, int64_t ldx, const I8Strip& s, int64_t groups, float* const* out,
                                   int column, int valid, bool add_residual) {
  __m256i acc0[R], acc1[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_si256();
  for (int64_t g = 0; g < groups; ++g) {
    const int8_t* wg = s.weights + g * 4 * kPanel + 4 * column;
    const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wg)));
    const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wg + 16)));
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      int64_t group;
      __builtin_memcpy(&group, x + r * ldx + 4 * g, sizeof group);
      const __m256i a = _mm256_set1_epi64x(group);
      acc0[r] = madd_add(acc0[r], a, w0);
      acc1[r] = madd_add(acc1[r], a, w1);
    }
  }
  const int count = std::min(8, valid - column);
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256i sum = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.weight_sum + column));
  const __m256 scale = _mm256_loadu_ps(s.scale + column), bias = _mm256_loadu_ps(s.bias + column);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    // hadd pairs lanes within 128-bit halves: (o0 o1 o4 o5 | o2 o3 o6 o7); the permute orders them.
    const __m256i total = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc0[r], acc1[r]), 0xD8);
    const __m256i c = _mm256_sub_epi32(total, _mm256_mullo_epi32(_mm256_set1_epi32(s.row_zero[r]), sum));
    __m256 y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c), _mm256_mul_ps(_mm256_set1_ps(s.row_scale[r]), scale), bias);
    float* yr = out[r] + column;
    if (add_residual) y = _mm256_add_ps(_mm256_maskload_ps(yr, mask), y);
    _mm256_maskstore_ps(yr, mask, y);
  }
}

// ---- int8 panels with AVX-VNNI (Alder Lake and later Core, Intel N100) ---------------------
#define CLAP_AVX_VNNI __attribute__((target("avx2,fma,avxvnni")))

// acc + the four u8·s8 products of each 32-bit lane of (a, w), exact in int32 (vpdpbusd, not
// the saturating vpdpbusds): the VEX form ({vex}: the assembler would otherwise pick the EVEX
// encoding, an AVX-512 instruction), one asm statement for the register allocation madd_add
// explains.
CLAP_AVX_VNNI inline __m256i dpbusd_avx_vnni(__m256i acc, __m256i a, __m256i w) {
  asm("%{vex%} vpdpbusd %[w], %[a], %[acc]" : [acc] "+x"(acc) : [a] "x"(a), [w] "x"(w));
  return acc;
}

// rows x 16 outputs (columns column..column+15) over all groups of 4 k: a group of a row (4 u8)
// is one 32-bit broadcast, the weights of 8 outputs x 4 k one 32-byte load, and each vpdpbusd
// adds 32 products to 8 outputs' sums (the vpmaddwd kernel: 16 products and an add). 6 rows:
// 12 accumulators, 2 weight vectors and a broadcast. Then the float32 step of every I8 kernel.
template <int R>
CLAP_AVX_VNNI inline void half_tile_i8_avx_vnni(const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out,
                                                int column, int valid, bool add_residual) {
  __m256i acc0[R], acc1[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_si256();
  for (int64_t g = 0; g < groups; ++g) {
    const int8_t* wg = w.weights + g * 4 * kPanel + 4 * column;
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg + 32));
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      int32_t group;
      __builtin_memcpy(&group, x.u + r * x.ldx + 4 * g, sizeof group);
      const __m256i a = _mm256_set1_epi32(group);
      acc0[r] = dpbusd_avx_vnni(acc0[r], a, w0);
      acc1[r] = dpbusd_avx_vnni(acc1[r], a, w1);
    }
  }
  const int count = std::min(16, valid - column);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lane);
  const __m256i mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(count - 8), lane);
  const __m256i sum0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.weight_sum + column));
  const __m256i sum1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.weight_sum + column + 8));
  const __m256 scale0 = _mm256_loadu_ps(w.scale + column), scale1 = _mm256_loadu_ps(w.scale + column + 8);
  const __m256 bias0 = _mm256_loadu_ps(w.bias + column), bias1 = _mm256_loadu_ps(w.bias + column + 8);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    const __m256i z = _mm256_set1_epi32(x.zero[r]);
    const __m256 s = _mm256_set1_ps(x.scale[r]);
    const __m256i c0 = _mm256_sub_epi32(acc0[r], _mm256_mullo_epi32(z, sum0));
    const __m256i c1 = _mm256_sub_epi32(acc1[r], _mm256_mullo_epi32(z, sum1));
    __m256 y0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c0), _mm256_mul_ps(s, scale0), bias0);
    __m256 y1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c1), _mm256_mul_ps(s, scale1), bias1);
    float* yr = out[r] + column;
    if (add_residual) {
      y0 = _mm256_add_ps(_mm256_maskload_ps(yr, mask0), y0);
      y1 = _mm256_add_ps(_mm256_maskload_ps(yr + 8, mask1), y1);
    }
    _mm256_maskstore_ps(yr, mask0, y0);
    _mm256_maskstore_ps(yr + 8, mask1, y1);
  }
}

}  // namespace

CLAP_AVX_VNNI void strip_i8_avx_vnni(int rows, const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out,
                                     int valid, bool add_residual) {
  for (int r = 0; r < rows; r += 6) {
    const I8Rows part{x.u + r * x.ldx, x.ldx, x.scale + r, x.zero + r};
    for (int column = 0; column < valid; column += 16) {
      switch (std::min(6, rows - r)) {
#define CLAP_TILE(m) \
  case m: half_tile_i8_avx_vnni<m>(part, w, groups, out + r, column, valid, add_residual); break;
        CLAP_TILE(1) CLAP_TILE(2) CLAP_TILE(3) CLAP_TILE(4) CLAP_TILE(5) CLAP_TILE(6)
#undef CLAP_TILE
      }
    }
  }
}

CLAP_AVX2 void strip_i8_widened_avx2(int rows, const int16_t* x, int64_t ldx, const I8Strip& s, int64_t groups,
                                     float* const* out, int valid, bool add_residual) {
  for (int r = 0; r < rows; r += 6) {
    const int n = std::min(6, rows - r);
    const I8Strip part{s.weights, s.bias, s.scale, s.weight_sum, s.row_scale + r, s.row_zero + r};
    for (int column = 0; column < valid; column += 8) {
      switch (n) {
#define CLAP_TILE(m) \
  case m: tile_i8_avx2<m>(x + r * ldx, ldx, part, groups, out + r, column, valid, add_residual); break;
        CLAP_TILE(1) CLAP_TILE(2) CLAP_TILE(3) CLAP_TILE(4) CLAP_TILE(5) CLAP_TILE(6)
#undef CLAP_TILE
      }
    }
  }
}

namespace {
// x[k..k+7], times the multiplier when there is one (a function: lambdas do not inherit a target).
CLAP_AVX2 inline __m256 load_smoothed8(const float* x, const float* multiplier, int64_t k) {
  const __m256 v = _mm256_loadu_ps(x + k);
  return multiplier ? _mm256_mul_ps(v, _mm256_loadu_ps(multiplier + k)) : v;
}

// The whole input step of one row (as quantize_row_u8 of the row times the multiplier, the
// same s, z and u; quantize_row_u8_fused_avx512 on 8 lanes): the smoothing multiply on load,
// the range in two min/max chains (exact operations: any order gives the same), the
// quantisation (vcvtps2dq rounds to nearest even, as std::nearbyint does under the default
// rounding), the zero padding up to `width`. The scalar path took 14 % of an AVX2 int8 run.
// T: uint8_t (the u8 rows of the AVX-VNNI kernel) or int16_t (the same values, the rows the
// vpmaddwd kernel reads: written here directly rather than widened in a second pass).
template <typename T>
CLAP_AVX2 inline void quantize_row_fused_avx2(const float* x, int64_t n, const float* multiplier, T* u, int64_t width,
                                              float* scale, int32_t* zero) {
  const auto value = [&](int64_t k) { return multiplier ? x[k] * multiplier[k] : x[k]; };
  __m256 lo0 = _mm256_setzero_ps(), hi0 = lo0, lo1 = lo0, hi1 = lo0;  // the range includes 0
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m256 a = load_smoothed8(x, multiplier, k), b = load_smoothed8(x, multiplier, k + 8);
    lo0 = _mm256_min_ps(lo0, a);
    hi0 = _mm256_max_ps(hi0, a);
    lo1 = _mm256_min_ps(lo1, b);
    hi1 = _mm256_max_ps(hi1, b);
  }
  for (; k + 8 <= n; k += 8) {
    const __m256 a = load_smoothed8(x, multiplier, k);
    lo0 = _mm256_min_ps(lo0, a);
    hi0 = _mm256_max_ps(hi0, a);
  }
  alignas(32) float lows[8], highs[8];
  _mm256_store_ps(lows, _mm256_min_ps(lo0, lo1));
  _mm256_store_ps(highs, _mm256_max_ps(hi0, hi1));
  float lo = *std::min_element(lows, lows + 8), hi = *std::max_element(highs, highs + 8);
  for (; k < n; ++k) {
    lo = std::min(lo, value(k));
    hi = std::max(hi, value(k));
  }
  const float inv = quantisation_of_range(lo, hi, scale, zero);
  if (inv == 0.0f) {  // all zero
    std::fill(u, u + width, T{0});
    return;
  }
  const int32_t z = *zero;
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256i vz = _mm256_set1_epi32(z), low = _mm256_setzero_si256(), high = _mm256_set1_epi32(255);
  for (k = 0; k + 8 <= n; k += 8) {
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(load_smoothed8(x, multiplier, k), vinv)), vz);
    q = _mm256_min_epi32(_mm256_max_epi32(q, low), high);
    const __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    if constexpr (sizeof(T) == 1)
      _mm_storel_epi64(reinterpret_cast<__m128i*>(u + k), _mm_packus_epi16(words, words));
    else
      _mm_storeu_si128(reinterpret_cast<__m128i*>(u + k), words);
  }
  for (; k < n; ++k)
    u[k] = static_cast<T>(std::clamp(static_cast<int32_t>(std::nearbyint(value(k) * inv)) + z, 0, 255));
  std::fill(u + n, u + width, T{0});
}
}  // namespace

CLAP_AVX2 void quantize_row_u8_fused_avx2(const float* x, int64_t n, const float* multiplier, uint8_t* u, int64_t width,
                                          float* scale, int32_t* zero) {
  quantize_row_fused_avx2(x, n, multiplier, u, width, scale, zero);
}

CLAP_AVX2 void quantize_row_i16_fused_avx2(const float* x, int64_t n, const float* multiplier, int16_t* u,
                                           int64_t width, float* scale, int32_t* zero) {
  quantize_row_fused_avx2(x, n, multiplier, u, width, scale, zero);
}

// Rows of `width` bfloat16 (ldx apart) to float32 rows of `width` (the same values, exactly).
CLAP_AVX2 void widen_rows_bf16_avx2(const uint16_t* x, int64_t rows, int64_t width, float* out) {
  const int64_t n = rows * width;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i));
    _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
  }
  for (; i < n; ++i) {
    const uint32_t bits = static_cast<uint32_t>(x[i]) << 16;
    float f;
    __builtin_memcpy(&f, &bits, sizeof f);
    out[i] = f;
  }
}

// One strip of up to 12 rows against one panel (linear.cpp's for_each_strip): 6-row blocks.
CLAP_AVX2 void strip_bf16_widened_avx2(int rows, const float* x, int64_t ldx, const uint16_t* panel, const float* bias,
                                       int64_t pairs, float* const* out, int valid, bool add_residual) {
  for (int r = 0; r < rows; r += 6) {
    const int n = std::min(6, rows - r);
    for (int column = 0; column < valid; column += 16) {
      switch (n) {
#define CLAP_HALF(m)                                                                                       \
  case m:                                                                                                  \
    half_tile_bf16_avx2<m>(x + r * ldx, ldx, panel, bias, pairs, out + r, column, valid, add_residual); \
    break;
        CLAP_HALF(1) CLAP_HALF(2) CLAP_HALF(3) CLAP_HALF(4) CLAP_HALF(5) CLAP_HALF(6)
#undef CLAP_HALF
      }
    }
  }
}

// ---- GELU (erf form) on 8 lanes ---------------------------------------------------------
namespace {
CLAP_AVX2 inline __m256 c8(float v) { return _mm256_set1_ps(v); }

// gelu512's steps (linear_avx512.cpp) on 8 lanes: fast_erf's rational approximation with fused
// multiply-adds, and a reciprocal refined by one Newton step instead of the division. The
// portable gelu_erf (tensor/ops.cpp) it replaces on the AVX2 kernel sets compiles, under the
// "avx2" target it has there, to separate multiplies and adds and a vdivps per 8 values: 3 %
// of a plain-AVX2 int8 run. Not the AVX-512 bits (vrcpps has 12 bits where vrcp14ps has 14);
// within float32 rounding of them, as the two paths' other float32 steps are.
CLAP_AVX2 inline __m256 gelu256(__m256 x) {
  __m256 t = _mm256_mul_ps(x, c8(0.70710678118654752f));
  t = _mm256_min_ps(t, c8(4.0f));   // t > 4 ? 4 : t (t is finite: the inputs must be)
  t = _mm256_max_ps(t, c8(-4.0f));
  const __m256 t2 = _mm256_mul_ps(t, t);
  __m256 p = _mm256_fmadd_ps(c8(-2.72614225801306e-10f), t2, c8(2.77068142495902e-08f));
  p = _mm256_fmadd_ps(p, t2, c8(-2.10102402082508e-06f));
  p = _mm256_fmadd_ps(p, t2, c8(-5.69250639462346e-05f));
  p = _mm256_fmadd_ps(p, t2, c8(-7.34990630326855e-04f));
  p = _mm256_fmadd_ps(p, t2, c8(-2.95459980854025e-03f));
  p = _mm256_fmadd_ps(p, t2, c8(-1.60960333262415e-02f));
  p = _mm256_mul_ps(p, t);
  __m256 q = _mm256_fmadd_ps(c8(-1.45660718464996e-05f), t2, c8(-2.13374055278905e-04f));
  q = _mm256_fmadd_ps(q, t2, c8(-1.68282697438203e-03f));
  q = _mm256_fmadd_ps(q, t2, c8(-7.37332916720468e-03f));
  q = _mm256_fmadd_ps(q, t2, c8(-1.42647390514189e-02f));
  __m256 inv = _mm256_rcp_ps(q);                                   // 12 bits
  inv = _mm256_mul_ps(inv, _mm256_fnmadd_ps(q, inv, c8(2.0f)));    // Newton step: ~23 bits
  const __m256 erf = _mm256_mul_ps(p, inv);
  const __m256 half_x = _mm256_mul_ps(c8(0.5f), x);
  return _mm256_fmadd_ps(half_x, erf, half_x);                     // 0.5x·(1 + erf)
}
}  // namespace

CLAP_AVX2 void gelu_avx2(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu256(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - i)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(x + i, mask, gelu256(_mm256_maskload_ps(x + i, mask)));
  }
}

// ---- float32 panels: each 32-wide panel as two 6x16 register tiles ----------------------

// rows x 16 outputs (columns half*16 .. of the panel) over all k: 12 accumulators, two weight
// vectors and a broadcast (15 of the 16 ymm registers).
template <int R>
CLAP_AVX2 inline void half_tile_avx2(const float* x, int64_t ldx, const float* panel, const float* bias, int64_t k_count,
                                     float* const* out, int column, int valid, bool add_residual) {
  __m256 acc0[R], acc1[R];  // two 1-D arrays: GCC keeps these in registers, a 2-D one not
  const __m256 bias0 = _mm256_loadu_ps(bias + column), bias1 = _mm256_loadu_ps(bias + column + 8);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    acc0[r] = bias0;
    acc1[r] = bias1;
  }
  for (int64_t k = 0; k < k_count; ++k) {
    const float* w = panel + k * kPanel + column;
    const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
  #pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(x + r * ldx + k);
      acc0[r] = _mm256_fmadd_ps(a, w0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(a, w1, acc1[r]);
    }
  }
  store_half_tile<R>(acc0, acc1, out, column, valid, add_residual);
}

CLAP_AVX2 void strip_avx2(int rows, const float* x, int64_t ldx, const float* panel, const float* bias, int64_t k_count,
                          float* const* out, int valid, bool add_residual) {
  for (int r = 0; r < rows; r += 6) {
    const int n = std::min(6, rows - r);
    for (int column = 0; column < valid; column += 16) {
      switch (n) {
#define CLAP_HALF(m) \
  case m: half_tile_avx2<m>(x + r * ldx, ldx, panel, bias, k_count, out + r, column, valid, add_residual); break;
        CLAP_HALF(1) CLAP_HALF(2) CLAP_HALF(3) CLAP_HALF(4) CLAP_HALF(5) CLAP_HALF(6)
#undef CLAP_HALF
      }
    }
  }
}

}  // namespace clap::detail

#endif  // __x86_64__
