#include "tensor/ops.h"

#include "core/isa.h"

#include <omp.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>

namespace clap {

// Hot loops are compiled for AVX-512, AVX2 and baseline x86-64; the kernel set (core/isa.h:
// the CPU's best, capped by CLAPSEARCH_ISA) picks at run time (the binary stays portable; no
// -march=native). Not target_clones: their load-time resolver looks at the CPU alone and cannot
// be capped. The bodies are always_inline and compiled into one entry per kernel set below
// (CLAP_ISA_ENTRIES), with the targets the clones had ("avx512f", "avx2", default).
// On aarch64 the baseline entry is the only one (Advanced SIMD is in its baseline).
#define CLAP_VECTOR_CLONES __attribute__((always_inline)) inline

namespace {

// 16-float vector type: one zmm register with AVX-512, split into ymm/xmm pairs in the
// AVX2 / baseline clones by the compiler. The helpers are always_inline so they are compiled
// for the ISA of the clone that calls them (out of line they would get the baseline ISA).
typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
// v16 values never cross a call boundary (the helpers are always inlined), so GCC's note
// that passing 64-byte vectors without AVX-512 changes the ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

__attribute__((always_inline)) inline int32_t to_int(float x) { return static_cast<int32_t>(x); }
__attribute__((always_inline)) inline v16i to_int(v16 x) { return __builtin_convertvector(x, v16i); }
__attribute__((always_inline)) inline float from_bits(int32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
__attribute__((always_inline)) inline v16 from_bits(v16i b) { return (v16)b; }  // same-size cast: bits kept
__attribute__((always_inline)) inline v8i to_int(v8 x) { return __builtin_convertvector(x, v8i); }
__attribute__((always_inline)) inline v8 from_bits(v8i b) { return (v8)b; }
__attribute__((always_inline)) inline v4i to_int(v4 x) { return __builtin_convertvector(x, v4i); }
__attribute__((always_inline)) inline v4 from_bits(v4i b) { return (v4)b; }

// exp(x), Cephes-style, for a float or a vector of 4, 8 or 16 lanes (the same operations either way):
// x = n·ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r, 2^n through the exponent bits.
// Within 2 ulp of std::exp on the softmax range; branch-free so the loops around it
// vectorise. Inputs below -87.3 give 0 (the reference's result there is a denormal < 1e-38:
// nothing a probability can tell apart).
template <typename F>
__attribute__((always_inline)) inline F fast_exp(F x) {
  const auto underflow = x < -87.3365478515625f;
  x = x > 88.3762626647949f ? 88.3762626647949f : x;
  x = x < -87.3365478515625f ? -87.3365478515625f : x;
  // Round to nearest by the 1.5·2^23 trick (vectorises, unlike nearbyint).
  const F n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  F r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  F p = F{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const F scale = from_bits((to_int(n) + 127) << 23);
  const F result = p * scale;
  return underflow ? F{} : result;
}

// erf(x) for float as a rational function on [-4, 4] (erf is ±1 in float outside), the
// minimax approximation used by Eigen/TensorFlow; a few ulp from std::erf, vectorisable.
__attribute__((always_inline)) inline float fast_erf(float x) {
  x = x > 4.0f ? 4.0f : x;
  x = x < -4.0f ? -4.0f : x;
  const float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * x;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return p / q;
}

CLAP_VECTOR_CLONES void gelu_erf(float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + fast_erf(x[i] * 0.70710678118654752f));
}

// Reductions use 16 explicit partial sums: a fixed order (deterministic) that vectorises.
CLAP_VECTOR_CLONES void softmax_row(float* xr, int64_t cols) {
  float part[16];
  for (int l = 0; l < 16; ++l) part[l] = -3.0e38f;
  int64_t i = 0;
  for (; i + 16 <= cols; i += 16)
    for (int l = 0; l < 16; ++l) part[l] = xr[i + l] > part[l] ? xr[i + l] : part[l];
  float mx = -3.0e38f;
  for (; i < cols; ++i) mx = xr[i] > mx ? xr[i] : mx;
  for (int l = 0; l < 16; ++l) mx = part[l] > mx ? part[l] : mx;
  for (int64_t j = 0; j < cols; ++j) xr[j] = fast_exp(xr[j] - mx);
  for (int l = 0; l < 16; ++l) part[l] = 0.0f;
  for (i = 0; i + 16 <= cols; i += 16)
    for (int l = 0; l < 16; ++l) part[l] += xr[i + l];
  float sum = 0;
  for (; i < cols; ++i) sum += xr[i];
  for (int l = 0; l < 16; ++l) sum += part[l];
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < cols; ++j) xr[j] *= inv;
}

CLAP_VECTOR_CLONES float sum16(const float* x, int64_t n, float shift) {
  float part[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) part[l] += x[i + l] - shift;
  float s = 0;
  for (; i < n; ++i) s += x[i] - shift;
  for (int l = 0; l < 16; ++l) s += part[l];
  return s;
}

CLAP_VECTOR_CLONES float sumsq16(const float* x, int64_t n, float mean) {
  float part[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) part[l] += (x[i + l] - mean) * (x[i + l] - mean);
  float s = 0;
  for (; i < n; ++i) s += (x[i] - mean) * (x[i] - mean);
  for (int l = 0; l < 16; ++l) s += part[l];
  return s;
}

CLAP_VECTOR_CLONES void layer_norm_row(const float* xr, int64_t dim, const float* gamma, const float* beta, float eps,
                                       float* yr) {
  const float mean = sum16(xr, dim, 0.0f) / static_cast<float>(dim);
  const float inv = 1.0f / std::sqrt(sumsq16(xr, dim, mean) / static_cast<float>(dim) + eps);
  for (int64_t i = 0; i < dim; ++i) yr[i] = (xr[i] - mean) * inv * gamma[i] + beta[i];
}

}  // namespace

namespace {

// The register-blocked attention kernels are written once over a vector type V of L floats:
// v16 (AVX-512: one zmm), v8 (AVX2: one ymm), v4 (baseline x86-64 and ARM64: one xmm / q
// register). Every output lane is the same chain of operations whatever V and the rows per
// block are, so paths with the same fused multiply-adds give the same bits.
template <typename V>
constexpr int kLanes = static_cast<int>(sizeof(V) / sizeof(float));

// Loads/stores via memcpy (no alignment needed).
template <typename V>
__attribute__((always_inline)) inline V load_v(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V>
__attribute__((always_inline)) inline void store_v(float* p, V v) { std::memcpy(p, &v, sizeof v); }

// v with lanes exchanged in pairs `distance` apart (a butterfly step).
__attribute__((always_inline)) inline v16 swap_lanes(v16 v, int distance) {
  switch (distance) {
    case 8: return __builtin_shuffle(v, v16i{8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7});
    case 4: return __builtin_shuffle(v, v16i{4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11});
    case 2: return __builtin_shuffle(v, v16i{2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13});
    default: return __builtin_shuffle(v, v16i{1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14});
  }
}
__attribute__((always_inline)) inline v8 swap_lanes(v8 v, int distance) {
  switch (distance) {
    case 4: return __builtin_shuffle(v, v8i{4, 5, 6, 7, 0, 1, 2, 3});
    case 2: return __builtin_shuffle(v, v8i{2, 3, 0, 1, 6, 7, 4, 5});
    default: return __builtin_shuffle(v, v8i{1, 0, 3, 2, 5, 4, 7, 6});
  }
}
__attribute__((always_inline)) inline v4 swap_lanes(v4 v, int distance) {
  return distance == 2 ? __builtin_shuffle(v, v4i{2, 3, 0, 1}) : __builtin_shuffle(v, v4i{1, 0, 3, 2});
}

// The sum (or max) of a row's 16-lane groups, every lane ending with the total: the groups
// added lane by lane, then lanes 8 apart, 4, 2 and 1 (as one v16 would). parts: the row's
// n / L vectors; with L < 16, the vectors of each 16-lane group are folded the same way first.
template <typename V, int Count, bool Max>
__attribute__((always_inline)) inline V fold_row(const V (&parts)[Count]) {
  constexpr int L = kLanes<V>, per_group = 16 / L;
  const auto combine = [](V a, V b) {
    if constexpr (Max) return b > a ? b : a;
    else return a + b;
  };
  V s[per_group];
  for (int p = 0; p < per_group; ++p) {
    s[p] = parts[p];
    if constexpr (!Max) s[p] = V{} + parts[p];  // (0 + x: as the v16 sum starting from zero)
    for (int c = 1; c < Count / per_group; ++c) s[p] = combine(s[p], parts[c * per_group + p]);
  }
  for (int m = per_group; m > 1; m /= 2)  // lanes 8 (then 4) apart are vectors m/2 apart
    for (int p = 0; p < m / 2; ++p) s[p] = combine(s[p], s[p + m / 2]);
  V v = s[0];
  for (int d = L / 2; d >= 1; d /= 2) v = combine(v, swap_lanes(v, d));
  return v;
}

// probs[i][:] = softmax(q_i · kᵀ · scale + bias_i + mask_i) for rows i0..i0+R-1, n = NC·L:
// scores, scaling, bias, mask and the softmax all in registers (one pass, no score buffer).
template <typename V, int R, int NC>
__attribute__((always_inline)) inline void qk_softmax_rows(const float* q, int64_t ld, const float* kt, int64_t hd,
                                                           float scale, const float* bias, const float* mask,
                                                           float* probs, int64_t i0) {
  constexpr int L = kLanes<V>, n = NC * L;
  V acc[R][NC] = {};
  for (int64_t d = 0; d < hd; ++d) {
    V kv[NC];
    for (int c = 0; c < NC; ++c) kv[c] = load_v<V>(kt + d * n + c * L);
    for (int r = 0; r < R; ++r) {
      const float qd = q[(i0 + r) * ld + d];
      for (int c = 0; c < NC; ++c) acc[r][c] += qd * kv[c];
    }
  }
  // Phase by phase over the R rows (not row by row): each phase is a chain of dependent
  // operations per row, and independent chains in a row keep the pipelines busy.
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NC; ++c) {
      const int64_t at = (i0 + r) * n + c * L;
      acc[r][c] = acc[r][c] * scale;
      if (bias) acc[r][c] += load_v<V>(bias + at);
      if (mask) acc[r][c] += load_v<V>(mask + at);
    }
  V mx[R], inv[R];
  for (int r = 0; r < R; ++r) mx[r] = fold_row<V, NC, true>(acc[r]);
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NC; ++c) acc[r][c] = fast_exp(acc[r][c] - mx[r]);
  for (int r = 0; r < R; ++r) inv[r] = 1.0f / fold_row<V, NC, false>(acc[r]);
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NC; ++c) store_v<V>(probs + (i0 + r) * n + c * L, acc[r][c] * inv[r]);
}

