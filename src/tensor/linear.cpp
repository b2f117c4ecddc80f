#include "tensor/linear.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include "tensor/linear_neon.h"
#endif
#include <sys/mman.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/vector_math.h"
#include "core/isa.h"
#include "tensor/linear_kernels.h"
#include "tensor/ops.h"

namespace clap {
namespace {

constexpr int kPanel = 32;       // outputs per panel: two 16-float vectors
constexpr int kStripRows = 12;   // rows per register block: 24 accumulators + 2 weight vectors
constexpr int kTileRows = 288;   // rows per tile: a tile's inputs stay in L2 while panels stream

// 64-byte aligned; blocks of 2 MB and more are aligned to 2 MB and their whole 2 MB pages
// marked for transparent huge pages. The partial page at the end is not: a huge page there
// would make the padding resident too (up to 2 MB per layer, ~40 MB over a text tower).
void* allocate_bytes(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t align = bytes >= kHuge ? kHuge : 64;
  void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
  if (!p) throw Error("out of memory packing weights (" + std::to_string(bytes >> 20) + " MB)");
  if (align == kHuge) madvise(p, bytes / kHuge * kHuge, MADV_HUGEPAGE);  // advisory
  return p;
}

std::atomic<int> g_kernel_limit{static_cast<int>(KernelIsa::Avx512)};

// The family, limited by limit_kernels. Avx512 = AVX-512 with whichever later extensions the
// CPU has (they are not nested: Ice Lake has VNNI without BF16), checked one by one below.
KernelIsa kernel_isa() {
#if defined(__x86_64__)
  static const KernelIsa best =
      __builtin_cpu_supports("avx512f")
          ? (__builtin_cpu_supports("avx512bw") ? KernelIsa::Avx512 : KernelIsa::Avx512F)
          : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? KernelIsa::Avx2
                                                                              : KernelIsa::Generic;
  // Capped by the process's kernel set (core/isa.h: CLAPSEARCH_ISA) as well as by tests' limit.
  const IsaLevel level = isa_level();
  const int cap = static_cast<int>(level == IsaLevel::Avx512 ? KernelIsa::Avx512
                                   : level == IsaLevel::Avx2 ? KernelIsa::Avx2
                                                             : KernelIsa::Generic);
  return static_cast<KernelIsa>(
      std::max({static_cast<int>(best), g_kernel_limit.load(std::memory_order_relaxed), cap}));
#elif defined(__aarch64__)
  static const KernelIsa best = KernelIsa::Neon;  // Advanced SIMD is part of every ARMv8-A CPU
  return static_cast<KernelIsa>(std::max(static_cast<int>(best), g_kernel_limit.load(std::memory_order_relaxed)));
#else
  return KernelIsa::Generic;
#endif
}

// The float32 kernels need AVX-512 Foundation only; vdpbf16ps needs AVX512-BF16 as well; the
// int8 kernels need BW (16-bit multiplies), vpdpbusd AVX512-VNNI.
#if defined(__x86_64__)
bool cpu_has_avx512() { return kernel_isa() <= KernelIsa::Avx512F; }
bool cpu_has_avx512_bf16() { return kernel_isa() == KernelIsa::Avx512 && __builtin_cpu_supports("avx512bf16"); }
bool cpu_has_avx512bw() { return kernel_isa() <= KernelIsa::Avx512Bw; }
bool cpu_has_avx512_vnni() { return kernel_isa() == KernelIsa::Avx512 && __builtin_cpu_supports("avx512vnni"); }
#else
constexpr bool cpu_has_avx512() { return false; }
constexpr bool cpu_has_avx512_bf16() { return false; }
constexpr bool cpu_has_avx512bw() { return false; }
constexpr bool cpu_has_avx512_vnni() { return false; }
#endif

#if defined(__x86_64__)
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

// Stores a rows x 32 tile of accumulators through the epilogue; masks select the valid outputs.
template <int R>
CLAP_AVX512 inline void store_tile_avx512(__m512 (&acc0)[R], __m512 (&acc1)[R], float* const* out, __mmask16 mask0,
                                          __mmask16 mask1, Epilogue epilogue) {
  for (int r = 0; r < R; ++r) {
    float* yr = out[r];
    if (epilogue == Epilogue::AddResidual) {
      acc0[r] = _mm512_add_ps(_mm512_maskz_loadu_ps(mask0, yr), acc0[r]);
      acc1[r] = _mm512_add_ps(_mm512_maskz_loadu_ps(mask1, yr + 16), acc1[r]);
    } else if (epilogue == Epilogue::Gelu) {
      acc0[r] = gelu512(acc0[r]);
      acc1[r] = gelu512(acc1[r]);
    }
    _mm512_mask_storeu_ps(yr, mask0, acc0[r]);
    _mm512_mask_storeu_ps(yr + 16, mask1, acc1[r]);
  }
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

// ---- AVX2 kernel: each 32-wide panel as two 6x16 register tiles --------------------------
#define CLAP_AVX2 __attribute__((target("avx2,fma")))

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
  // Masked stores (no scalar tail loop over a runtime count).
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

#endif  // __x86_64__
// ---- generic kernel (CPUs without AVX2): one row at a time, the compiler vectorises -------
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
typedef uint32_t __attribute__((may_alias)) Word;

inline uint32_t pair_at(const uint16_t* x, int64_t pair) { return *reinterpret_cast<const Word*>(x + 2 * pair); }

#if defined(__x86_64__)
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

// AVX2: rows x 16 outputs (columns half*16 ..), up to 4 rows: 8 accumulators, 4 widened
// weight vectors and 2 broadcasts.
template <int R>
CLAP_AVX2 inline void half_tile_bf16_avx2(const uint16_t* x, int64_t ldx, const uint16_t* panel, const float* bias,
                                          int64_t pairs, float* const* out, int column, int valid, bool add_residual) {
  __m256 acc0[R], acc1[R];
  const __m256 bias0 = _mm256_loadu_ps(bias + column), bias1 = _mm256_loadu_ps(bias + column + 8);
  for (int r = 0; r < R; ++r) {
    acc0[r] = bias0;
    acc1[r] = bias1;
  }
  const __m256i high = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (int64_t p = 0; p < pairs; ++p) {
    const uint16_t* w = panel + p * 2 * kPanel + 2 * column;
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16));
    const __m256 w0_odd = _mm256_castsi256_ps(_mm256_and_si256(w0, high));
    const __m256 w0_even = _mm256_castsi256_ps(_mm256_slli_epi32(w0, 16));
    const __m256 w1_odd = _mm256_castsi256_ps(_mm256_and_si256(w1, high));
    const __m256 w1_even = _mm256_castsi256_ps(_mm256_slli_epi32(w1, 16));
    for (int r = 0; r < R; ++r) {
      const uint32_t word = pair_at(x + r * ldx, p);
      const __m256 a_odd = _mm256_set1_ps(std::bit_cast<float>(word & 0xFFFF0000u));
      const __m256 a_even = _mm256_set1_ps(std::bit_cast<float>(word << 16));
      acc0[r] = _mm256_fmadd_ps(a_even, w0_even, _mm256_fmadd_ps(a_odd, w0_odd, acc0[r]));
      acc1[r] = _mm256_fmadd_ps(a_even, w1_even, _mm256_fmadd_ps(a_odd, w1_odd, acc1[r]));
    }
  }
  const int count = std::min(16, valid - column);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lane);
  const __m256i mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(count - 8), lane);
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

