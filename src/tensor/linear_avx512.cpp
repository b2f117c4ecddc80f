// AVX-512 kernels of tensor/linear.cpp, called by its dispatch when the kernel set (core/isa.h)
// allows them: float32, BF16 (vdpbf16ps, or bf16 widened to float32 on AVX-512 Foundation) and
// int8 (vpdpbusd with AVX512-VNNI, else AVX-512BW) panels, the row-wise float32 kernel of the
// text tower, GELU on 16 lanes, and the input conversions (to bfloat16, to u8). Every function
// carries its own target attribute: the file is compiled for baseline x86-64 like the rest.
#if defined(__x86_64__)  // the whole file: x86-64 only
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "tensor/linear.h"
#include "tensor/linear_kernels.h"

namespace clap::detail {

// ---- Panels layout, AVX-512 kernel -----------------------------------------------------
#define CLAP_AVX512 __attribute__((target("avx512f")))

// GELU (erf form) on 16 lanes: fast_erf's rational approximation with fused multiply-adds
// and a refined reciprocal instead of a division (a division per vector cost a fifth of a
// short-K GEMM). gelu_erf_inplace uses the same function where AVX-512 runs, so the fused
// epilogue and the separate pass agree bit for bit.
CLAP_AVX512 inline __m512 c(float v) { return _mm512_set1_ps(v); }

CLAP_AVX512 inline __m512 gelu512(__m512 x) {
  __m512 t = _mm512_mul_ps(x, c(0.70710678118654752f));
  t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, c(4.0f), _CMP_GT_OQ), t, c(4.0f));  // t > 4 ? 4 : t
  t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, c(-4.0f), _CMP_LT_OQ), t, c(-4.0f));
  const __m512 t2 = _mm512_mul_ps(t, t);
  __m512 p = _mm512_fmadd_ps(c(-2.72614225801306e-10f), t2, c(2.77068142495902e-08f));
  p = _mm512_fmadd_ps(p, t2, c(-2.10102402082508e-06f));
  p = _mm512_fmadd_ps(p, t2, c(-5.69250639462346e-05f));
  p = _mm512_fmadd_ps(p, t2, c(-7.34990630326855e-04f));
  p = _mm512_fmadd_ps(p, t2, c(-2.95459980854025e-03f));
  p = _mm512_fmadd_ps(p, t2, c(-1.60960333262415e-02f));
  p = _mm512_mul_ps(p, t);
  __m512 q = _mm512_fmadd_ps(c(-1.45660718464996e-05f), t2, c(-2.13374055278905e-04f));
  q = _mm512_fmadd_ps(q, t2, c(-1.68282697438203e-03f));
  q = _mm512_fmadd_ps(q, t2, c(-7.37332916720468e-03f));
  q = _mm512_fmadd_ps(q, t2, c(-1.42647390514189e-02f));
  __m512 inv = _mm512_maskz_rcp14_ps(0xFFFF, q);  // 14 bits (maskz: GCC 12 warns on the plain form)
  inv = _mm512_mul_ps(inv, _mm512_fnmadd_ps(q, inv, c(2.0f)));       // Newton step: ~full precision
  const __m512 erf = _mm512_mul_ps(p, inv);
  const __m512 half_x = _mm512_mul_ps(c(0.5f), x);
  return _mm512_fmadd_ps(half_x, erf, half_x);                       // 0.5x·(1 + erf)
}

// Stores one row of a tile (outputs 0-15 in y0, 16-31 in y1) through the epilogue; masks
// select the valid outputs.
CLAP_AVX512 inline void store_row_avx512(__m512 y0, __m512 y1, float* yr, __mmask16 mask0, __mmask16 mask1,
                                         Epilogue epilogue) {
  if (epilogue == Epilogue::AddResidual) {
    y0 = _mm512_add_ps(_mm512_maskz_loadu_ps(mask0, yr), y0);
    y1 = _mm512_add_ps(_mm512_maskz_loadu_ps(mask1, yr + 16), y1);
  } else if (epilogue == Epilogue::Gelu) {
    y0 = gelu512(y0);
    y1 = gelu512(y1);
  }
  _mm512_mask_storeu_ps(yr, mask0, y0);
  _mm512_mask_storeu_ps(yr + 16, mask1, y1);
}

// Stores a rows x 32 tile of accumulators through the epilogue. The row loop is unrolled in
// full, as the int8 tiles' loops are (GCC's default stops short of 12): an array indexed by a
// loop counter lives on the stack, and the 12-row int8 tile's accumulators were zeroed there
// (rep stos) before the k loop, stored there after it and loaded back, a tenth of the tile at
// short k. (The float and bf16 tiles' loops GCC unrolled on its own.)
template <int R>
CLAP_AVX512 inline void store_tile_avx512(__m512 (&acc0)[R], __m512 (&acc1)[R], float* const* out, __mmask16 mask0,
                                          __mmask16 mask1, Epilogue epilogue) {
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) store_row_avx512(acc0[r], acc1[r], out[r], mask0, mask1, epilogue);
}

inline __mmask16 low_mask(int valid) { return valid >= 16 ? 0xFFFF : valid <= 0 ? 0 : static_cast<__mmask16>((1u << valid) - 1); }