// dst (16 x 16, row stride ld_dst) = srcᵀ (16 x 16, row stride ld_src), in registers: L x L
// blocks, each in rounds of swapping off-diagonal blocks of L/2, ..., 2 and 1.
// lo[c] = c & b ? L + c - b : c;  hi[c] = c & b ? L + c : c + b
#define CLAP_SWAP_ROUND(V, b, lo, hi)                                      \
  for (int r = 0; r < kLanes<V>; ++r)                                      \
    if (!(r & (b))) {                                                      \
      const V a = m[r], c = m[r + (b)];                                    \
      m[r] = __builtin_shuffle(a, c, lo);                                  \
      m[r + (b)] = __builtin_shuffle(a, c, hi);                            \
    }
__attribute__((always_inline)) inline void transpose_rounds(v16 (&m)[16]) {
  CLAP_SWAP_ROUND(v16, 8, (v16i{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23}),
                  (v16i{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31}))
  CLAP_SWAP_ROUND(v16, 4, (v16i{0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27}),
                  (v16i{4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31}))
  CLAP_SWAP_ROUND(v16, 2, (v16i{0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29}),
                  (v16i{2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31}))
  CLAP_SWAP_ROUND(v16, 1, (v16i{0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30}),
                  (v16i{1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31}))
}
__attribute__((always_inline)) inline void transpose_rounds(v8 (&m)[8]) {
  CLAP_SWAP_ROUND(v8, 4, (v8i{0, 1, 2, 3, 8, 9, 10, 11}), (v8i{4, 5, 6, 7, 12, 13, 14, 15}))
  CLAP_SWAP_ROUND(v8, 2, (v8i{0, 1, 8, 9, 4, 5, 12, 13}), (v8i{2, 3, 10, 11, 6, 7, 14, 15}))
  CLAP_SWAP_ROUND(v8, 1, (v8i{0, 8, 2, 10, 4, 12, 6, 14}), (v8i{1, 9, 3, 11, 5, 13, 7, 15}))
}
__attribute__((always_inline)) inline void transpose_rounds(v4 (&m)[4]) {
  CLAP_SWAP_ROUND(v4, 2, (v4i{0, 1, 4, 5}), (v4i{2, 3, 6, 7}))
  CLAP_SWAP_ROUND(v4, 1, (v4i{0, 4, 2, 6}), (v4i{1, 5, 3, 7}))
}
#undef CLAP_SWAP_ROUND
template <typename V>
__attribute__((always_inline)) inline void transpose16(const float* src, int64_t ld_src, float* dst, int64_t ld_dst) {
  constexpr int L = kLanes<V>;
  for (int r0 = 0; r0 < 16; r0 += L)
    for (int c0 = 0; c0 < 16; c0 += L) {
      V m[L];
      for (int r = 0; r < L; ++r) m[r] = load_v<V>(src + (r0 + r) * ld_src + c0);
      transpose_rounds(m);
      for (int r = 0; r < L; ++r) store_v<V>(dst + (c0 + r) * ld_dst + r0, m[r]);
    }
}

