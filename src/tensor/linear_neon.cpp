// NEON kernels for tensor/linear.cpp on aarch64 (see tensor/linear_neon.h). Compiled on every
// architecture (the layer takes all of src/tensor), empty except on aarch64.
#include "tensor/linear_neon.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <asm/hwcap.h>
#include <sys/auxv.h>

#include <algorithm>
#include <cstring>

namespace clap {

const ArmFeatures& arm_features() {
  static const ArmFeatures features = [] {
    ArmFeatures f;
    const unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);
    f.asimd = (hwcap & HWCAP_ASIMD) != 0;
    f.dotprod = (hwcap & HWCAP_ASIMDDP) != 0;
    f.i8mm = (hwcap2 & HWCAP2_I8MM) != 0;
    f.bf16 = (hwcap2 & HWCAP2_BF16) != 0;
    return f;
  }();
  return features;
}

namespace {

using detail::kPanel;

// Stores 16 accumulated outputs (4 vectors) of one row: `count` of them (0..16), added to what
// is there with add_residual. Partial vectors lane by lane (no masked stores in NEON).
inline void store16(float* y, const float32x4_t (&acc)[4], int count, bool add_residual) {
  for (int v = 0; v < 4; ++v) {
    const int n = std::min(4, count - 4 * v);
    if (n <= 0) return;
    float32x4_t value = acc[v];
    if (n == 4) {
      if (add_residual) value = vaddq_f32(vld1q_f32(y + 4 * v), value);
      vst1q_f32(y + 4 * v, value);
    } else {
      float lanes[4];
      vst1q_f32(lanes, value);
      for (int i = 0; i < n; ++i) y[4 * v + i] = add_residual ? y[4 * v + i] + lanes[i] : lanes[i];
    }
  }
}

// R rows x 16 outputs (columns column..column+15 of the panel) over all k: 4R accumulators,
// 4 weight vectors and R input vectors (4 k of a row each, used lane by lane), at most 24 of
// the 32 vector registers. Each accumulator sees k in order: one fused multiply-add per k.
template <int R>
inline void tile16(const float* x, int64_t ldx, const float* panel, const float* bias, int64_t k_count,
                   float* const* out, int column, int count, bool add_residual) {
  float32x4_t acc[R][4];
  for (int v = 0; v < 4; ++v) {
    const float32x4_t b = vld1q_f32(bias + column + 4 * v);
    for (int r = 0; r < R; ++r) acc[r][v] = b;
  }
  const float* w = panel + column;
  int64_t k = 0;
  for (; k + 4 <= k_count; k += 4) {
    float32x4_t xv[R];
    for (int r = 0; r < R; ++r) xv[r] = vld1q_f32(x + r * ldx + k);
#define CLAP_STEP(lane)                                                          \
  {                                                                              \
    const float* wk = w + (k + lane) * kPanel;                                   \
    const float32x4_t w0 = vld1q_f32(wk), w1 = vld1q_f32(wk + 4);                \
    const float32x4_t w2 = vld1q_f32(wk + 8), w3 = vld1q_f32(wk + 12);           \
    for (int r = 0; r < R; ++r) {                                                \
      acc[r][0] = vfmaq_laneq_f32(acc[r][0], w0, xv[r], lane);                   \
      acc[r][1] = vfmaq_laneq_f32(acc[r][1], w1, xv[r], lane);                   \
      acc[r][2] = vfmaq_laneq_f32(acc[r][2], w2, xv[r], lane);                   \
      acc[r][3] = vfmaq_laneq_f32(acc[r][3], w3, xv[r], lane);                   \
    }                                                                            \
  }
    CLAP_STEP(0) CLAP_STEP(1) CLAP_STEP(2) CLAP_STEP(3)
#undef CLAP_STEP
  }
  for (; k < k_count; ++k) {
    const float* wk = w + k * kPanel;
    const float32x4_t w0 = vld1q_f32(wk), w1 = vld1q_f32(wk + 4), w2 = vld1q_f32(wk + 8), w3 = vld1q_f32(wk + 12);
    for (int r = 0; r < R; ++r) {
      const float a = x[r * ldx + k];
      acc[r][0] = vfmaq_n_f32(acc[r][0], w0, a);
      acc[r][1] = vfmaq_n_f32(acc[r][1], w1, a);
      acc[r][2] = vfmaq_n_f32(acc[r][2], w2, a);
      acc[r][3] = vfmaq_n_f32(acc[r][3], w3, a);
    }
  }
  for (int r = 0; r < R; ++r) store16(out[r] + column, acc[r], count, add_residual);
}

}  // namespace

