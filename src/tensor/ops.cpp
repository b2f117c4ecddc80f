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

// exp(x), Cephes-style, for a float or 16 lanes (the same operations either way):
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

// Loads/stores via memcpy (no alignment needed).
__attribute__((always_inline)) inline v16 load16(const float* p) {
  v16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
__attribute__((always_inline)) inline void store16(float* p, v16 v) { std::memcpy(p, &v, sizeof v); }

// v with lanes exchanged in pairs `distance` apart (a butterfly step).
__attribute__((always_inline)) inline v16 swap_lanes(v16 v, int distance) {
  switch (distance) {
    case 8: return __builtin_shuffle(v, v16i{8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7});
    case 4: return __builtin_shuffle(v, v16i{4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11});
    case 2: return __builtin_shuffle(v, v16i{2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13});
    default: return __builtin_shuffle(v, v16i{1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14});
  }
}
__attribute__((always_inline)) inline v16 butterfly_max(v16 v) {
  for (int d = 8; d >= 1; d /= 2) {
    const v16 o = swap_lanes(v, d);
    v = o > v ? o : v;
  }
  return v;
}
__attribute__((always_inline)) inline v16 butterfly_sum(v16 v) {
  for (int d = 8; d >= 1; d /= 2) v += swap_lanes(v, d);
  return v;
}

// probs[i][:] = softmax(q_i · kᵀ · scale + bias_i + mask_i) for rows i0..i0+3, n = NV·16:
// scores, scaling, bias, mask and the softmax all in registers (one pass, no score buffer).
template <int NV>
__attribute__((always_inline)) inline void qk_softmax_rows4(const float* q, int64_t ld, const float* kt, int64_t hd,
                                                            float scale, const float* bias, const float* mask,
                                                            float* probs, int64_t i0) {
  constexpr int n = NV * 16;
  v16 acc[4][NV] = {};
  for (int64_t d = 0; d < hd; ++d) {
    v16 kv[NV];
    for (int c = 0; c < NV; ++c) kv[c] = load16(kt + d * n + c * 16);
    for (int r = 0; r < 4; ++r) {
      const float qd = q[(i0 + r) * ld + d];
      for (int c = 0; c < NV; ++c) acc[r][c] += qd * kv[c];
    }
  }
  // Phase by phase over the 4 rows (not row by row): each phase is a chain of dependent
  // operations per row, and four independent chains in a row keep the pipelines busy.
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < NV; ++c) {
      const int64_t at = (i0 + r) * n + c * 16;
      acc[r][c] = acc[r][c] * scale;
      if (bias) acc[r][c] += load16(bias + at);
      if (mask) acc[r][c] += load16(mask + at);
    }
  // Row max and sum by butterfly over the lanes (every lane ends with the result).
  v16 mx[4], sum[4];
  for (int r = 0; r < 4; ++r) {
    mx[r] = acc[r][0];
    for (int c = 1; c < NV; ++c) mx[r] = acc[r][c] > mx[r] ? acc[r][c] : mx[r];
  }
  for (int r = 0; r < 4; ++r) mx[r] = butterfly_max(mx[r]);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < NV; ++c) acc[r][c] = fast_exp(acc[r][c] - mx[r]);
  for (int r = 0; r < 4; ++r) {
    sum[r] = v16{};
    for (int c = 0; c < NV; ++c) sum[r] += acc[r][c];
  }
  for (int r = 0; r < 4; ++r) sum[r] = 1.0f / butterfly_sum(sum[r]);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < NV; ++c) store16(probs + (i0 + r) * n + c * 16, acc[r][c] * sum[r]);
}