// rows x 32 tile of y += strip · panel over all k; masks select the valid outputs.
template <int R>
CLAP_AVX512 inline void tile_avx512(const float* x, int64_t ldx, const float* panel, const float* bias, int64_t k_count,
                                    float* const* out, __mmask16 mask0, __mmask16 mask1, Epilogue epilogue) {
  __m512 acc0[R], acc1[R];
  const __m512 bias0 = _mm512_load_ps(bias), bias1 = _mm512_load_ps(bias + 16);
  for (int r = 0; r < R; ++r) {
    acc0[r] = bias0;
    acc1[r] = bias1;
  }
  for (int64_t k = 0; k < k_count; ++k) {
    const __m512 w0 = _mm512_load_ps(panel + k * kPanel), w1 = _mm512_load_ps(panel + k * kPanel + 16);
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(x[r * ldx + k]);
      acc0[r] = _mm512_fmadd_ps(a, w0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(a, w1, acc1[r]);
    }
  }
  store_tile_avx512<R>(acc0, acc1, out, mask0, mask1, epilogue);
}

CLAP_AVX512 void strip_avx512(int rows, const float* x, int64_t ldx, const float* panel, const float* bias,
                              int64_t k_count, float* const* out, int valid, Epilogue epilogue) {
  const __mmask16 mask0 = valid >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << valid) - 1);
  const __mmask16 mask1 = valid >= 32 ? 0xFFFF : valid <= 16 ? 0 : static_cast<__mmask16>((1u << (valid - 16)) - 1);
  switch (rows) {
#define CLAP_TILE(n) \
  case n: tile_avx512<n>(x, ldx, panel, bias, k_count, out, mask0, mask1, epilogue); break;
    CLAP_TILE(1) CLAP_TILE(2) CLAP_TILE(3) CLAP_TILE(4) CLAP_TILE(5) CLAP_TILE(6)
    CLAP_TILE(7) CLAP_TILE(8) CLAP_TILE(9) CLAP_TILE(10) CLAP_TILE(11) CLAP_TILE(12)
#undef CLAP_TILE
  }
}

#define CLAP_AVX512_BF16 __attribute__((target("avx512f,avx512bf16")))

// acc + the products of each lane's bfloat16 pair: vdpbf16ps as one instruction (as dpbusd).
CLAP_AVX512_BF16 inline __m512 dpbf16(__m512 acc, __m512bh a, __m512bh w) {
  asm("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(a), "v"(w));
  return acc;
}

template <int R>
CLAP_AVX512_BF16 inline void tile_bf16_avx512(const uint16_t* x, int64_t ldx, const uint16_t* panel, const float* bias,
                                              int64_t pairs, float* const* out, __mmask16 mask0, __mmask16 mask1,
                                              Epilogue epilogue) {
  __m512 acc0[R], acc1[R];
  const __m512 bias0 = _mm512_load_ps(bias), bias1 = _mm512_load_ps(bias + 16);
  for (int r = 0; r < R; ++r) {
    acc0[r] = bias0;
    acc1[r] = bias1;
  }
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh w0 = (__m512bh)_mm512_load_si512(panel + p * 2 * kPanel);
    const __m512bh w1 = (__m512bh)_mm512_load_si512(panel + p * 2 * kPanel + kPanel);
    for (int r = 0; r < R; ++r) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair_at(x + r * ldx, p)));
      acc0[r] = dpbf16(acc0[r], a, w0);
      acc1[r] = dpbf16(acc1[r], a, w1);
    }
  }
  store_tile_avx512<R>(acc0, acc1, out, mask0, mask1, epilogue);
}

// AVX-512 Foundation only: each pair's halves widened to float32 (a bfloat16 is the high half
// of a float32) and multiplied-added odd, then even.
template <int R>
CLAP_AVX512 inline void tile_bf16_as_f32_avx512(const uint16_t* x, int64_t ldx, const uint16_t* panel,
                                                const float* bias, int64_t pairs, float* const* out, __mmask16 mask0,
                                                __mmask16 mask1, Epilogue epilogue) {
  __m512 acc0[R], acc1[R];
  const __m512 bias0 = _mm512_load_ps(bias), bias1 = _mm512_load_ps(bias + 16);
  for (int r = 0; r < R; ++r) {
    acc0[r] = bias0;
    acc1[r] = bias1;
  }
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512i w0 = _mm512_load_si512(panel + p * 2 * kPanel), w1 = _mm512_load_si512(panel + p * 2 * kPanel + kPanel);
    const __m512 w0_odd = _mm512_castsi512_ps(_mm512_and_si512(w0, high));
    const __m512 w0_even = _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xFFFF, w0, 16));
    const __m512 w1_odd = _mm512_castsi512_ps(_mm512_and_si512(w1, high));
    const __m512 w1_even = _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xFFFF, w1, 16));
    for (int r = 0; r < R; ++r) {
      const uint32_t word = pair_at(x + r * ldx, p);
      const __m512 a_odd = _mm512_set1_ps(std::bit_cast<float>(word & 0xFFFF0000u));
      const __m512 a_even = _mm512_set1_ps(std::bit_cast<float>(word << 16));
      acc0[r] = _mm512_fmadd_ps(a_even, w0_even, _mm512_fmadd_ps(a_odd, w0_odd, acc0[r]));
      acc1[r] = _mm512_fmadd_ps(a_even, w1_even, _mm512_fmadd_ps(a_odd, w1_odd, acc1[r]));
    }
  }
  store_tile_avx512<R>(acc0, acc1, out, mask0, mask1, epilogue);
}