void strip_neon(int rows, const float* x, int64_t ldx, const float* panel, const float* bias, int64_t k_count,
                float* const* out, int valid, bool add_residual) {
  for (int r = 0; r < rows; r += 4) {
    const int n = std::min(4, rows - r);
    for (int column = 0; column < valid; column += 16) {
      const int count = std::min(16, valid - column);
      switch (n) {
        case 1: tile16<1>(x + r * ldx, ldx, panel, bias, k_count, out + r, column, count, add_residual); break;
        case 2: tile16<2>(x + r * ldx, ldx, panel, bias, k_count, out + r, column, count, add_residual); break;
        case 3: tile16<3>(x + r * ldx, ldx, panel, bias, k_count, out + r, column, count, add_residual); break;
        default: tile16<4>(x + r * ldx, ldx, panel, bias, k_count, out + r, column, count, add_residual); break;
      }
    }
  }
}

// ---- BF16 panels ----------------------------------------------------------------------------
namespace {

// R rows x 16 outputs over all pairs of k. Per pair, the 16 outputs' weights are 32 bfloat16
// (even, odd per output): vld2 splits them into evens and odds, a 16-bit shift makes floats.
template <int R>
inline void tile16_bf16(const uint16_t* x, int64_t ldx, const uint16_t* panel, const float* bias, int64_t pairs,
                        float* const* out, int column, int count, bool add_residual) {
  float32x4_t acc[R][4];
  for (int v = 0; v < 4; ++v) {
    const float32x4_t b = vld1q_f32(bias + column + 4 * v);
    for (int r = 0; r < R; ++r) acc[r][v] = b;
  }
  const uint16_t* w = panel + 2 * column;
  // One pair p: input vectors hold (even, odd) of two pairs; `lane` 0 or 2 picks the pair's even.
  auto step = [&](int64_t p, const float32x4_t (&xv)[R], const int lane_even) {
    const uint16_t* wp = w + p * 2 * kPanel;
    float32x4_t even[4], odd[4];
    for (int v = 0; v < 4; ++v) {
      const uint16x4x2_t pair = vld2_u16(wp + 8 * v);
      even[v] = vreinterpretq_f32_u32(vshll_n_u16(pair.val[0], 16));
      odd[v] = vreinterpretq_f32_u32(vshll_n_u16(pair.val[1], 16));
    }
    for (int r = 0; r < R; ++r) {
      float32x4_t a_even, a_odd;
      if (lane_even == 0) {
        a_even = vdupq_laneq_f32(xv[r], 0);
        a_odd = vdupq_laneq_f32(xv[r], 1);
      } else {
        a_even = vdupq_laneq_f32(xv[r], 2);
        a_odd = vdupq_laneq_f32(xv[r], 3);
      }
      for (int v = 0; v < 4; ++v) {
        acc[r][v] = vfmaq_f32(acc[r][v], a_odd, odd[v]);  // the odd k first (vdpbf16ps's order)
        acc[r][v] = vfmaq_f32(acc[r][v], a_even, even[v]);
      }
    }
  };
  int64_t p = 0;
  for (; p + 2 <= pairs; p += 2) {  // 4 bfloat16 of each row: two pairs
    float32x4_t xv[R];
    for (int r = 0; r < R; ++r) xv[r] = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(x + r * ldx + 2 * p), 16));
    step(p, xv, 0);
    step(p + 1, xv, 2);
  }
  if (p < pairs) {
    float32x4_t xv[R];
    for (int r = 0; r < R; ++r) {
      const uint16_t* xp = x + r * ldx + 2 * p;
      const uint16_t four[4] = {xp[0], xp[1], 0, 0};
      xv[r] = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(four), 16));
    }
    step(p, xv, 0);
  }
  for (int r = 0; r < R; ++r) store16(out[r] + column, acc[r], count, add_residual);
}