CLAP_AVX2 void strip_bf16_avx2(int rows, const uint16_t* x, int64_t ldx, const uint16_t* panel, const float* bias,
                               int64_t pairs, float* const* out, int valid, bool add_residual) {
  for (int r = 0; r < rows; r += 4) {
    const int n = std::min(4, rows - r);
    for (int column = 0; column < valid; column += 16) {
      switch (n) {
#define CLAP_HALF(m)                                                                                       \
  case m:                                                                                                  \
    half_tile_bf16_avx2<m>(x + r * ldx, ldx, panel, bias, pairs, out + r, column, valid, add_residual); \
    break;
        CLAP_HALF(1) CLAP_HALF(2) CLAP_HALF(3) CLAP_HALF(4)
#undef CLAP_HALF
      }
    }
  }
}

#endif  // __x86_64__
// Generic: the same order in scalar float32. Products of two bfloat16 are exact, so multiply
// then add equals the fused step (except for products below float32's normal range).
void strip_bf16_generic(int rows, const uint16_t* x, int64_t ldx, const uint16_t* panel, const float* bias,
                        int64_t pairs, float* const* out, int valid, bool add_residual) {
  for (int r = 0; r < rows; ++r) {
    float acc[kPanel];
    for (int j = 0; j < kPanel; ++j) acc[j] = bias[j];
    const uint16_t* xr = x + r * ldx;
    for (int64_t p = 0; p < pairs; ++p) {
      const float a_even = from_bf16(xr[2 * p]), a_odd = from_bf16(xr[2 * p + 1]);
      const uint16_t* w = panel + p * 2 * kPanel;
      for (int j = 0; j < kPanel; ++j) {
        acc[j] += a_odd * from_bf16(w[2 * j + 1]);
        acc[j] += a_even * from_bf16(w[2 * j]);
      }
    }
    float* yr = out[r];
    for (int j = 0; j < valid; ++j) yr[j] = add_residual ? yr[j] + acc[j] : acc[j];
  }
}

#if defined(__x86_64__)
// to_bf16 on 16 values at a time, in integer operations (the same bits by construction).
// (maskz forms of the shifts and the narrowing: GCC 12 warns on the plain ones.)
CLAP_AVX512 void to_bf16_avx512(const float* x, int64_t n, uint16_t* out) {
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

#endif  // __x86_64__
// Rounds rows x in floats (stride ldx) to bfloat16 rows of `width` (even) elements, zero-padded.
void round_rows_bf16(const float* x, int64_t rows, int64_t ldx, int64_t in, uint16_t* out, int64_t width) {
#pragma omp parallel for schedule(static) if (rows * in >= 65536)
  for (int64_t r = 0; r < rows; ++r) {
    to_bf16(x + r * ldx, in, out + r * width);
    for (int64_t k = in; k < width; ++k) out[r * width + k] = 0;
  }
}

// ---- I8 panels --------------------------------------------------------------------------
// Inputs: rows of u8 (ldx bytes apart, k padded to a multiple of 4 with zeros), read as groups
// of 4 k (one 32-bit word). Panels: per group, 32 words of 4 s8 weights (one per output).
// Every kernel forms the exact int32 sums S = Σ u·q - z·Σq (the order does not matter: integer
// sums are exact, |S| < 2^31 for in < 66000) and then y = fma(float(S), s·scale, bias). Written
// as one fused step on every path: an unfused multiply and add might be contracted by the
// compiler on some paths and not others.
struct I8Panel {              // one panel's per-output data
  const int8_t* weights;      // groups x 32 x 4
  const float* bias;          // 32
  const float* scale;         // 32
  const int32_t* weight_sum;  // 32
};

struct I8Rows {                // a strip's inputs
  const uint8_t* u;            // rows of ldx bytes
  int64_t ldx;
  const float* scale;          // per row
  const int32_t* zero;         // per row
};

#if defined(__x86_64__)
#define CLAP_AVX512_BW __attribute__((target("avx512f,avx512bw,avx512vl")))
#define CLAP_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

inline uint32_t group_at(const uint8_t* u, int64_t group) { return *reinterpret_cast<const Word*>(u + 4 * group); }

// From exact sums (outputs 0-15 in s0, 16-31 in s1, before the zero-point correction) to the
// stored outputs, through the epilogue.
template <int R>
CLAP_AVX512_BW inline void finish_i8_avx512(__m512i (&s0)[R], __m512i (&s1)[R], const I8Rows& x, const I8Panel& w,
                                            float* const* out, __mmask16 mask0, __mmask16 mask1, Epilogue epilogue) {
  const __m512i sum0 = _mm512_load_si512(w.weight_sum), sum1 = _mm512_load_si512(w.weight_sum + 16);
  const __m512 scale0 = _mm512_load_ps(w.scale), scale1 = _mm512_load_ps(w.scale + 16);
  const __m512 bias0 = _mm512_load_ps(w.bias), bias1 = _mm512_load_ps(w.bias + 16);
  __m512 y0[R], y1[R];
  for (int r = 0; r < R; ++r) {
    const __m512i z = _mm512_set1_epi32(x.zero[r]);
    const __m512 s = _mm512_set1_ps(x.scale[r]);
    const __m512i c0 = _mm512_sub_epi32(s0[r], _mm512_mullo_epi32(z, sum0));
    const __m512i c1 = _mm512_sub_epi32(s1[r], _mm512_mullo_epi32(z, sum1));
    y0[r] = _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, c0), _mm512_mul_ps(s, scale0), bias0);
    y1[r] = _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, c1), _mm512_mul_ps(s, scale1), bias1);
  }
  store_tile_avx512<R>(y0, y1, out, mask0, mask1, epilogue);
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
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_si512();
  for (int64_t g = 0; g < groups; ++g) {
    const __m512i w0 = _mm512_load_si512(w.weights + g * 4 * kPanel);
    const __m512i w1 = _mm512_load_si512(w.weights + g * 4 * kPanel + 64);
    for (int r = 0; r < R; ++r) {
      const __m512i a = _mm512_set1_epi32(static_cast<int>(group_at(x.u + r * x.ldx, g)));
      acc0[r] = dpbusd(acc0[r], a, w0);
      acc1[r] = dpbusd(acc1[r], a, w1);
    }
  }
  finish_i8_avx512<R>(acc0, acc1, x, w, out, mask0, mask1, epilogue);
}