// out[i][:HC·L] = Σ_j p[i][j] v[j][:HC·L] for rows i0..i0+R-1: R x HC accumulators in
// registers (more rows per block: fewer loads per multiply-add).
template <typename V, int R, int HC>
__attribute__((always_inline)) inline void pv_rows(const float* p, int64_t n, const float* v, int64_t ld, float* out, int64_t ld_out, int64_t i0) {
  constexpr int L = kLanes<V>;
  V acc[R][HC] = {};
  for (int64_t j = 0; j < n; ++j) {
    V vv[HC];
    for (int c = 0; c < HC; ++c) vv[c] = load_v<V>(v + j * ld + c * L);
    for (int r = 0; r < R; ++r) {
      const float pj = p[(i0 + r) * n + j];
      for (int c = 0; c < HC; ++c) acc[r][c] += pj * vv[c];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < HC; ++c) store_v<V>(out + (i0 + r) * ld_out + c * L, acc[r][c]);
}

// The same for 16·HV + 8 columns with v16 (HTSAT-tiny's head size 24): the last 8 columns in
// half-width vectors, so no zero-padded columns are multiplied.
template <int R, int HV>
__attribute__((always_inline)) inline void pv_rows_tail8(const float* p, int64_t n, const float* v, int64_t ld, float* out,
                                                         int64_t ld_out, int64_t i0) {
  v16 acc[R][HV > 0 ? HV : 1] = {};
  v8 tail[R] = {};
  for (int64_t j = 0; j < n; ++j) {
    v16 vv[HV > 0 ? HV : 1];
    for (int c = 0; c < HV; ++c) vv[c] = load_v<v16>(v + j * ld + c * 16);
    const v8 vt = load_v<v8>(v + j * ld + HV * 16);
    for (int r = 0; r < R; ++r) {
      const float pj = p[(i0 + r) * n + j];
      for (int c = 0; c < HV; ++c) acc[r][c] += pj * vv[c];
      tail[r] += pj * vt;
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < HV; ++c) store_v<v16>(out + (i0 + r) * ld_out + c * 16, acc[r][c]);
    store_v<v8>(out + (i0 + r) * ld_out + HV * 16, tail[r]);
  }
}

// Rows per register block: as many as the registers allow next to the block's loads, a power
// of two (they divide the window sizes), at most `most`.
constexpr int block_rows(int registers, int per_row, int shared, int most) {
  int rows = 1;
  while (rows * 2 <= most && (rows * 2) * per_row + shared <= registers) rows *= 2;
  return rows;
}

// q·kᵀ and softmax for n = 16·G tokens, R rows per block.
template <typename V, int Registers, int G>
__attribute__((always_inline)) inline void qk_softmax_all(const float* q, int64_t ld, const float* kt, int64_t hd,
                                                          float scale, const float* bias, const float* mask,
                                                          float* probs) {
  constexpr int NC = G * 16 / kLanes<V>;
  constexpr int R = block_rows(Registers, NC, NC + 1, 4);
  for (int64_t i = 0; i < G * 16; i += R) qk_softmax_rows<V, R, NC>(q, ld, kt, hd, scale, bias, mask, probs, i);
}

// p·v over rows [0, rows) (a multiple of 8) for `columns` columns: a multiple of L, at most 64.
template <typename V, int Registers, int HC = 1>
__attribute__((always_inline)) inline void pv_all(int64_t columns, const float* p, int64_t n, int64_t rows,
                                                  const float* v, int64_t ld, float* out, int64_t ld_out) {
  if constexpr (HC * kLanes<V> <= 64) {
    if (columns != HC * kLanes<V>) return pv_all<V, Registers, HC + 1>(columns, p, n, rows, v, ld, out, ld_out);
    constexpr int R = block_rows(Registers, HC, HC + 1, 8);
    for (int64_t i = 0; i < rows; i += R) pv_rows<V, R, HC>(p, n, v, ld, out, ld_out, i);
  }
}

}  // namespace