void strip_bf16_avx512(bool bf16_instructions, int rows, const uint16_t* x, int64_t ldx, const uint16_t* panel,
                       const float* bias, int64_t pairs, float* const* out, int valid, Epilogue epilogue) {
  const __mmask16 mask0 = low_mask(valid), mask1 = low_mask(valid - 16);
  switch (rows) {
#define CLAP_TILE(n)                                                                               \
  case n:                                                                                          \
    if (bf16_instructions)                                                                         \
      tile_bf16_avx512<n>(x, ldx, panel, bias, pairs, out, mask0, mask1, epilogue);                \
    else                                                                                           \
      tile_bf16_as_f32_avx512<n>(x, ldx, panel, bias, pairs, out, mask0, mask1, epilogue);         \
    break;
    CLAP_TILE(1) CLAP_TILE(2) CLAP_TILE(3) CLAP_TILE(4) CLAP_TILE(5) CLAP_TILE(6)
    CLAP_TILE(7) CLAP_TILE(8) CLAP_TILE(9) CLAP_TILE(10) CLAP_TILE(11) CLAP_TILE(12)
#undef CLAP_TILE
  }
}

// to_bf16 with AVX512-BF16's vcvtneps2bf16, which rounds exactly as to_bf16 does (nearest
// even; zeros and denormals to signed zeros; NaNs kept, made quiet): one instruction per 16
// values instead of the integer steps below.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void to_bf16_native_avx512(const float* x, int64_t n,
                                                                                         uint16_t* out) {
  for (int64_t k = 0; k < n; k += 16) {
    const __mmask16 m = low_mask(static_cast<int>(std::min<int64_t>(16, n - k)));
    const __m256i packed = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + k));
    _mm256_mask_storeu_epi16(out + k, m, packed);
  }
}

// to_bf16 on 16 values at a time, in integer operations (the same bits by construction), or
// with vcvtneps2bf16 where the CPU has it.
// (maskz forms of the shifts and the narrowing: GCC 12 warns on the plain ones.)
CLAP_AVX512 void to_bf16_avx512(const float* x, int64_t n, uint16_t* out, bool bf16_instructions) {
  if (bf16_instructions) return to_bf16_native_avx512(x, n, out);
  const __m512i exponent = _mm512_set1_epi32(0x7F800000), mantissa = _mm512_set1_epi32(0x007FFFFF);
  const __m512i one = _mm512_set1_epi32(1), half = _mm512_set1_epi32(0x7FFF);
  const __m512i quiet = _mm512_set1_epi32(0x40), sign = _mm512_set1_epi32(0x8000);
  for (int64_t k = 0; k < n; k += 16) {
    const __mmask16 m = low_mask(static_cast<int>(std::min<int64_t>(16, n - k)));
    const __m512i u = _mm512_castps_si512(_mm512_maskz_loadu_ps(m, x + k));
    const __m512i e = _mm512_and_si512(u, exponent);
    const __m512i top = _mm512_maskz_srli_epi32(0xFFFF, u, 16);
    __m512i v = _mm512_maskz_srli_epi32(0xFFFF, _mm512_add_epi32(u, _mm512_add_epi32(half, _mm512_and_si512(top, one))), 16);
    const __mmask16 nan = _mm512_cmpeq_epi32_mask(e, exponent) & _mm512_test_epi32_mask(u, mantissa);
    v = _mm512_mask_mov_epi32(v, nan, _mm512_or_si512(top, quiet));
    v = _mm512_mask_mov_epi32(v, _mm512_cmpeq_epi32_mask(e, _mm512_setzero_si512()), _mm512_and_si512(top, sign));
    const __m256i packed = _mm512_maskz_cvtepi32_epi16(0xFFFF, v);
    if (m == 0xFFFF) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + k), packed);
    } else {
      alignas(32) uint16_t tail[16];
      _mm256_store_si256(reinterpret_cast<__m256i*>(tail), packed);
      std::memcpy(out + k, tail, sizeof(uint16_t) * static_cast<size_t>(n - k));
    }
  }
}

#define CLAP_AVX512_BW __attribute__((target("avx512f,avx512bw,avx512vl")))
#define CLAP_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

inline uint32_t group_at(const uint8_t* u, int64_t group) { return *reinterpret_cast<const Word*>(u + 4 * group); }