// AVX-512BW without VNNI: weights widened to 16 bits (8 outputs x 4 k per vector); vpmaddwd
// gives per output two pair sums (lanes 2j, 2j+1: k0·q0 + k1·q1 and k2·q2 + k3·q3, exact in
// int32), added up once at the end. Up to 6 rows: 24 accumulators, 4 weight vectors.
template <int R>
CLAP_AVX512_BW inline void tile_i8_avx512bw(const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out,
                                      __mmask16 mask0, __mmask16 mask1, Epilogue epilogue) {
  __m512i acc0[R], acc1[R], acc2[R], acc3[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = acc2[r] = acc3[r] = _mm512_setzero_si512();
  // Per 128-bit lane: bytes 0..3 of the broadcast word to the low halves of 16-bit lanes, twice.
  const __m512i spread = _mm512_set4_epi32(0x8003'8002, 0x8001'8000, 0x8003'8002, 0x8001'8000);
  for (int64_t g = 0; g < groups; ++g) {
    const int8_t* wg = w.weights + g * 4 * kPanel;
    const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(wg)));
    const __m512i w1 = _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(wg + 32)));
    const __m512i w2 = _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(wg + 64)));
    const __m512i w3 = _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(wg + 96)));
    for (int r = 0; r < R; ++r) {
      const __m512i a = _mm512_shuffle_epi8(_mm512_set1_epi32(static_cast<int>(group_at(x.u + r * x.ldx, g))), spread);
      acc0[r] = _mm512_add_epi32(acc0[r], _mm512_madd_epi16(a, w0));
      acc1[r] = _mm512_add_epi32(acc1[r], _mm512_madd_epi16(a, w1));
      acc2[r] = _mm512_add_epi32(acc2[r], _mm512_madd_epi16(a, w2));
      acc3[r] = _mm512_add_epi32(acc3[r], _mm512_madd_epi16(a, w3));
    }
  }
  // Lanes 2j and 2j+1 of (acc0, acc1) -> output j of 0-15; likewise (acc2, acc3) -> 16-31.
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  __m512i s0[R], s1[R];
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

// AVX2: rows x 16 outputs (columns column..column+15), up to 2 rows: weights widened to 16 bits
// (4 outputs x 4 k per vector, 4 vectors), 8 accumulators of pair sums as in tile_i8_avx512bw.
template <int R>
CLAP_AVX2 inline void half_tile_i8_avx2(const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out,
                                        int column, int valid, bool add_residual) {
  __m256i acc0[R], acc1[R], acc2[R], acc3[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = acc2[r] = acc3[r] = _mm256_setzero_si256();
  const __m256i spread = _mm256_setr_epi8(0, -1, 1, -1, 2, -1, 3, -1, 0, -1, 1, -1, 2, -1, 3, -1,
                                          0, -1, 1, -1, 2, -1, 3, -1, 0, -1, 1, -1, 2, -1, 3, -1);
  for (int64_t g = 0; g < groups; ++g) {
    const int8_t* wg = w.weights + g * 4 * kPanel + 4 * column;
    const __m256i w0 = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(wg)));
    const __m256i w1 = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(wg + 16)));
    const __m256i w2 = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(wg + 32)));
    const __m256i w3 = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(wg + 48)));
    for (int r = 0; r < R; ++r) {
      const __m256i a = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(group_at(x.u + r * x.ldx, g))), spread);
      acc0[r] = _mm256_add_epi32(acc0[r], _mm256_madd_epi16(a, w0));
      acc1[r] = _mm256_add_epi32(acc1[r], _mm256_madd_epi16(a, w1));
      acc2[r] = _mm256_add_epi32(acc2[r], _mm256_madd_epi16(a, w2));
      acc3[r] = _mm256_add_epi32(acc3[r], _mm256_madd_epi16(a, w3));
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
  for (int r = 0; r < R; ++r) {
    // hadd pairs lanes within 128-bit halves: (o0 o1 o4 o5 | o2 o3 o6 o7); the permute orders them.
    const __m256i s0 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc0[r], acc1[r]), 0xD8);
    const __m256i s1 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc2[r], acc3[r]), 0xD8);
    const __m256i z = _mm256_set1_epi32(x.zero[r]);
    const __m256 s = _mm256_set1_ps(x.scale[r]);
    const __m256i c0 = _mm256_sub_epi32(s0, _mm256_mullo_epi32(z, sum0));
    const __m256i c1 = _mm256_sub_epi32(s1, _mm256_mullo_epi32(z, sum1));
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

CLAP_AVX2 void strip_i8_avx2(int rows, const I8Rows& x, const I8Panel& w, int64_t groups, float* const* out, int valid,
                             bool add_residual) {
  for (int r = 0; r < rows; r += 2) {
    const I8Rows part{x.u + r * x.ldx, x.ldx, x.scale + r, x.zero + r};
    for (int column = 0; column < valid; column += 16) {
      if (rows - r >= 2)
        half_tile_i8_avx2<2>(part, w, groups, out + r, column, valid, add_residual);
      else
        half_tile_i8_avx2<1>(part, w, groups, out + r, column, valid, add_residual);
    }
  }
}

#endif  // __x86_64__
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