// Single-head attention with register blocks for vectors V and `Registers` vector registers:
// v16 / 32 (AVX-512), v8 / 16 (AVX2), v4 / 16 (baseline x86-64), v4 / 32 (ARM64). Blocks sized
// for AVX-512's registers spilled most accumulators to the stack at every step on AVX2
// (attention took 46 % of an AVX2 run).
template <typename V, int Registers>
__attribute__((always_inline)) inline void attention_head_body(const float* q, const float* k, const float* v, int64_t ld, int64_t n, int64_t hd,
                                       float scale, const float* bias, const float* mask, float* out, int64_t ld_out,
                                       float* scratch) {
  constexpr int L = kLanes<V>;
  // scratch (attention_scratch_floats): K transposed (hd x n), scores (n x n), and for head
  // sizes that are not a multiple of L a zero-padded V and an 8-row output tile. Every sum
  // runs in a fixed order.
  float* kt = scratch;
  float* scores = scratch + hd * n;
  // Register-blocked paths: q·kᵀ + softmax for window sizes of 16..64 tokens (any head
  // size), p·v below. Swin windows have 64 tokens; CLAP head sizes are 32 (HTSAT-base) or 24
  // (HTSAT-tiny).
  const bool qk_blocked = n == 16 || n == 32 || n == 48 || n == 64;
  if (qk_blocked) {
    // K transposed in 16 x 16 blocks in registers (a scalar transpose cost half as much as q·kᵀ).
    int64_t d0 = 0;
    for (; d0 + 16 <= hd; d0 += 16)
      for (int64_t j0 = 0; j0 < n; j0 += 16) transpose16<V>(k + j0 * ld + d0, ld, kt + d0 * n + j0, n);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t d = d0; d < hd; ++d) kt[d * n + j] = k[j * ld + d];
    switch (n / 16) {
      case 1: qk_softmax_all<V, Registers, 1>(q, ld, kt, hd, scale, bias, mask, scores); break;
      case 2: qk_softmax_all<V, Registers, 2>(q, ld, kt, hd, scale, bias, mask, scores); break;
      case 3: qk_softmax_all<V, Registers, 3>(q, ld, kt, hd, scale, bias, mask, scores); break;
      default: qk_softmax_all<V, Registers, 4>(q, ld, kt, hd, scale, bias, mask, scores); break;
    }
  } else {
    for (int64_t j = 0; j < n; ++j)
      for (int64_t d = 0; d < hd; ++d) kt[d * n + j] = k[j * ld + d];
    for (int64_t i = 0; i < n; ++i) {
      float* srow = scores + i * n;
      for (int64_t j = 0; j < n; ++j) srow[j] = 0.0f;
      for (int64_t d = 0; d < hd; ++d) {
        const float qd = q[i * ld + d];
        const float* kd = kt + d * n;
        for (int64_t j = 0; j < n; ++j) srow[j] += qd * kd[j];
      }
      const float* brow = bias ? bias + i * n : nullptr;
      const float* mrow = mask ? mask + i * n : nullptr;
      for (int64_t j = 0; j < n; ++j) {
        float s = srow[j] * scale;
        if (brow) s += brow[j];
        if (mrow) s += mrow[j];
        srow[j] = s;
      }
      softmax_row(srow, n);
    }
  }
  if (qk_blocked && hd % L == 0 && hd <= 64) {
    pv_all<V, Registers>(hd, scores, n, n, v, ld, out, ld_out);
  } else if (L == 16 && qk_blocked && (hd == 8 || hd == 24 || hd == 40)) {
    for (int64_t i = 0; i < n; i += 8) {
      if (hd == 8) pv_rows_tail8<8, 0>(scores, n, v, ld, out, ld_out, i);
      else if (hd == 24) pv_rows_tail8<8, 1>(scores, n, v, ld, out, ld_out, i);
      else pv_rows_tail8<8, 2>(scores, n, v, ld, out, ld_out, i);
    }
  } else if (qk_blocked && hd < 64) {
    // Other head sizes (12, 20, ...): V zero-padded to the next multiple of L columns, the
    // blocked kernel into a padded 8-row tile, the real columns copied out. The padding adds
    // exact zeros only, so each output is the same sum as the unblocked loop's order.
    const int64_t hp = (hd + L - 1) / L * L;
    float* vpad = scores + n * n;
    float* tile = vpad + n * hp;
    for (int64_t j = 0; j < n; ++j) {
      std::memcpy(vpad + j * hp, v + j * ld, sizeof(float) * hd);
      std::fill(vpad + j * hp + hd, vpad + (j + 1) * hp, 0.0f);
    }
    for (int64_t i = 0; i < n; i += 8) {
      pv_all<V, Registers>(hp, scores + i * n, n, 8, vpad, hp, tile, hp);
      for (int r = 0; r < 8; ++r) std::memcpy(out + (i + r) * ld_out, tile + r * hp, sizeof(float) * hd);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      float* oi = out + i * ld_out;
      for (int64_t d = 0; d < hd; ++d) oi[d] = 0.0f;
      for (int64_t j = 0; j < n; ++j) {
        const float pj = scores[i * n + j];
        const float* vj = v + j * ld;
        for (int64_t d = 0; d < hd; ++d) oi[d] += pj * vj[d];
      }
    }
  }
}