// One row from its exact sums (outputs 0-15 in s0, 16-31 in s1, before the zero-point
// correction) to the stored outputs, through the epilogue: every AVX-512 int8 kernel ends here.
CLAP_AVX512_BW inline void finish_row_i8_avx512(__m512i s0, __m512i s1, int32_t zero, float scale, const I8Panel& w,
                                                float* out, __mmask16 mask0, __mmask16 mask1, Epilogue epilogue) {
  const __m512i z = _mm512_set1_epi32(zero);
  const __m512 s = _mm512_set1_ps(scale);
  const __m512i c0 = _mm512_sub_epi32(s0, _mm512_mullo_epi32(z, _mm512_load_si512(w.weight_sum)));
  const __m512i c1 = _mm512_sub_epi32(s1, _mm512_mullo_epi32(z, _mm512_load_si512(w.weight_sum + 16)));
  store_row_avx512(
      _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, c0), _mm512_mul_ps(s, _mm512_load_ps(w.scale)), _mm512_load_ps(w.bias)),
      _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, c1), _mm512_mul_ps(s, _mm512_load_ps(w.scale + 16)),
                      _mm512_load_ps(w.bias + 16)),
      out, mask0, mask1, epilogue);
}

template <int R>
CLAP_AVX512_BW inline void finish_i8_avx512(__m512i (&s0)[R], __m512i (&s1)[R], const I8Rows& x, const I8Panel& w,
                                            float* const* out, __mmask16 mask0, __mmask16 mask1, Epilogue epilogue) {
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) finish_row_i8_avx512(s0[r], s1[r], x.zero[r], x.scale[r], w, out[r], mask0, mask1, epilogue);
}

// acc + the four u8·s8 products of each 32-bit lane of (a, w): vpdpbusd, written as one
// instruction because GCC 12 compiles the intrinsic in a 12-row tile into copies of every
// accumulator and a store of each to the stack per step (half the kernel's speed).
CLAP_AVX512_VNNI inline __m512i dpbusd(__m512i acc, __m512i a, __m512i w) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(w));
  return acc;
}

// AVX512-VNNI: vpdpbusd adds the four u8·s8 products of each 32-bit lane to it.
template <int R>
CLAP_AVX512_VNNI inline void tile_i8_vnni(const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out,
                                          __mmask16 mask0, __mmask16 mask1, Epilogue epilogue) {
  __m512i acc0[R], acc1[R];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_si512();
  for (int64_t g = 0; g < groups; ++g) {
    const __m512i w0 = _mm512_load_si512(w.weights + g * 4 * kPanel);
    const __m512i w1 = _mm512_load_si512(w.weights + g * 4 * kPanel + 64);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512i a = _mm512_set1_epi32(static_cast<int>(group_at(x.u + r * x.ldx, g)));
      acc0[r] = dpbusd(acc0[r], a, w0);
      acc1[r] = dpbusd(acc1[r], a, w1);
    }
  }
  finish_i8_avx512<R>(acc0, acc1, x, w, out, mask0, mask1, epilogue);
}

// acc + vpmaddwd(a, w), as two instructions in one asm statement (as linear_avx2.cpp's
// madd_add): from the intrinsics GCC 12 kept the 6-row tile's accumulators on the stack, a load
// and a store of each at every k step.
CLAP_AVX512_BW inline __m512i madd_add512(__m512i acc, __m512i a, __m512i w) {
  __m512i product;
  asm("vpmaddwd %[w], %[a], %[p]\n\tvpaddd %[p], %[acc], %[acc]"
      : [acc] "+v"(acc), [p] "=&v"(product)
      : [a] "v"(a), [w] "v"(w));
  return acc;
}

// AVX-512BW without VNNI: weights widened to 16 bits (8 outputs x 4 k per vector); vpmaddwd
// gives per output two pair sums (lanes 2j, 2j+1: k0·q0 + k1·q1 and k2·q2 + k3·q3, exact in
// int32), added up once at the end. Up to 6 rows: 24 accumulators, 4 weight vectors.
template <int R>
CLAP_AVX512_BW inline void tile_i8_avx512bw(const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out,
                                      __mmask16 mask0, __mmask16 mask1, Epilogue epilogue) {
  __m512i acc0[R], acc1[R], acc2[R], acc3[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = acc2[r] = acc3[r] = _mm512_setzero_si512();
  // Per 128-bit lane: bytes 0..3 of the broadcast word to the low halves of 16-bit lanes, twice.
  const __m512i spread = _mm512_set4_epi32(0x8003'8002, 0x8001'8000, 0x8003'8002, 0x8001'8000);
  for (int64_t g = 0; g < groups; ++g) {
    const int8_t* wg = w.weights + g * 4 * kPanel;
    const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(wg)));
    const __m512i w1 = _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(wg + 32)));
    const __m512i w2 = _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(wg + 64)));
    const __m512i w3 = _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(wg + 96)));
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512i a = _mm512_shuffle_epi8(_mm512_set1_epi32(static_cast<int>(group_at(x.u + r * x.ldx, g))), spread);
      acc0[r] = madd_add512(acc0[r], a, w0);
      acc1[r] = madd_add512(acc1[r], a, w1);
      acc2[r] = madd_add512(acc2[r], a, w2);
      acc3[r] = madd_add512(acc3[r], a, w3);
    }
  }
  // Lanes 2j and 2j+1 of (acc0, acc1) -> output j of 0-15; likewise (acc2, acc3) -> 16-31.
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  __m512i s0[R], s1[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    s0[r] = _mm512_add_epi32(_mm512_permutex2var_epi32(acc0[r], even, acc1[r]),
                             _mm512_permutex2var_epi32(acc0[r], odd, acc1[r]));
    s1[r] = _mm512_add_epi32(_mm512_permutex2var_epi32(acc2[r], even, acc3[r]),
                             _mm512_permutex2var_epi32(acc2[r], odd, acc3[r]));
  }
  finish_i8_avx512<R>(s0, s1, x, w, out, mask0, mask1, epilogue);
}