// ---- I8 panels ------------------------------------------------------------------------------
// The float step of tensor/linear.cpp for 16 outputs of one row, from the sums of (u - 128)·q.
inline void finish_i8(const int32x4_t (&sums)[4], const detail::I8Rows& x, int r, const detail::I8Panel& w, int column,
                      float* y, int count, bool add_residual) {
  float32x4_t result[4];
  const int32x4_t shift = vdupq_n_s32(128 - x.zero[r]);  // S - z·Σq = Σ(u - 128)·q + (128 - z)·Σq
  const float32x4_t row_scale = vdupq_n_f32(x.scale[r]);
  for (int v = 0; v < 4; ++v) {
    const int o = column + 4 * v;
    const int32x4_t corrected = vmlaq_s32(sums[v], shift, vld1q_s32(w.weight_sum + o));
    const float32x4_t scale = vmulq_f32(row_scale, vld1q_f32(w.scale + o));  // s·scale, rounded, as everywhere
    result[v] = vfmaq_f32(vld1q_f32(w.bias + o), vcvtq_f32_s32(corrected), scale);
  }
  store16(y + column, result, count, add_residual);
}

// One group of 4 k for R rows x 16 outputs: lane `Lane` of each row's input vector.
// (arch=armv8.2-a: GCC 12's arm_neon.h declares SDOT for that target; DotProd is an ARMv8.2
// extension, so every CPU that has it is ARMv8.2.)
template <int R, int Lane>
__attribute__((target("arch=armv8.2-a+dotprod"))) inline void dot_step(int32x4_t (&acc)[R][4], const int8_t* wg,
                                                          const int8x16_t (&xv)[R]) {
  const int8x16_t w0 = vld1q_s8(wg), w1 = vld1q_s8(wg + 16), w2 = vld1q_s8(wg + 32), w3 = vld1q_s8(wg + 48);
  for (int r = 0; r < R; ++r) {
    acc[r][0] = vdotq_laneq_s32(acc[r][0], w0, xv[r], Lane);
    acc[r][1] = vdotq_laneq_s32(acc[r][1], w1, xv[r], Lane);
    acc[r][2] = vdotq_laneq_s32(acc[r][2], w2, xv[r], Lane);
    acc[r][3] = vdotq_laneq_s32(acc[r][3], w3, xv[r], Lane);
  }
}

// R rows x 16 outputs with SDOT: per group, 16 outputs' weights are 64 bytes (4 per output, one
// 32-bit lane each); the row's 4 inputs (as s8: u xor 0x80 = u - 128) are one 32-bit lane of xv.
template <int R>
__attribute__((target("arch=armv8.2-a+dotprod"))) inline void tile16_i8_dot(const detail::I8Rows& x, int r0, const detail::I8Panel& w,
                                                               int64_t groups, float* const* out, int column,
                                                               int count, bool add_residual) {
  int32x4_t acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 4; ++v) acc[r][v] = vdupq_n_s32(0);
  const int8_t* wbase = w.weights + 4 * column;
  const uint8x16_t flip = vdupq_n_u8(0x80);
  int64_t g = 0;
  for (; g + 4 <= groups; g += 4) {  // 16 inputs of each row: four groups
    int8x16_t xv[R];
    for (int r = 0; r < R; ++r)
      xv[r] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(x.u + (r0 + r) * x.ldx + 4 * g), flip));
    dot_step<R, 0>(acc, wbase + g * 4 * kPanel, xv);
    dot_step<R, 1>(acc, wbase + (g + 1) * 4 * kPanel, xv);
    dot_step<R, 2>(acc, wbase + (g + 2) * 4 * kPanel, xv);
    dot_step<R, 3>(acc, wbase + (g + 3) * 4 * kPanel, xv);
  }
  for (; g < groups; ++g) {
    int8x16_t xv[R];
    for (int r = 0; r < R; ++r) {
      uint32_t word;
      std::memcpy(&word, x.u + (r0 + r) * x.ldx + 4 * g, 4);
      xv[r] = vreinterpretq_s8_u8(veorq_u8(vreinterpretq_u8_u32(vdupq_n_u32(word)), flip));
    }
    dot_step<R, 0>(acc, wbase + g * 4 * kPanel, xv);
  }
  for (int r = 0; r < R; ++r) finish_i8(acc[r], x, r0 + r, w, column, out[r], count, add_residual);
}