#if defined(__x86_64__)
// The input step: each row quantised on its own (quantize_row_u8), k padded with zeros.
// The range of a row, 16 lanes at a time (min and max are exact: any order gives the same).
CLAP_AVX512_BW void row_range_avx512(const float* x, int64_t n, float* lo, float* hi) {
  __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();  // masked-off lanes read as 0: in range
  for (int64_t k = 0; k < n; k += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(low_mask(static_cast<int>(std::min<int64_t>(16, n - k))), x + k);
    vlo = _mm512_maskz_min_ps(0xFFFF, vlo, v);  // (maskz forms: GCC 12 warns on the plain ones)
    vhi = _mm512_maskz_max_ps(0xFFFF, vhi, v);
  }
  alignas(64) float lows[16], highs[16];
  _mm512_store_ps(lows, vlo);
  _mm512_store_ps(highs, vhi);
  *lo = *std::min_element(lows, lows + 16);
  *hi = *std::max_element(highs, highs + 16);
}

CLAP_AVX512_BW void quantize_row_u8_avx512(const float* x, int64_t n, uint8_t* u, float inv, int32_t zero) {
  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512i z = _mm512_set1_epi32(zero), low = _mm512_setzero_si512(), high = _mm512_set1_epi32(255);
  for (int64_t k = 0; k < n; k += 16) {
    const __mmask16 m = low_mask(static_cast<int>(std::min<int64_t>(16, n - k)));
    // cvtps rounds to nearest even (the default MXCSR), as std::nearbyint does.
    // (maskz forms: GCC 12 warns on the plain ones.)
    __m512i q = _mm512_add_epi32(_mm512_maskz_cvtps_epi32(0xFFFF, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), vinv)), z);
    q = _mm512_maskz_min_epi32(0xFFFF, _mm512_maskz_max_epi32(0xFFFF, q, low), high);
    _mm_mask_storeu_epi8(u + k, m, _mm512_maskz_cvtepi32_epi8(0xFFFF, q));
  }
}

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
  if (!(hi > lo)) {  // all zero
    std::fill(u, u + width, uint8_t{0});
    *scale = 0.0f;
    *zero = 0;
    return;
  }
  const float range = hi - lo, inv = 255.0f / range;
  const int32_t z = std::clamp(static_cast<int32_t>(std::nearbyint(-lo * inv)), 0, 255);
  *scale = range / 255.0f;
  *zero = z;
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

#endif  // __x86_64__
// multiplier (null = none): each input channel times its power of two first (the layer's
// channel smoothing, see pack_linear), an exact step.
void quantize_rows_u8(const float* x, int64_t rows, int64_t ldx, int64_t in, const float* multiplier, uint8_t* u,
                      int64_t width, float* scale, int32_t* zero) {
#if defined(__x86_64__)
  if (cpu_has_avx512bw()) {
#pragma omp parallel for schedule(static) if (rows * in >= 65536)
    for (int64_t r = 0; r < rows; ++r)
      quantize_row_u8_fused_avx512(x + r * ldx, in, multiplier, u + r * width, width, scale + r, zero + r);
    return;
  }
#endif
#pragma omp parallel if (rows * in >= 65536)
  {
    std::vector<float> smoothed(multiplier ? static_cast<size_t>(in) : 0);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * ldx;
      if (multiplier) {
        for (int64_t k = 0; k < in; ++k) smoothed[k] = row[k] * multiplier[k];
        row = smoothed.data();
      }
      quantize_row_u8(row, in, u + r * width, scale + r, zero + r);
      std::fill(u + r * width + in, u + (r + 1) * width, uint8_t{0});
    }
  }
}

#if defined(__x86_64__)
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

#endif  // __x86_64__
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

// Rows layout: W streamed once per call in its own layout (the text tower: a few rows per
// text, all texts of a batch in one call).
void linear_rows(const float* x, int64_t rows, int64_t ldx, const LinearWeights& w, float* y, int64_t ldy,
                 Epilogue epilogue, const int64_t* row_map) {
  const float* weight = static_cast<const float*>(w.weight);
  const bool add_residual = epilogue == Epilogue::AddResidual;
#if defined(__x86_64__)
  if (cpu_has_avx512())
    rows_avx512(x, rows, ldx, w.in, weight, w.bias, w.out, y, ldy, add_residual, row_map);
  else
#endif
    rows_portable(x, rows, ldx, w.in, weight, w.bias, w.out, y, ldy, add_residual, row_map);
  if (epilogue == Epilogue::Gelu) {
#pragma omp parallel for schedule(static) if (rows * w.out >= 32768)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t row = row_map ? row_map[r] : r;
      if (row >= 0) gelu_erf_inplace(y + row * ldy, w.out);
    }
  }
}

// Panels layout: row tiles x panel groups across threads, strips of up to 12 rows per
// register block. strip(rows, first input row, panel index, out rows, valid outputs) runs one
// register block; gelu_after: the kernel leaves GELU to a pass over the tile's outputs.
template <typename Strip>
void for_each_strip(int64_t rows, int64_t out, float* y, int64_t ldy, const int64_t* row_map, bool gelu_after,
                    bool flush_denormals, const Strip& strip) {
  const int64_t panels = (out + kPanel - 1) / kPanel;
  const int threads = omp_get_max_threads();
  // Tiles: row blocks of whole strips (balanced across threads) x groups of panels. Small
  // row counts split the panels instead, so both cores work on stage-4-sized inputs.
  const int64_t strips = (rows + kStripRows - 1) / kStripRows;
  int64_t row_tiles = std::max<int64_t>(1, (rows + kTileRows / 2) / kTileRows);
  if (row_tiles >= threads) row_tiles = (row_tiles + threads - 1) / threads * threads;
  row_tiles = std::min(row_tiles, strips);
  const int64_t panel_groups = row_tiles >= threads ? 1 : std::min<int64_t>(panels, threads * 2);
  const int64_t tiles = row_tiles * panel_groups;
#pragma omp parallel
  {
    // BF16 paths flush denormals (as vdpbf16ps does, whatever the MXCSR says), so every path
    // gives the same bits; restored after the call.
#if defined(__x86_64__)
    const unsigned saved_csr = _mm_getcsr();
    if (flush_denormals) _mm_setcsr(saved_csr | 0x8040);
#elif defined(__aarch64__)
    // ARM: FPCR.FZ (bit 24) flushes denormal inputs and results, as MXCSR's FTZ + DAZ do.
    const unsigned saved_fpcr = __builtin_aarch64_get_fpcr();
    if (flush_denormals) __builtin_aarch64_set_fpcr(saved_fpcr | (1u << 24));
#endif
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tiles; ++t) {
      float discard[kPanel] = {};  // where rows mapped to -1 go
      const int64_t rt = t / panel_groups, g = t % panel_groups;
      const int64_t s0 = strips * rt / row_tiles, s1 = strips * (rt + 1) / row_tiles;
      const int64_t p0 = panels * g / panel_groups, p1 = panels * (g + 1) / panel_groups;
      const int64_t r0 = s0 * kStripRows, r1 = std::min(rows, s1 * kStripRows);
      for (int64_t p = p0; p < p1; ++p) {
        const int valid = static_cast<int>(std::min<int64_t>(kPanel, out - p * kPanel));
        for (int64_t r = r0; r < r1; r += kStripRows) {
          const int n = static_cast<int>(std::min<int64_t>(kStripRows, r1 - r));
          float* dst[kStripRows];
          for (int i = 0; i < n; ++i) {
            const int64_t row = row_map ? row_map[r + i] : r + i;
            dst[i] = row >= 0 ? y + row * ldy + p * kPanel : discard;
          }
          strip(n, r, p, dst, valid);
        }
      }
      if (gelu_after) {
        const int64_t c0 = p0 * kPanel, c1 = std::min(out, p1 * kPanel);
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t row = row_map ? row_map[r] : r;
          if (row >= 0) gelu_erf_inplace(y + row * ldy + c0, c1 - c0);
        }
      }
    }
