#include "tensor/linear.h"

#include <immintrin.h>
#include <sys/mman.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/vector_math.h"
#include "tensor/ops.h"

namespace clap {
namespace {

constexpr int kPanel = 32;       // outputs per panel: two 16-float vectors
constexpr int kStripRows = 12;   // rows per register block: 24 accumulators + 2 weight vectors
constexpr int kTileRows = 288;   // rows per tile: a tile's inputs stay in L2 while panels stream

// 64-byte aligned; blocks of 2 MB and more are aligned to 2 MB and marked for transparent
// huge pages.
float* allocate_floats(size_t n) {
  const size_t bytes = n * sizeof(float);
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t align = bytes >= kHuge ? kHuge : 64;
  void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
  if (!p) throw Error("out of memory packing weights (" + std::to_string(bytes >> 20) + " MB)");
  if (align == kHuge) madvise(p, (bytes + align - 1) / align * align, MADV_HUGEPAGE);  // advisory
  return static_cast<float*>(p);
}

std::atomic<int> g_kernel_limit{static_cast<int>(KernelIsa::Avx512)};

KernelIsa kernel_isa() {
  static const KernelIsa best = __builtin_cpu_supports("avx512f") ? KernelIsa::Avx512
                                : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? KernelIsa::Avx2
                                                                                                    : KernelIsa::Generic;
  return static_cast<KernelIsa>(std::max(static_cast<int>(best), g_kernel_limit.load(std::memory_order_relaxed)));
}

bool cpu_has_avx512() { return kernel_isa() == KernelIsa::Avx512; }

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
  if (cpu_has_avx512())
    rows_avx512(x, rows, ldx, w.in, weight, w.bias, w.out, y, ldy, add_residual, row_map);
  else
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
// register block.
void linear_panels(const float* x, int64_t rows, int64_t ldx, const LinearWeights& w, float* y, int64_t ldy,
                   Epilogue epilogue, const int64_t* row_map) {
  const int64_t panels = (w.out + kPanel - 1) / kPanel;
  const float* weights = static_cast<const float*>(w.weight);
  const KernelIsa isa = kernel_isa();
  const bool avx512 = isa == KernelIsa::Avx512;
  const bool add_residual = epilogue == Epilogue::AddResidual;
  const int threads = omp_get_max_threads();
  // Tiles: row blocks of whole strips (balanced across threads) x groups of panels. Small
  // row counts split the panels instead, so both cores work on stage-4-sized inputs.
  const int64_t strips = (rows + kStripRows - 1) / kStripRows;
  int64_t row_tiles = std::max<int64_t>(1, (rows + kTileRows / 2) / kTileRows);
  if (row_tiles >= threads) row_tiles = (row_tiles + threads - 1) / threads * threads;
  row_tiles = std::min(row_tiles, strips);
  const int64_t panel_groups = row_tiles >= threads ? 1 : std::min<int64_t>(panels, threads * 2);
  const int64_t tiles = row_tiles * panel_groups;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < tiles; ++t) {
    float discard[kPanel] = {};  // where rows mapped to -1 go
    const int64_t rt = t / panel_groups, g = t % panel_groups;
    const int64_t s0 = strips * rt / row_tiles, s1 = strips * (rt + 1) / row_tiles;
    const int64_t p0 = panels * g / panel_groups, p1 = panels * (g + 1) / panel_groups;
    const int64_t r0 = s0 * kStripRows, r1 = std::min(rows, s1 * kStripRows);
    for (int64_t p = p0; p < p1; ++p) {
      const float* panel = weights + p * w.in * kPanel;
      const float* bias = w.bias + p * kPanel;
      const int valid = static_cast<int>(std::min<int64_t>(kPanel, w.out - p * kPanel));
      for (int64_t r = r0; r < r1; r += kStripRows) {
        const int n = static_cast<int>(std::min<int64_t>(kStripRows, r1 - r));
        float* out[kStripRows];
        for (int i = 0; i < n; ++i) {
          const int64_t row = row_map ? row_map[r + i] : r + i;
          out[i] = row >= 0 ? y + row * ldy + p * kPanel : discard;
        }
        if (avx512)
          strip_avx512(n, x + r * ldx, ldx, panel, bias, w.in, out, valid, epilogue);
        else if (isa == KernelIsa::Avx2)
          strip_avx2(n, x + r * ldx, ldx, panel, bias, w.in, out, valid, add_residual);
        else
          strip_generic(n, x + r * ldx, ldx, panel, bias, w.in, out, valid, add_residual);
      }
    }
    if (epilogue == Epilogue::Gelu && !avx512) {  // the AVX-512 kernel applies it in registers
      const int64_t c0 = p0 * kPanel, c1 = std::min(w.out, p1 * kPanel);
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t row = row_map ? row_map[r] : r;
        if (row >= 0) gelu_erf_inplace(y + row * ldy + c0, c1 - c0);
      }
    }
  }
}

}  // namespace