// dst (16 x 16, row stride ld_dst) = srcᵀ (16 x 16, row stride ld_src), in registers:
// four rounds of swapping off-diagonal blocks of 8, 4, 2 and 1.
__attribute__((always_inline)) inline void transpose16(const float* src, int64_t ld_src, float* dst, int64_t ld_dst) {
  v16 m[16];
  for (int r = 0; r < 16; ++r) m[r] = load16(src + r * ld_src);
#define CLAP_SWAP_ROUND(b, lo, hi)                                          \
  for (int r = 0; r < 16; ++r)                                              \
    if (!(r & (b))) {                                                       \
      const v16 a = m[r], c = m[r + (b)];                                   \
      m[r] = __builtin_shuffle(a, c, lo);                                   \
      m[r + (b)] = __builtin_shuffle(a, c, hi);                             \
    }
  // lo[c] = c & b ? 16 + c - b : c;  hi[c] = c & b ? 16 + c : c + b
  CLAP_SWAP_ROUND(8, (v16i{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23}),
                  (v16i{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31}))
  CLAP_SWAP_ROUND(4, (v16i{0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27}),
                  (v16i{4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31}))
  CLAP_SWAP_ROUND(2, (v16i{0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29}),
                  (v16i{2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31}))
  CLAP_SWAP_ROUND(1, (v16i{0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30}),
                  (v16i{1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31}))
#undef CLAP_SWAP_ROUND
  for (int r = 0; r < 16; ++r) store16(dst + r * ld_dst, m[r]);
}

// out[i][:hd] = Σ_j p[i][j] v[j][:hd] for rows i0..i0+R-1, hd a multiple of 16 (<= 64):
// R x HV accumulators stay in registers (R = 8 for hd <= 32: fewer loads per FMA).
template <int R, int HV>
__attribute__((always_inline)) inline void pv_rows(const float* p, int64_t n, const float* v, int64_t ld, float* out, int64_t ld_out, int64_t i0) {
  v16 acc[R][HV] = {};
  for (int64_t j = 0; j < n; ++j) {
    v16 vv[HV];
    for (int c = 0; c < HV; ++c) vv[c] = load16(v + j * ld + c * 16);
    for (int r = 0; r < R; ++r) {
      const float pj = p[(i0 + r) * n + j];
      for (int c = 0; c < HV; ++c) acc[r][c] += pj * vv[c];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < HV; ++c) store16(out + (i0 + r) * ld_out + c * 16, acc[r][c]);
}

// The same for hd = 16·HV + 8 (HTSAT-tiny: 24): the last 8 columns in half-width vectors, so
// no zero-padded columns are multiplied. Each output is the same chain of multiply-adds over j.
template <int R, int HV>
__attribute__((always_inline)) inline void pv_rows_tail8(const float* p, int64_t n, const float* v, int64_t ld, float* out,
                                                         int64_t ld_out, int64_t i0) {
  v16 acc[R][HV > 0 ? HV : 1] = {};
  v8 tail[R] = {};
  for (int64_t j = 0; j < n; ++j) {
    v16 vv[HV > 0 ? HV : 1];
    for (int c = 0; c < HV; ++c) vv[c] = load16(v + j * ld + c * 16);
    v8 vt;
    std::memcpy(&vt, v + j * ld + HV * 16, sizeof vt);
    for (int r = 0; r < R; ++r) {
      const float pj = p[(i0 + r) * n + j];
      for (int c = 0; c < HV; ++c) acc[r][c] += pj * vv[c];
      tail[r] += pj * vt;
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < HV; ++c) store16(out + (i0 + r) * ld_out + c * 16, acc[r][c]);
    std::memcpy(out + (i0 + r) * ld_out + HV * 16, &tail[r], sizeof tail[r]);
  }
}

}  // namespace