#if defined(__x86_64__)
    if (flush_denormals) _mm_setcsr(saved_csr);
#elif defined(__aarch64__)
    if (flush_denormals) __builtin_aarch64_set_fpcr(saved_fpcr);
#endif
  }
}

void linear_panels_f32(const float* x, int64_t rows, int64_t ldx, const LinearWeights& w, float* y, int64_t ldy,
                       Epilogue epilogue, const int64_t* row_map) {
  const float* weights = static_cast<const float*>(w.weight);
  const KernelIsa isa = kernel_isa();
  const bool avx512 = cpu_has_avx512();
  const bool add_residual = epilogue == Epilogue::AddResidual;
  const bool gelu_after = epilogue == Epilogue::Gelu && !avx512;  // the AVX-512 kernel applies it in registers
  for_each_strip(rows, w.out, y, ldy, row_map, gelu_after, false,
                 [&](int n, int64_t r, int64_t p, float* const* out, int valid) {
                   const float* panel = weights + p * w.in * kPanel;
                   const float* bias = w.bias + p * kPanel;
#if defined(__x86_64__)
                   if (avx512)
                     strip_avx512(n, x + r * ldx, ldx, panel, bias, w.in, out, valid, epilogue);
                   else if (isa == KernelIsa::Avx2)
                     strip_avx2(n, x + r * ldx, ldx, panel, bias, w.in, out, valid, add_residual);
                   else
#elif defined(__aarch64__)
                   if (isa == KernelIsa::Neon)
                     strip_neon(n, x + r * ldx, ldx, panel, bias, w.in, out, valid, add_residual);
                   else
#endif
                     strip_generic(n, x + r * ldx, ldx, panel, bias, w.in, out, valid, add_residual);
                 });
}

void linear_panels_bf16(const float* x, int64_t rows, int64_t ldx, const LinearWeights& w, float* y, int64_t ldy,
                        Epilogue epilogue, const int64_t* row_map, LinearScratch& scratch) {
  const int64_t pairs = (w.in + 1) / 2, width = 2 * pairs;
  if (scratch.input_bf16.size() < static_cast<size_t>(rows * width)) scratch.input_bf16.resize(rows * width);
  uint16_t* xb = scratch.input_bf16.data();
  round_rows_bf16(x, rows, ldx, w.in, xb, width);
  const uint16_t* weights = static_cast<const uint16_t*>(w.weight);
  const KernelIsa isa = kernel_isa();
  const bool avx512 = cpu_has_avx512(), bf16_instructions = cpu_has_avx512_bf16();
  const bool add_residual = epilogue == Epilogue::AddResidual;
  const bool gelu_after = epilogue == Epilogue::Gelu && !avx512;
#if defined(__x86_64__)
  if (!avx512 && isa == KernelIsa::Avx2) {  // linear_avx2.cpp: inputs widened to float32 once
    if (scratch.input_widened.size() < static_cast<size_t>(rows * width)) scratch.input_widened.resize(rows * width);
    float* xf = scratch.input_widened.data();
    detail::widen_rows_bf16_avx2(xb, rows, width, xf);
    return for_each_strip(rows, w.out, y, ldy, row_map, gelu_after, true,
                          [&](int n, int64_t r, int64_t p, float* const* out, int valid) {
                            detail::strip_bf16_widened_avx2(n, xf + r * width, width, weights + p * pairs * 2 * kPanel,
                                                            w.bias + p * kPanel, pairs, out, valid, add_residual);
                          });
  }
#else
  (void)bf16_instructions;
#endif
  for_each_strip(rows, w.out, y, ldy, row_map, gelu_after, true,
                 [&](int n, int64_t r, int64_t p, float* const* out, int valid) {
                   const uint16_t* panel = weights + p * pairs * 2 * kPanel;
                   const float* bias = w.bias + p * kPanel;
                   const uint16_t* xr = xb + r * width;
#if defined(__x86_64__)
                   if (avx512)
                     strip_bf16_avx512(bf16_instructions, n, xr, width, panel, bias, pairs, out, valid, epilogue);
                   else if (isa == KernelIsa::Avx2)
                     strip_bf16_avx2(n, xr, width, panel, bias, pairs, out, valid, add_residual);
                   else
#elif defined(__aarch64__)
                   if (isa == KernelIsa::Neon)
                     strip_bf16_neon(n, xr, width, panel, bias, pairs, out, valid, add_residual);
                   else
#endif
                     strip_bf16_generic(n, xr, width, panel, bias, pairs, out, valid, add_residual);
                 });
}