PackedLinear pack_linear(int parts, const float* const* weights, const float* const* biases, const int64_t* outs,
                         int64_t in) {
  PackedLinear p;
  p.in = in;
  for (int i = 0; i < parts; ++i) p.out += outs[i];
  const int64_t panels = (p.out + kPanel - 1) / kPanel;
  const size_t n = static_cast<size_t>(panels) * in * kPanel;
  p.data.reset(allocate_floats(n + static_cast<size_t>(panels) * kPanel));
  float* bias = p.data.get() + n;
  std::fill(bias, bias + panels * kPanel, 0.0f);
  // Row o of the stacked matrix comes from part `which`, row `o - first`.
  std::vector<std::pair<int, int64_t>> source(static_cast<size_t>(p.out));
  int64_t o = 0;
  for (int i = 0; i < parts; ++i)
    for (int64_t r = 0; r < outs[i]; ++r, ++o) {
      source[o] = {i, r};
      if (biases[i]) bias[o] = biases[i][r];
    }
  // Transposed in 64-k blocks: the destination block (64 x 32 floats) stays in L1 while 32
  // source rows are read sequentially.
  float* data = p.data.get();
  constexpr int64_t kBlock = 64;
#pragma omp parallel for schedule(static)
  for (int64_t panel = 0; panel < panels; ++panel) {
    float* dst = data + panel * in * kPanel;
    for (int64_t k0 = 0; k0 < in; k0 += kBlock) {
      const int64_t k1 = std::min(in, k0 + kBlock);
      for (int j = 0; j < kPanel; ++j) {
        const int64_t row = panel * kPanel + j;
        if (row >= p.out) {
          for (int64_t k = k0; k < k1; ++k) dst[k * kPanel + j] = 0.0f;
          continue;
        }
        const float* src = weights[source[row].first] + source[row].second * in;
        for (int64_t k = k0; k < k1; ++k) dst[k * kPanel + j] = src[k];
      }
    }
  }
  return p;
}

PackedLinear pack_linear(std::span<const LinearWeights> parts) {
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
  return pack_linear(static_cast<int>(parts.size()), weights.data(), biases.data(), outs.data(), in);
}

LinearWeights PackedLinear::view() const {
  const int64_t panels = (out + kPanel - 1) / kPanel;
  return {in, out, WeightLayout::Panels, WeightType::F32, data.get(), data.get() + panels * in * kPanel};
}

CLAP_AVX512 void gelu_avx512(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, gelu512(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, mask, gelu512(_mm512_maskz_loadu_ps(mask, x + i)));
  }
}

bool gelu_fast(float* x, int64_t n) {
  if (!cpu_has_avx512()) return false;
  gelu_avx512(x, n);
  return true;
}

void PackedLinear::Free::operator()(float* p) const { std::free(p); }

void limit_kernels(KernelIsa isa) { g_kernel_limit.store(static_cast<int>(isa)); }

const char* packed_gemm_kernel() {
  switch (kernel_isa()) {
    case KernelIsa::Avx512: return "avx512";
    case KernelIsa::Avx2: return "avx2";
    default: return "generic";
  }
}

void linear(const float* x, int64_t rows, int64_t ldx, const LinearWeights& w, float* y, int64_t ldy,
            Epilogue epilogue, const int64_t* row_map) {
  if (w.type != WeightType::F32) throw Error("linear: unsupported weight type");
  if (rows <= 0 || w.out == 0) return;
  switch (w.layout) {
    case WeightLayout::Rows: return linear_rows(x, rows, ldx, w, y, ldy, epilogue, row_map);
    case WeightLayout::Panels: return linear_panels(x, rows, ldx, w, y, ldy, epilogue, row_map);
  }
  throw Error("linear: unsupported weight layout");
}

}  // namespace clap