CLAP_AVX512_BW void strip_i8_avx512(bool vnni, int rows, const I8Rows& x, const I8Panel& w, int64_t groups,
                                    float* const* out, int valid, Epilogue epilogue) {
  const __mmask16 mask0 = low_mask(valid), mask1 = low_mask(valid - 16);
  if (vnni) {
    switch (rows) {
#define CLAP_TILE(n) \
  case n: tile_i8_vnni<n>(x, w, groups, out, mask0, mask1, epilogue); break;
      CLAP_TILE(1) CLAP_TILE(2) CLAP_TILE(3) CLAP_TILE(4) CLAP_TILE(5) CLAP_TILE(6)
      CLAP_TILE(7) CLAP_TILE(8) CLAP_TILE(9) CLAP_TILE(10) CLAP_TILE(11) CLAP_TILE(12)
#undef CLAP_TILE
    }
    return;
  }
  for (int r = 0; r < rows; r += 6) {
    const I8Rows part{x.u + r * x.ldx, x.ldx, x.scale + r, x.zero + r};
    switch (std::min(6, rows - r)) {
#define CLAP_TILE(n) \
  case n: tile_i8_avx512bw<n>(part, w, groups, out + r, mask0, mask1, epilogue); break;
      CLAP_TILE(1) CLAP_TILE(2) CLAP_TILE(3) CLAP_TILE(4) CLAP_TILE(5) CLAP_TILE(6)
#undef CLAP_TILE
    }
  }
}


// ---- AMX (AMX-TILE + AMX-INT8) -------------------------------------------------------------
// tdpbusd forms the same exact int32 sums as vpdpbusd, 16 rows x 16 outputs x 64 k per
// instruction, and the rows end in finish_row_i8_avx512 like every other AVX-512 kernel: the
// same bits. The packed layouts are already AMX's: a panel's group g holds outputs 0-15's four
// weights in bytes 0-63 and 16-31's in 64-127, so a weight tile is 16 groups read with a
// stride of 128 bytes; an input tile is 16 rows of 64 bytes read with the rows' stride.
#define CLAP_AMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,amx-tile,amx-int8")))

namespace {
struct alignas(64) TileConfig {  // ldtilecfg's 64-byte operand, palette 1
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};
}  // namespace

// Tiles 0-3: sums (16 rows x 16 int32); 4-5: inputs (16 rows x 64 u8); 6-7: weights (16 groups
// x 16 outputs x 4 s8). All eight are 16 rows of 64 bytes.
CLAP_AMX void amx_begin_avx512() {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.bytes_per_row[t] = 64;
    config.rows[t] = 16;
  }
  // (Not _tile_loadconfig: GCC 12's declares only a pointer's 8 bytes read, and drops the
  // stores above as dead; this operand is the whole 64 bytes.)
  __asm__ volatile("ldtilecfg %0" : : "m"(config));
}
CLAP_AMX void amx_end_avx512() { _tile_release(); }