void linear_panels_i8(const float* x, int64_t rows, int64_t ldx, const LinearWeights& w, float* y, int64_t ldy,
                      Epilogue epilogue, const int64_t* row_map, LinearScratch& scratch) {
  const int64_t groups = (w.in + 3) / 4, width = 4 * groups;
  if (scratch.input_u8.size() < static_cast<size_t>(rows * width)) scratch.input_u8.resize(rows * width);
  if (scratch.input_scale.size() < static_cast<size_t>(rows)) scratch.input_scale.resize(rows);
  if (scratch.input_zero.size() < static_cast<size_t>(rows)) scratch.input_zero.resize(rows);
  quantize_rows_u8(x, rows, ldx, w.in, w.input_multiplier, scratch.input_u8.data(), width, scratch.input_scale.data(),
                   scratch.input_zero.data());
  const int8_t* weights = static_cast<const int8_t*>(w.weight);
  const bool avx512 = cpu_has_avx512bw(), vnni = cpu_has_avx512_vnni();
  const bool avx2 = !avx512 && kernel_isa() <= KernelIsa::Avx2;  // also AVX-512 without BW
  const bool add_residual = epilogue == Epilogue::AddResidual;
  const bool gelu_after = epilogue == Epilogue::Gelu && !avx512;
#if defined(__x86_64__)
  if (avx2) {  // linear_avx2.cpp: inputs widened to int16 once
    if (scratch.input_i16.size() < static_cast<size_t>(rows * width)) scratch.input_i16.resize(rows * width);
    int16_t* xi = scratch.input_i16.data();
    detail::widen_rows_u8_avx2(scratch.input_u8.data(), rows * width, xi);
    return for_each_strip(rows, w.out, y, ldy, row_map, gelu_after, false,
                          [&](int n, int64_t r, int64_t p, float* const* out, int valid) {
                            const detail::I8Strip s{weights + p * groups * 4 * kPanel, w.bias + p * kPanel,
                                                    w.scale + p * kPanel, w.weight_sum + p * kPanel,
                                                    scratch.input_scale.data() + r, scratch.input_zero.data() + r};
                            detail::strip_i8_widened_avx2(n, xi + r * width, width, s, groups, out, valid, add_residual);
                          });
  }
#else
  (void)vnni, (void)avx2;
#endif
#if defined(__aarch64__)
  const bool neon = kernel_isa() == KernelIsa::Neon, dotprod = arm_features().dotprod;
#endif
  for_each_strip(rows, w.out, y, ldy, row_map, gelu_after, false,
                 [&](int n, int64_t r, int64_t p, float* const* out, int valid) {
                   const I8Panel panel{weights + p * groups * 4 * kPanel, w.bias + p * kPanel, w.scale + p * kPanel,
                                       w.weight_sum + p * kPanel};
                   const I8Rows xr{scratch.input_u8.data() + r * width, width, scratch.input_scale.data() + r,
                                   scratch.input_zero.data() + r};
#if defined(__x86_64__)
                   if (avx512)
                     strip_i8_avx512(vnni, n, xr, panel, groups, out, valid, epilogue);
                   else if (avx2)
                     strip_i8_avx2(n, xr, panel, groups, out, valid, add_residual);
                   else
#elif defined(__aarch64__)
                   if (neon)
                     strip_i8_neon(dotprod, n, NeonI8Rows{xr.u, xr.ldx, xr.scale, xr.zero},
                                   NeonI8Panel{panel.weights, panel.bias, panel.scale, panel.weight_sum}, groups, out,
                                   valid, add_residual);
                   else
#endif
                     strip_i8_generic(n, xr, panel, groups, out, valid, add_residual);
                 });
}

}  // namespace

uint16_t to_bf16(float value) {
  const uint32_t u = std::bit_cast<uint32_t>(value);
  const uint32_t exponent = u & 0x7F800000u, top = u >> 16;
  if (exponent == 0x7F800000u && (u & 0x007FFFFFu)) return static_cast<uint16_t>(top | 0x40);  // NaN, kept quiet
  if (exponent == 0) return static_cast<uint16_t>(top & 0x8000);  // zero or denormal: signed zero
  return static_cast<uint16_t>((u + 0x7FFF + (top & 1)) >> 16);  // nearest even (overflow -> inf)
}

void to_bf16(const float* x, int64_t n, uint16_t* out) {
#if defined(__x86_64__)
  if (cpu_has_avx512()) return to_bf16_avx512(x, n, out);
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = to_bf16(x[i]);
}

void quantize_row_u8(const float* x, int64_t n, uint8_t* u, float* scale, int32_t* zero) {
  float lo = 0.0f, hi = 0.0f;  // the range includes 0, so zero (padding, ReLU-like zeros) is exact
#if defined(__x86_64__)
  if (cpu_has_avx512bw()) {
    row_range_avx512(x, n, &lo, &hi);
  } else
#endif
  {
    for (int64_t k = 0; k < n; ++k) {
      lo = std::min(lo, x[k]);
      hi = std::max(hi, x[k]);
    }
  }
  if (!(hi > lo)) {  // all zero
    std::fill(u, u + n, uint8_t{0});
    *scale = 0.0f;
    *zero = 0;
    return;
  }
  const float range = hi - lo, inv = 255.0f / range;
  const int32_t z = std::clamp(static_cast<int32_t>(std::nearbyint(-lo * inv)), 0, 255);
  *scale = range / 255.0f;
  *zero = z;
#if defined(__x86_64__)
  if (cpu_has_avx512bw()) return quantize_row_u8_avx512(x, n, u, inv, z);
#endif
  for (int64_t k = 0; k < n; ++k)
    u[k] = static_cast<uint8_t>(std::clamp(static_cast<int32_t>(std::nearbyint(x[k] * inv)) + z, 0, 255));
}

float from_bf16(uint16_t value) { return std::bit_cast<float>(static_cast<uint32_t>(value) << 16); }

const char* weight_type_name(WeightType type) {
  return type == WeightType::BF16 ? "bf16" : type == WeightType::I8 ? "i8" : "f32";
}