namespace {

// One entry per kernel set for each always_inline body: name_isa_avx512, name_isa_avx2,
// name_isa_baseline (the suffixes tests/isa/check_baseline.sh allows AVX in).
#if defined(__x86_64__)
#define CLAP_ISA_ENTRIES(name, ret, params, args)                                            \
  __attribute__((target("avx512f"))) ret name##_isa_avx512 params { return name args; } \
  __attribute__((target("avx2"))) ret name##_isa_avx2 params { return name args; }      \
  ret name##_isa_baseline params { return name args; }
#define CLAP_ISA_PICK(name) \
  (isa_level() == IsaLevel::Avx512 ? name##_isa_avx512 : isa_level() == IsaLevel::Avx2 ? name##_isa_avx2 : name##_isa_baseline)
#else
#define CLAP_ISA_ENTRIES(name, ret, params, args) \
  ret name##_isa_baseline params { return name args; }
#define CLAP_ISA_PICK(name) name##_isa_baseline
#endif

CLAP_ISA_ENTRIES(gelu_erf, void, (float* x, int64_t n), (x, n))
CLAP_ISA_ENTRIES(layer_norm_row, void,
                 (const float* xr, int64_t dim, const float* gamma, const float* beta, float eps, float* yr),
                 (xr, dim, gamma, beta, eps, yr))

#define CLAP_ATTENTION_PARAMS                                                                                   \
  (const float* q, const float* k, const float* v, int64_t ld, int64_t n, int64_t hd, float scale, const float* bias, \
   const float* mask, float* out, int64_t ld_out, float* scratch)
#define CLAP_ATTENTION_ARGS (q, k, v, ld, n, hd, scale, bias, mask, out, ld_out, scratch)
#if defined(__x86_64__)
// x86-64-v4 (AVX-512 with VL, and FMA) where the CPU has it: the half-width tail of head size
// 24 (pv_rows_tail8) is a multiply-add only where 256-bit FMAs exist; the psABI level
// dispatches by CPU features, not by CPU model (unlike arch=<cpu name>).
__attribute__((target("arch=x86-64-v4"))) void attention_head_isa_avx512_v4 CLAP_ATTENTION_PARAMS {
  attention_head_body<v16, 32> CLAP_ATTENTION_ARGS;
}
__attribute__((target("avx512f"))) void attention_head_isa_avx512 CLAP_ATTENTION_PARAMS {
  attention_head_body<v16, 32> CLAP_ATTENTION_ARGS;
}
// AVX2 with FMA (the avx2 kernel set has it): the same fused multiply-adds as the AVX-512
// entries, so both give the same bits.
__attribute__((target("avx2,fma"))) void attention_head_isa_avx2 CLAP_ATTENTION_PARAMS {
  attention_head_body<v8, 16> CLAP_ATTENTION_ARGS;
}
void attention_head_isa_baseline CLAP_ATTENTION_PARAMS { attention_head_body<v4, 16> CLAP_ATTENTION_ARGS; }
#else
void attention_head_isa_baseline CLAP_ATTENTION_PARAMS { attention_head_body<v4, 32> CLAP_ATTENTION_ARGS; }
#endif

}  // namespace

void attention_head(const float* q, const float* k, const float* v, int64_t ld, int64_t n, int64_t hd, float scale,
                    const float* bias, const float* mask, float* out, int64_t ld_out, float* scratch) {
#if defined(__x86_64__)
  static const bool v4 = __builtin_cpu_supports("x86-64-v4");
  if (isa_level() == IsaLevel::Avx512 && v4) return attention_head_isa_avx512_v4 CLAP_ATTENTION_ARGS;
#endif
  CLAP_ISA_PICK(attention_head) CLAP_ATTENTION_ARGS;
}

void flush_denormals_in_all_threads() {
  // MXCSR FTZ (bit 15) | DAZ (bit 6), per thread: the calling thread and its OpenMP pool.
  // Denormals (< 1.2e-38) otherwise cost ~100 cycles per operation, e.g. in masked
  // attention; they are far below anything an embedding can show.
#if defined(__x86_64__)
  _mm_setcsr(_mm_getcsr() | 0x8040);
#pragma omp parallel
  _mm_setcsr(_mm_getcsr() | 0x8040);
#elif defined(__aarch64__)
  // ARM: FPCR.FZ (bit 24) flushes denormal inputs and results of float32 arithmetic.
  __builtin_aarch64_set_fpcr(__builtin_aarch64_get_fpcr() | (1u << 24));
#pragma omp parallel
  __builtin_aarch64_set_fpcr(__builtin_aarch64_get_fpcr() | (1u << 24));
#endif
}

void gelu_erf_inplace(float* x, int64_t n) {
  if (!gelu_fast(x, n)) CLAP_ISA_PICK(gelu_erf)(x, n);
}

void layer_norm(const float* x, int64_t rows, int64_t dim, const float* gamma, const float* beta, float eps, float* y) {
  const auto row = CLAP_ISA_PICK(layer_norm_row);
#pragma omp parallel for schedule(static) if (rows * dim >= 32768)
  for (int64_t r = 0; r < rows; ++r) row(x + r * dim, dim, gamma, beta, eps, y + r * dim);
}

void layer_norm_gather(const float* x, const int64_t* source, int64_t rows, int64_t dim, const float* gamma,
                       const float* beta, float eps, float* y) {
  const auto row = CLAP_ISA_PICK(layer_norm_row);
#pragma omp parallel for schedule(static) if (rows * dim >= 32768)
  for (int64_t r = 0; r < rows; ++r) {
    if (source[r] >= 0)
      row(x + source[r] * dim, dim, gamma, beta, eps, y + r * dim);
    else
      std::fill(y + r * dim, y + (r + 1) * dim, 0.0f);
  }
}

void apply_activation(Activation act, float* x, int64_t n) {
  switch (act) {
    case Activation::Relu:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
      break;
    case Activation::Gelu: {
      const int64_t chunk = 4096;
#pragma omp parallel for schedule(static) if (n > chunk)
      for (int64_t i = 0; i < n; i += chunk) gelu_erf_inplace(x + i, std::min(chunk, n - i));
      break;
    }
    case Activation::GeluTanh:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
      }
      break;
    case Activation::Silu:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
      break;
    case Activation::Tanh:
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      break;
  }
}

int64_t attention_scratch_floats(int64_t n, int64_t hd) {
  const int64_t hp = (hd + 15) / 16 * 16;
  return hd * n + n * n + n * hp + 8 * hp;
}

void add_inplace(float* y, const float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= 32768)
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace clap