// 16·A rows (A = 1 or 2 input tiles) x one panel over all groups (a multiple of 16).
template <int A>
CLAP_AMX inline void block_i8_amx_avx512(const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out, __mmask16 mask0,
                                  __mmask16 mask1, Epilogue epilogue) {
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (A == 2) {
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int64_t g = 0; g < groups; g += 16) {
    const int8_t* wg = w.weights + g * 4 * kPanel;
    _tile_loadd(6, wg, 4 * kPanel);
    _tile_loadd(7, wg + 64, 4 * kPanel);
    _tile_loadd(4, x.u + 4 * g, x.ldx);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    if constexpr (A == 2) {
      _tile_loadd(5, x.u + 16 * x.ldx + 4 * g, x.ldx);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
  }
  alignas(64) int32_t sums[2 * A][16 * 16];
  _tile_stored(0, sums[0], 64);
  _tile_stored(1, sums[1], 64);
  if constexpr (A == 2) {
    _tile_stored(2, sums[2], 64);
    _tile_stored(3, sums[3], 64);
  }
  __asm__ volatile("" : : : "memory");  // `sums` written by the tile stores (see the bf16 block below)
  for (int r = 0; r < 16 * A; ++r) {
    const int32_t* row0 = sums[2 * (r / 16)] + (r % 16) * 16;
    finish_row_i8_avx512(_mm512_load_si512(row0), _mm512_load_si512(row0 + 256), x.zero[r], x.scale[r], w, out[r], mask0,
                         mask1, epilogue);
  }
}

CLAP_AMX void strip_i8_amx_avx512(int rows, const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out, int valid,
                           Epilogue epilogue) {
  const __mmask16 mask0 = low_mask(valid), mask1 = low_mask(valid - 16);
  const auto part = [&](int r) { return I8Rows{x.u + r * x.ldx, x.ldx, x.scale + r, x.zero + r}; };
  int r = 0;
  for (; r + 32 <= rows; r += 32) block_i8_amx_avx512<2>(part(r), w, groups, out + r, mask0, mask1, epilogue);
  for (; r + 16 <= rows; r += 16) block_i8_amx_avx512<1>(part(r), w, groups, out + r, mask0, mask1, epilogue);
  for (; r < rows; r += 12) strip_i8_avx512(true, std::min(12, rows - r), part(r), w, groups, out + r, valid, epilogue);
}

// ---- AMX (AMX-TILE + AMX-BF16) -------------------------------------------------------------
// tdpbf16ps: 16 rows x 16 outputs x 32 k per instruction, float32 sums. A bf16 panel's pair p
// holds outputs 0-15's two weights in bytes 0-63 and 16-31's in 64-127, so a weight tile is 16
// pairs read with a stride of 128 bytes; an input tile is 16 rows of 32 bfloat16. Each output
// starts from its bias (every row of the sum tile loaded from the 16 biases, stride 0) and
// takes the steps of 32 k in order; inside a step the hardware fixes how the 32 products are
// added (not one after another as vdpbf16ps does; tensor/linear.h). Every row, whatever block
// or batch it is in, takes the same steps, so results depend on the row alone.
#define CLAP_AMX_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")))

// 16·A rows (A = 1 or 2 input tiles; rows up to 16·A present in x, zeros past the real ones)
// x one panel over all pairs; the first n rows stored.
template <int A>
CLAP_AMX_BF16 inline void block_bf16_amx_avx512(const uint16_t* x, int64_t ldx, const uint16_t* panel, const float* bias,
                                                int64_t pairs, float* const* out, int n, __mmask16 mask0,
                                                __mmask16 mask1, Epilogue epilogue) {
  const int64_t row_bytes = ldx * 2, weight_stride = 4 * kPanel;  // bytes
  _tile_loadd(0, bias, 0);
  _tile_loadd(1, bias + 16, 0);
  if constexpr (A == 2) {
    _tile_loadd(2, bias, 0);
    _tile_loadd(3, bias + 16, 0);
  }
  const auto step = [&](const uint16_t* weights, int64_t p) {
    _tile_loadd(6, weights, weight_stride);
    _tile_loadd(7, weights + 32, weight_stride);
    _tile_loadd(4, x + 2 * p, row_bytes);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    if constexpr (A == 2) {
      _tile_loadd(5, x + 16 * ldx + 2 * p, row_bytes);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  };
  const int64_t whole = pairs / 16 * 16;
  for (int64_t p = 0; p < whole; p += 16) step(panel + p * 2 * kPanel, p);
  if (whole < pairs) {  // the last pairs: the panel's rest padded with zero weights (x has zeros there)
    alignas(64) uint16_t rest[16 * 2 * kPanel] = {};
    std::memcpy(rest, panel + whole * 2 * kPanel, static_cast<size_t>(pairs - whole) * 2 * kPanel * sizeof(uint16_t));
    // (The tile intrinsics' asm takes addresses, not memory operands: without this barrier GCC
    // drops the copy above as never read, and below reads `sums` as never written.)
    __asm__ volatile("" : : : "memory");
    step(rest, whole);
  }
  alignas(64) float sums[2 * A][16 * 16];
  _tile_stored(0, sums[0], 64);
  _tile_stored(1, sums[1], 64);
  if constexpr (A == 2) {
    _tile_stored(2, sums[2], 64);
    _tile_stored(3, sums[3], 64);
  }
  __asm__ volatile("" : : : "memory");
  for (int r = 0; r < n; ++r) {
    const float* row0 = sums[2 * (r / 16)] + (r % 16) * 16;
    store_row_avx512(_mm512_load_ps(row0), _mm512_load_ps(row0 + 256), out[r], mask0, mask1, epilogue);
  }
}

CLAP_AMX_BF16 void strip_bf16_amx_avx512(int rows, const uint16_t* x, int64_t ldx, const uint16_t* panel,
                                         const float* bias, int64_t pairs, float* const* out, int valid,
                                         Epilogue epilogue) {
  const __mmask16 mask0 = low_mask(valid), mask1 = low_mask(valid - 16);
  if (rows > 16)
    block_bf16_amx_avx512<2>(x, ldx, panel, bias, pairs, out, rows, mask0, mask1, epilogue);
  else
    block_bf16_amx_avx512<1>(x, ldx, panel, bias, pairs, out, rows, mask0, mask1, epilogue);
}

// The input step: each row quantised on its own (quantize_row_u8), k padded with zeros.

// x[k..k+15] (zeros past n), times the multiplier when there is one.
CLAP_AVX512_BW inline __m512 load_smoothed(const float* x, const float* multiplier, int64_t n, int64_t k) {
  const __mmask16 m = low_mask(static_cast<int>(std::min<int64_t>(16, n - k)));
  const __m512 v = _mm512_maskz_loadu_ps(m, x + k);
  return multiplier ? _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, multiplier + k)) : v;
}