namespace {

int64_t panel_elements(int64_t in, WeightType type) {  // weights per panel (elements of `type`)
  switch (type) {
    case WeightType::BF16: return (in + 1) / 2 * 2 * kPanel;
    case WeightType::I8: return (in + 3) / 4 * 4 * kPanel;
    default: return in * kPanel;
  }
}
size_t element_bytes(WeightType type) { return type == WeightType::BF16 ? 2 : type == WeightType::I8 ? 1 : 4; }
// Per-output arrays after the panels: biases; I8 adds scales and weight sums (4 bytes each).
int per_output_arrays(WeightType type) { return type == WeightType::I8 ? 3 : 1; }
// Per-input floats after those: I8's input multipliers (k padded to groups of 4).
int64_t per_input_floats(int64_t in, WeightType type) { return type == WeightType::I8 ? (in + 3) / 4 * 4 : 0; }

// I8 channel smoothing: per input channel k, a power of two s_k >= 1 that brings a weight
// column much smaller than the layer's median column (max |w| over outputs) up to it:
// s_k = 2^round(log2(median / column max)), at most 2^10. The weights are packed times s_k and
// the inputs multiplied by 1/s_k before they are quantised: the same function, exactly (powers
// of two), but an activation channel that a trained model makes hundreds of times larger than
// the rest while giving it as many times smaller weights (a large LayerNorm gain) no longer
// sets the row's quantisation range alone. Data-free: read from the weights only.
std::vector<float> channel_smoothing(int64_t out, int64_t in, const std::function<const float*(int64_t)>& weight_row) {
  std::vector<float> column_max(static_cast<size_t>(in), 0.0f);
  for (int64_t o = 0; o < out; ++o) {
    const float* w = weight_row(o);
    for (int64_t k = 0; k < in; ++k) column_max[k] = std::max(column_max[k], std::fabs(w[k]));
  }
  std::vector<float> nonzero;
  for (float m : column_max)
    if (m > 0.0f) nonzero.push_back(m);
  std::vector<float> s(static_cast<size_t>(in), 1.0f);
  if (nonzero.empty()) return s;
  std::sort(nonzero.begin(), nonzero.end());
  const float median = nonzero[nonzero.size() / 2];
  for (int64_t k = 0; k < in; ++k) {
    if (column_max[k] == 0.0f || column_max[k] >= median) continue;
    int e = 0;
    const float m = std::frexp(median / column_max[k], &e);  // ratio = m · 2^e, m in [0.5, 1)
    const int power = std::clamp(m >= 0.70710678f ? e : e - 1, 0, 10);
    s[k] = std::ldexp(1.0f, power);
  }
  return s;
}

// One output's weights to int8, symmetric: scale = max|w| / 127, q = round(w·127/max|w|) (ties
// to even; an all-zero row: scale 0, q 0). Returns the scale; `sum` gets Σq.
float quantize_weights_s8(const float* w, int64_t in, int8_t* q, int32_t* sum) {
  float amax = 0.0f;
  for (int64_t k = 0; k < in; ++k) amax = std::max(amax, std::fabs(w[k]));
  *sum = 0;
  if (amax == 0.0f) {
    std::fill(q, q + in, int8_t{0});
    return 0.0f;
  }
  const float inv = 127.0f / amax;
  for (int64_t k = 0; k < in; ++k) {
    q[k] = static_cast<int8_t>(std::clamp(static_cast<int32_t>(std::nearbyint(w[k] * inv)), -127, 127));
    *sum += q[k];
  }
  return amax / 127.0f;
}

}  // namespace

PackedLinear pack_linear(int parts, const float* const* weights, const float* const* biases, const int64_t* outs,
                         int64_t in, WeightType type) {
  PackedLinear p;
  p.in = in;
  p.type = type;
  for (int i = 0; i < parts; ++i) p.out += outs[i];
  const int64_t panels = (p.out + kPanel - 1) / kPanel;
  const size_t panel_bytes = static_cast<size_t>(panels * panel_elements(in, type)) * element_bytes(type);
  const size_t extras = static_cast<size_t>(per_output_arrays(type) * panels * kPanel + per_input_floats(in, type));  // 4-byte values
  p.data.reset(allocate_bytes(panel_bytes + extras * sizeof(float)));
  float* bias = reinterpret_cast<float*>(static_cast<char*>(p.data.get()) + panel_bytes);
  std::fill(bias, bias + extras, 0.0f);  // (all-zero bits are also int32 zeros)
  // Row o of the stacked matrix comes from part `which`, row `o - first`.
  std::vector<std::pair<int, int64_t>> source(static_cast<size_t>(p.out));
  int64_t o = 0;
  for (int i = 0; i < parts; ++i)
    for (int64_t r = 0; r < outs[i]; ++r, ++o) {
      source[o] = {i, r};
      if (biases[i]) bias[o] = biases[i][r];
    }
  const auto weight_row = [&](int64_t row) -> const float* {
    return row < p.out ? weights[source[row].first] + source[row].second * in : nullptr;  // null: padding
  };
  // Transposed in 64-k blocks: the destination block stays in L1 while 32 source rows are
  // read sequentially.
  constexpr int64_t kBlock = 64;
  if (type == WeightType::F32) {
    float* data = static_cast<float*>(p.data.get());
#pragma omp parallel for schedule(static)
    for (int64_t panel = 0; panel < panels; ++panel) {
      float* dst = data + panel * in * kPanel;
      for (int64_t k0 = 0; k0 < in; k0 += kBlock) {
        const int64_t k1 = std::min(in, k0 + kBlock);
        for (int j = 0; j < kPanel; ++j) {
          const float* src = weight_row(panel * kPanel + j);
          for (int64_t k = k0; k < k1; ++k) dst[k * kPanel + j] = src ? src[k] : 0.0f;
        }
      }
    }
  } else if (type == WeightType::I8) {
    int8_t* data = static_cast<int8_t*>(p.data.get());
    float* scale = bias + panels * kPanel;
    int32_t* weight_sum = reinterpret_cast<int32_t*>(scale + panels * kPanel);
    float* multiplier = reinterpret_cast<float*>(weight_sum + panels * kPanel);
    const int64_t groups = (in + 3) / 4;
    const std::vector<float> smoothing = channel_smoothing(p.out, in, weight_row);
    for (int64_t k = 0; k < 4 * groups; ++k) multiplier[k] = k < in ? 1.0f / smoothing[k] : 1.0f;
#pragma omp parallel for schedule(static)
    for (int64_t panel = 0; panel < panels; ++panel) {
      int8_t* dst = data + panel * groups * 4 * kPanel;
      std::vector<int8_t> q(static_cast<size_t>(4 * groups), 0);  // one output, k padded with zeros
      std::vector<float> smoothed(static_cast<size_t>(in));
      for (int j = 0; j < kPanel; ++j) {
        const int64_t o = panel * kPanel + j;
        const float* src = weight_row(o);
        if (src) {
          for (int64_t k = 0; k < in; ++k) smoothed[k] = src[k] * smoothing[k];
          scale[o] = quantize_weights_s8(smoothed.data(), in, q.data(), &weight_sum[o]);
        }
        else std::fill(q.begin(), q.end(), int8_t{0});
        for (int64_t k = 0; k < 4 * groups; ++k) dst[(k / 4) * 4 * kPanel + 4 * j + k % 4] = q[k];  // group, output, k%4
      }
    }
  } else {
    uint16_t* data = static_cast<uint16_t*>(p.data.get());
    const int64_t pairs = (in + 1) / 2;
#pragma omp parallel for schedule(static)
    for (int64_t panel = 0; panel < panels; ++panel) {
      uint16_t* dst = data + panel * pairs * 2 * kPanel;
      for (int64_t k0 = 0; k0 < 2 * pairs; k0 += kBlock) {
        const int64_t k1 = std::min(2 * pairs, k0 + kBlock);
        for (int j = 0; j < kPanel; ++j) {
          const float* src = weight_row(panel * kPanel + j);
          for (int64_t k = k0; k < k1; ++k)  // pair k/2, output j, half k%2
            dst[(k / 2) * 2 * kPanel + 2 * j + k % 2] = src && k < in ? to_bf16(src[k]) : 0;
        }
      }
    }
  }
  return p;
}