// The same sums without SDOT: (u - 128)·q as 16-bit products (|p| <= 16256), pairs added
// into 32-bit lanes (vpadalq_s16), each output's two partial sums added at the end.
template <int R>
inline void tile16_i8_widen(const detail::I8Rows& x, int r0, const detail::I8Panel& w, int64_t groups, float* const* out,
                            int column, int count, bool add_residual) {
  int32x4_t acc[R][8];  // per 4 outputs, two vectors: outputs (o, o+1) and (o+2, o+3), two partials each
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 8; ++v) acc[r][v] = vdupq_n_s32(0);
  const int8_t* wbase = w.weights + 4 * column;
  const uint8x8_t flip = vdup_n_u8(0x80);
  for (int64_t g = 0; g < groups; ++g) {
    const int8_t* wg = wbase + g * 4 * kPanel;
    int8x16_t wv[4];
    for (int v = 0; v < 4; ++v) wv[v] = vld1q_s8(wg + 16 * v);
    for (int r = 0; r < R; ++r) {
      uint32_t word;
      std::memcpy(&word, x.u + (r0 + r) * x.ldx + 4 * g, 4);
      const int8x8_t a = vreinterpret_s8_u8(veor_u8(vreinterpret_u8_u32(vdup_n_u32(word)), flip));
      const int8x16_t a2 = vcombine_s8(a, a);
      for (int v = 0; v < 4; ++v) {
        acc[r][2 * v] = vpadalq_s16(acc[r][2 * v], vmull_s8(vget_low_s8(wv[v]), a));
        acc[r][2 * v + 1] = vpadalq_s16(acc[r][2 * v + 1], vmull_high_s8(wv[v], a2));
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    int32x4_t sums[4];
    for (int v = 0; v < 4; ++v) sums[v] = vpaddq_s32(acc[r][2 * v], acc[r][2 * v + 1]);
    finish_i8(sums, x, r0 + r, w, column, out[r], count, add_residual);
  }
}

}  // namespace

void strip_bf16_neon(int rows, const uint16_t* x, int64_t ldx, const uint16_t* panel, const float* bias,
                     int64_t pairs, float* const* out, int valid, bool add_residual) {
  for (int r = 0; r < rows; r += 4) {
    const int n = std::min(4, rows - r);
    for (int column = 0; column < valid; column += 16) {
      const int count = std::min(16, valid - column);
      const uint16_t* xr = x + r * ldx;
      switch (n) {
        case 1: tile16_bf16<1>(xr, ldx, panel, bias, pairs, out + r, column, count, add_residual); break;
        case 2: tile16_bf16<2>(xr, ldx, panel, bias, pairs, out + r, column, count, add_residual); break;
        case 3: tile16_bf16<3>(xr, ldx, panel, bias, pairs, out + r, column, count, add_residual); break;
        default: tile16_bf16<4>(xr, ldx, panel, bias, pairs, out + r, column, count, add_residual); break;
      }
    }
  }
}

void strip_i8_neon(bool dotprod, int rows, const detail::I8Rows& x, const detail::I8Panel& w, int64_t groups,
                   float* const* out, int valid, bool add_residual) {
  for (int r = 0; r < rows; r += 4) {
    const int n = std::min(4, rows - r);
    for (int column = 0; column < valid; column += 16) {
      const int count = std::min(16, valid - column);
      if (dotprod) {
        switch (n) {
          case 1: tile16_i8_dot<1>(x, r, w, groups, out + r, column, count, add_residual); break;
          case 2: tile16_i8_dot<2>(x, r, w, groups, out + r, column, count, add_residual); break;
          case 3: tile16_i8_dot<3>(x, r, w, groups, out + r, column, count, add_residual); break;
          default: tile16_i8_dot<4>(x, r, w, groups, out + r, column, count, add_residual); break;
        }
      } else {
        switch (n) {
          case 1: tile16_i8_widen<1>(x, r, w, groups, out + r, column, count, add_residual); break;
          case 2: tile16_i8_widen<2>(x, r, w, groups, out + r, column, count, add_residual); break;
          case 3: tile16_i8_widen<3>(x, r, w, groups, out + r, column, count, add_residual); break;
          default: tile16_i8_widen<4>(x, r, w, groups, out + r, column, count, add_residual); break;
        }
      }
    }
  }
}

}  // namespace clap
#endif  // __aarch64__