// The whole input step of one row on AVX-512 (the same s, z and u as quantize_row_u8 gives
// for the row times the multiplier): the smoothing multiply on load, the range with two
// independent min/max chains, the quantisation, the zero padding up to `width`. A GEMM with
// few outputs per input (HTSAT-tiny's first stage: 96 inputs, 96 outputs) spends as long in
// this step as in its multiply-adds, so it is one pass of registers, not three calls.
CLAP_AVX512_BW void quantize_row_u8_fused_avx512(const float* x, int64_t n, const float* multiplier, uint8_t* u,
                                                 int64_t width, float* scale, int32_t* zero) {
  // The range includes 0 (masked-off lanes read as 0), so zero is exact. Min and max are exact
  // operations: two chains give the same result as one.
  __m512 lo0 = _mm512_setzero_ps(), hi0 = _mm512_setzero_ps(), lo1 = lo0, hi1 = hi0;
  int64_t k = 0;
  for (; k + 16 < n; k += 32) {
    const __m512 a = load_smoothed(x, multiplier, n, k), b = load_smoothed(x, multiplier, n, k + 16);
    lo0 = _mm512_maskz_min_ps(0xFFFF, lo0, a);  // (maskz forms: GCC 12 warns on the plain ones)
    hi0 = _mm512_maskz_max_ps(0xFFFF, hi0, a);
    lo1 = _mm512_maskz_min_ps(0xFFFF, lo1, b);
    hi1 = _mm512_maskz_max_ps(0xFFFF, hi1, b);
  }
  if (k < n) {
    const __m512 a = load_smoothed(x, multiplier, n, k);
    lo0 = _mm512_maskz_min_ps(0xFFFF, lo0, a);
    hi0 = _mm512_maskz_max_ps(0xFFFF, hi0, a);
  }
  alignas(64) float lows[16], highs[16];  // (not _mm512_reduce_*: GCC 12 warns inside them)
  _mm512_store_ps(lows, _mm512_maskz_min_ps(0xFFFF, lo0, lo1));
  _mm512_store_ps(highs, _mm512_maskz_max_ps(0xFFFF, hi0, hi1));
  const float lo = *std::min_element(lows, lows + 16), hi = *std::max_element(highs, highs + 16);
  const float inv = quantisation_of_range(lo, hi, scale, zero);
  if (inv == 0.0f) {  // all zero
    std::fill(u, u + width, uint8_t{0});
    return;
  }
  const int32_t z = *zero;
  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512i vz = _mm512_set1_epi32(z), low = _mm512_setzero_si512(), high = _mm512_set1_epi32(255);
  for (k = 0; k < n; k += 16) {
    const __mmask16 m = low_mask(static_cast<int>(std::min<int64_t>(16, n - k)));
    // cvtps rounds to nearest even (the default MXCSR), as std::nearbyint does.
    __m512i q = _mm512_add_epi32(_mm512_maskz_cvtps_epi32(0xFFFF, _mm512_mul_ps(load_smoothed(x, multiplier, n, k), vinv)), vz);
    q = _mm512_maskz_min_epi32(0xFFFF, _mm512_maskz_max_epi32(0xFFFF, q, low), high);
    _mm_mask_storeu_epi8(u + k, m, _mm512_maskz_cvtepi32_epi8(0xFFFF, q));
  }
  std::fill(u + n, u + width, uint8_t{0});
}

// ---- Rows layout (the text tower): stream W once in the checkpoint's layout ---------------
// Each output is a dot product of an input row with a weight row: 16-lane partial sums
// over k, then a fixed reduction tree, so a row's result does not depend on the others.
// Software prefetch distance on the weight rows (measured: hardware prefetch alone left the
// 4 interleaved streams at a third of the memory bandwidth).
constexpr int kPrefetchBytes = 512;
// Index vectors of the four folding rounds of reduce16: round k pairs vectors (a, b) and
// adds "lo" lanes to "hi" lanes, halving the lanes each vector's partial sums occupy.
struct ReduceOrder {
  int lo[4][16], hi[4][16];
  int source[16];  // final lane -> input vector
};

const ReduceOrder& reduce_order() {
  static const ReduceOrder order = [] {
    ReduceOrder r{};
    // Round k: each vector holds 2^k groups of g = 16 >> k lanes (one group per input vector
    // folded so far); a pair (a, b) becomes 2^(k+1) groups of g/2: for each group, its first
    // half-group from a then from b ("lo"), and the second halves likewise ("hi").
    for (int k = 0; k < 4; ++k) {
      const int g = 16 >> k, half = g / 2, groups = 1 << k;
      int lane = 0;
      for (int grp = 0; grp < groups; ++grp)
        for (int src = 0; src < 2; ++src)
          for (int i = 0; i < half; ++i, ++lane) {
            r.lo[k][lane] = src * 16 + grp * g + i;
            r.hi[k][lane] = src * 16 + grp * g + half + i;
          }
    }
    // Track which input vector each final lane holds, by running the rounds on labels.
    int label[16][16];
    for (int j = 0; j < 16; ++j)
      for (int l = 0; l < 16; ++l) label[j][l] = j;
    int count = 16;
    for (int k = 0; k < 4; ++k) {
      for (int p = 0; p < count / 2; ++p) {
        int merged[16];
        for (int l = 0; l < 16; ++l) {
          const int idx = r.lo[k][l];
          merged[l] = idx < 16 ? label[2 * p][idx] : label[2 * p + 1][idx - 16];
        }
        for (int l = 0; l < 16; ++l) label[p][l] = merged[l];
      }
      count /= 2;
    }
    for (int l = 0; l < 16; ++l) r.source[l] = label[0][l];
    return r;
  }();
  return order;
}