PackedLinear pack_linear(std::span<const LinearWeights> parts, WeightType type) {
  std::vector<const float*> weights, biases;
  std::vector<int64_t> outs;
  const int64_t in = parts.empty() ? 0 : parts.front().in;
  for (const LinearWeights& part : parts) {
    if (part.layout != WeightLayout::Rows || part.type != WeightType::F32 || part.in != in)
      throw Error("pack_linear: expects float32 layers in the checkpoint layout with the same input size");
    weights.push_back(static_cast<const float*>(part.weight));
    biases.push_back(part.bias);
    outs.push_back(part.out);
  }
  return pack_linear(static_cast<int>(parts.size()), weights.data(), biases.data(), outs.data(), in, type);
}

size_t PackedLinear::bytes() const {
  const int64_t panels = (out + kPanel - 1) / kPanel;
  return static_cast<size_t>(panels * panel_elements(in, type)) * element_bytes(type) +
         static_cast<size_t>(per_output_arrays(type) * panels * kPanel + per_input_floats(in, type)) * sizeof(float);
}

LinearWeights PackedLinear::view() const {
  const int64_t panels = (out + kPanel - 1) / kPanel;
  const char* base = static_cast<const char*>(data.get());
  const size_t panel_bytes = static_cast<size_t>(panels * panel_elements(in, type)) * element_bytes(type);
  LinearWeights w{in, out, WeightLayout::Panels, type, base, reinterpret_cast<const float*>(base + panel_bytes)};
  if (type == WeightType::I8) {
    w.scale = w.bias + panels * kPanel;
    w.weight_sum = reinterpret_cast<const int32_t*>(w.scale + panels * kPanel);
    w.input_multiplier = reinterpret_cast<const float*>(w.weight_sum + panels * kPanel);
  }
  return w;
}

#if defined(__x86_64__)
CLAP_AVX512 void gelu_avx512(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, gelu512(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, mask, gelu512(_mm512_maskz_loadu_ps(mask, x + i)));
  }
}

#endif  // __x86_64__
bool gelu_fast(float* x, int64_t n) {
#if defined(__x86_64__)
  if (!cpu_has_avx512()) return false;
  gelu_avx512(x, n);
  return true;
#else
  (void)x, (void)n;
  return false;  // the portable gelu_erf (tensor/ops.cpp)
#endif
}

void PackedLinear::Free::operator()(void* p) const { std::free(p); }

void limit_kernels(KernelIsa isa) { g_kernel_limit.store(static_cast<int>(isa)); }

const char* packed_gemm_kernel(WeightType type) {
  const KernelIsa isa = kernel_isa();
  if (type == WeightType::BF16) {
    if (cpu_has_avx512_bf16()) return "avx512-bf16";
    switch (isa) {
      case KernelIsa::Avx512:
      case KernelIsa::Avx512Bw:
      case KernelIsa::Avx512F: return "avx512-bf16-as-f32";
      case KernelIsa::Avx2: return "avx2-bf16";
      case KernelIsa::Neon: return "neon-bf16-as-f32";
      default: return "generic-bf16-as-f32";
    }
  }
  if (type == WeightType::I8) {
    if (cpu_has_avx512_vnni()) return "avx512-vnni-int8";
    if (cpu_has_avx512bw()) return "avx512bw-int8";
#if defined(__aarch64__)
    if (isa == KernelIsa::Neon) return arm_features().dotprod ? "neon-dotprod-int8" : "neon-int8";
#endif
    return isa <= KernelIsa::Avx2 ? "avx2-int8" : "generic-int8";
  }
  switch (isa) {
    case KernelIsa::Avx512:
    case KernelIsa::Avx512Bw:
    case KernelIsa::Avx512F: return "avx512";
    case KernelIsa::Avx2: return "avx2";
    case KernelIsa::Neon: return "neon";
    default: return "generic";
  }
}

void linear(const float* x, int64_t rows, int64_t ldx, const LinearWeights& w, float* y, int64_t ldy,
            Epilogue epilogue, const int64_t* row_map, LinearScratch* scratch) {
  if (rows <= 0 || w.out == 0) return;
  if (w.layout == WeightLayout::Rows && w.type == WeightType::F32)
    return linear_rows(x, rows, ldx, w, y, ldy, epilogue, row_map);
  if (w.layout == WeightLayout::Panels && w.type == WeightType::F32)
    return linear_panels_f32(x, rows, ldx, w, y, ldy, epilogue, row_map);
  if (w.layout == WeightLayout::Panels && w.type == WeightType::BF16) {
    LinearScratch local;
    return linear_panels_bf16(x, rows, ldx, w, y, ldy, epilogue, row_map, scratch ? *scratch : local);
  }
  if (w.layout == WeightLayout::Panels && w.type == WeightType::I8) {
    LinearScratch local;
    return linear_panels_i8(x, rows, ldx, w, y, ldy, epilogue, row_map, scratch ? *scratch : local);
  }
  throw Error(std::string("linear: no kernel for ") + weight_type_name(w.type) + " weights in this layout");
}

}  // namespace clap