// x86-64-v4 (AVX-512 with VL, and FMA) first: the half-width tail of head size 24 is a
// multiply-add only where 256-bit FMAs exist; the psABI level dispatches by CPU features, not
// by CPU model (unlike arch=<cpu name>, see README "Performance").
__attribute__((always_inline)) inline void attention_head_body(const float* q, const float* k, const float* v, int64_t ld, int64_t n, int64_t hd,
                                       float scale, const float* bias, const float* mask, float* out, int64_t ld_out,
                                       float* scratch) {
  // scratch (attention_scratch_floats): K transposed (hd x n), scores (n x n), and for head
  // sizes that are not a multiple of 16 a zero-padded V and an 8-row output tile. Every sum
  // runs in a fixed order.
  float* kt = scratch;
  float* scores = scratch + hd * n;
  // Register-blocked paths: q·kᵀ + softmax for window sizes of 16..64 tokens (any head
  // size), p·v below. Swin windows have 64 tokens; CLAP head sizes are 32 (HTSAT-base) or 24
  // (HTSAT-tiny: 16 + 8 columns).
  const bool qk_blocked = n == 16 || n == 32 || n == 48 || n == 64;
  const bool pv_blocked = qk_blocked && (hd == 16 || hd == 32 || hd == 64);
  if (qk_blocked) {
    // K transposed in 16 x 16 register blocks (a scalar transpose cost half as much as q·kᵀ).
    int64_t d0 = 0;
    for (; d0 + 16 <= hd; d0 += 16)
      for (int64_t j0 = 0; j0 < n; j0 += 16) transpose16(k + j0 * ld + d0, ld, kt + d0 * n + j0, n);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t d = d0; d < hd; ++d) kt[d * n + j] = k[j * ld + d];
    for (int64_t i = 0; i < n; i += 4) {
      switch (n / 16) {
        case 1: qk_softmax_rows4<1>(q, ld, kt, hd, scale, bias, mask, scores, i); break;
        case 2: qk_softmax_rows4<2>(q, ld, kt, hd, scale, bias, mask, scores, i); break;
        case 3: qk_softmax_rows4<3>(q, ld, kt, hd, scale, bias, mask, scores, i); break;
        default: qk_softmax_rows4<4>(q, ld, kt, hd, scale, bias, mask, scores, i); break;
      }
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
  if (pv_blocked) {
    if (hd == 64) {
      for (int64_t i = 0; i < n; i += 4) pv_rows<4, 4>(scores, n, v, ld, out, ld_out, i);
    } else {
      for (int64_t i = 0; i < n; i += 8) {
        if (hd == 16) pv_rows<8, 1>(scores, n, v, ld, out, ld_out, i);
        else pv_rows<8, 2>(scores, n, v, ld, out, ld_out, i);
      }
    }
  } else if (qk_blocked && (hd == 8 || hd == 24 || hd == 40)) {
    for (int64_t i = 0; i < n; i += 8) {
      if (hd == 8) pv_rows_tail8<8, 0>(scores, n, v, ld, out, ld_out, i);
      else if (hd == 24) pv_rows_tail8<8, 1>(scores, n, v, ld, out, ld_out, i);
      else pv_rows_tail8<8, 2>(scores, n, v, ld, out, ld_out, i);
    }
  } else if (qk_blocked && hd < 64) {
    // Other head sizes (12, 20, ...): V zero-padded to the next multiple of 16 columns,
    // the blocked kernel into a padded 8-row tile, the real columns copied out. The padding
    // adds exact zeros only, so each output is the same sum as the unblocked loop's order.
    const int64_t hp = (hd + 15) / 16 * 16;
    float* vpad = scores + n * n;
    float* tile = vpad + n * hp;
    for (int64_t j = 0; j < n; ++j) {
      std::memcpy(vpad + j * hp, v + j * ld, sizeof(float) * hd);
      std::fill(vpad + j * hp + hd, vpad + (j + 1) * hp, 0.0f);
    }
    for (int64_t i = 0; i < n; i += 8) {
      switch (hp / 16) {
        case 1: pv_rows<8, 1>(scores + i * n, n, vpad, hp, tile, hp, 0); break;
        case 2: pv_rows<8, 2>(scores + i * n, n, vpad, hp, tile, hp, 0); break;
        default: pv_rows<8, 3>(scores + i * n, n, vpad, hp, tile, hp, 0); break;
      }
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
// x86-64-v4 (AVX-512 with VL) where the CPU has it, as the clones chose: see attention_head_body.
__attribute__((target("arch=x86-64-v4"))) void attention_head_isa_avx512_v4 CLAP_ATTENTION_PARAMS {
  attention_head_body CLAP_ATTENTION_ARGS;
}
#endif
CLAP_ISA_ENTRIES(attention_head_body, void, CLAP_ATTENTION_PARAMS, CLAP_ATTENTION_ARGS)

}  // namespace

void attention_head(const float* q, const float* k, const float* v, int64_t ld, int64_t n, int64_t hd, float scale,
                    const float* bias, const float* mask, float* out, int64_t ld_out, float* scratch) {
#if defined(__x86_64__)
  static const bool v4 = __builtin_cpu_supports("x86-64-v4");
  if (isa_level() == IsaLevel::Avx512 && v4) return attention_head_isa_avx512_v4 CLAP_ATTENTION_ARGS;
#endif
  CLAP_ISA_PICK(attention_head_body) CLAP_ATTENTION_ARGS;
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