// Sums of 16 vectors' lanes, one per output lane (lane l: vector reduce_order().source[l]).
CLAP_AVX512 inline __m512 reduce16(__m512 (&v)[16]) {
  const ReduceOrder& order = reduce_order();
  int count = 16;
  for (int k = 0; k < 4; ++k) {
    const __m512i lo = _mm512_loadu_si512(order.lo[k]), hi = _mm512_loadu_si512(order.hi[k]);
    for (int p = 0; p < count / 2; ++p)
      v[p] = _mm512_add_ps(_mm512_permutex2var_ps(v[2 * p], lo, v[2 * p + 1]),
                           _mm512_permutex2var_ps(v[2 * p], hi, v[2 * p + 1]));
    count /= 2;
  }
  return v[0];
}

// y[r][o] (= or +=) x row r · w row o + bias[o] for R rows and up to 4 outputs; y[r] points
// at the block's first output in row r.
template <int R>
CLAP_AVX512 void dots_avx512(const float* x, int64_t ldx, int64_t in, const float* w, int outputs, const float* bias,
                             float* const* y, bool add_residual) {
  __m512 acc[4][R];
#pragma GCC unroll 4
  for (int o = 0; o < 4; ++o)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc[o][r] = _mm512_setzero_ps();
  const float* wrow[4];
  for (int o = 0; o < 4; ++o) wrow[o] = w + std::min(o, outputs - 1) * in;  // spare lanes repeat the last row
  for (int64_t k = 0; k < in; k += 16) {
    const __mmask16 mask = in - k >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (in - k)) - 1);
    __m512 xv[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) xv[r] = _mm512_maskz_loadu_ps(mask, x + r * ldx + k);
#pragma GCC unroll 4
    for (int o = 0; o < 4; ++o) {
      _mm_prefetch(reinterpret_cast<const char*>(wrow[o] + k) + kPrefetchBytes, _MM_HINT_T0);
      const __m512 wv = _mm512_maskz_loadu_ps(mask, wrow[o] + k);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[o][r] = _mm512_fmadd_ps(xv[r], wv, acc[o][r]);
    }
  }
  // The 4 x R sums, all at once: a transposing reduction (shuffles + adds) that folds each
  // vector's lanes as a fixed pairwise tree (lane i + lane i+8, then +4, +2, +1).
  __m512 v[16];
#pragma GCC unroll 16
  for (int j = 0; j < 16; ++j) v[j] = j % 4 < R ? acc[j / 4][j % 4] : _mm512_setzero_ps();
  alignas(64) float sums[16];
  _mm512_store_ps(sums, reduce16(v));
  const ReduceOrder& order = reduce_order();
  for (int l = 0; l < 16; ++l) {
    const int o = order.source[l] / 4, r = order.source[l] % 4;
    if (o < outputs && r < R) {
      const float value = sums[l] + (bias ? bias[o] : 0.0f);
      y[r][o] = add_residual ? y[r][o] + value : value;
    }
  }
}

CLAP_AVX512 void rows_avx512(const float* x, int64_t rows, int64_t ldx, int64_t in, const float* weight,
                             const float* bias, int64_t out, float* y, int64_t ldy, bool add_residual,
                             const int64_t* row_map) {
  const int64_t blocks = (out + 3) / 4;
#pragma omp parallel for schedule(static) if (out * in >= 65536)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    float discard[4] = {};  // where rows mapped to -1 go
    const int64_t o = blk * 4;
    const int outputs = static_cast<int>(std::min<int64_t>(4, out - o));
    const float* b = bias ? bias + o : nullptr;
    for (int64_t r = 0; r < rows; r += 4) {
      const int n = static_cast<int>(std::min<int64_t>(4, rows - r));
      float* yr[4];
      for (int i = 0; i < n; ++i) {
        const int64_t row = row_map ? row_map[r + i] : r + i;
        yr[i] = row >= 0 ? y + row * ldy + o : discard;
      }
      const float* xr = x + r * ldx;
      switch (n) {
        case 1: dots_avx512<1>(xr, ldx, in, weight + o * in, outputs, b, yr, add_residual); break;
        case 2: dots_avx512<2>(xr, ldx, in, weight + o * in, outputs, b, yr, add_residual); break;
        case 3: dots_avx512<3>(xr, ldx, in, weight + o * in, outputs, b, yr, add_residual); break;
        default: dots_avx512<4>(xr, ldx, in, weight + o * in, outputs, b, yr, add_residual); break;
      }
    }
  }
}

CLAP_AVX512 void gelu_avx512(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, gelu512(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, mask, gelu512(_mm512_maskz_loadu_ps(mask, x + i)));
  }
}

}  // namespace clap::detail
#endif  // __x86_64__
