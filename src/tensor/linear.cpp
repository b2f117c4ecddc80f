#include "tensor/linear.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include "tensor/linear_neon.h"
#endif
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/isa.h"
#include "tensor/linear_kernels.h"
#include "tensor/ops.h"

namespace clap {
namespace {

using detail::I8Panel;
using detail::I8Rows;
using detail::kPanel;
using detail::rows_portable;
using detail::strip_bf16_generic;
using detail::strip_generic;
using detail::strip_i8_generic;
constexpr int kStripRows = 12;   // rows per register block: 24 accumulators + 2 weight vectors
constexpr int kTileRows = 288;   // rows per tile: a tile's inputs stay in L2 while panels stream

std::atomic<int> g_kernel_limit{static_cast<int>(KernelIsa::Avx512)};

// The family, limited by limit_kernels. Avx512 = AVX-512 with whichever later extensions the
// CPU has (they are not nested: Ice Lake has VNNI without BF16), checked one by one below.
KernelIsa kernel_isa() {
#if defined(__x86_64__)
  static const KernelIsa best =
      __builtin_cpu_supports("avx512f")
          ? (__builtin_cpu_supports("avx512bw") ? KernelIsa::Avx512 : KernelIsa::Avx512F)
          : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? KernelIsa::Avx2Vnni
                                                                              : KernelIsa::Generic;
  // Capped by the process's kernel set (core/isa.h: CLAPSEARCH_ISA) as well as by tests' limit.
  const IsaLevel level = isa_level();
  const int cap = static_cast<int>(level == IsaLevel::Avx512 ? KernelIsa::Avx512
                                   : level == IsaLevel::Avx2 ? KernelIsa::Avx2Vnni
                                                             : KernelIsa::Generic);
  const auto isa = static_cast<KernelIsa>(
      std::max({static_cast<int>(best), g_kernel_limit.load(std::memory_order_relaxed), cap}));
  // AVX-VNNI only where the CPU has it and the kernel set allows it; else plain AVX2.
  return isa == KernelIsa::Avx2Vnni && !isa_allows_avx_vnni() ? KernelIsa::Avx2 : isa;
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
bool cpu_has_avx512_bf16() { return kernel_isa() <= KernelIsa::Avx512NoAmx && __builtin_cpu_supports("avx512bf16"); }
bool cpu_has_avx512bw() { return kernel_isa() <= KernelIsa::Avx512Bw; }
bool cpu_has_avx512_vnni() { return kernel_isa() <= KernelIsa::Avx512NoAmx && __builtin_cpu_supports("avx512vnni"); }
bool cpu_has_amx_int8_kernel() { return kernel_isa() == KernelIsa::Avx512 && cpu_has_avx512_vnni() && cpu_has_amx_int8(); }
bool cpu_has_amx_bf16_kernel() { return kernel_isa() == KernelIsa::Avx512 && cpu_has_avx512_bf16() && cpu_has_amx_bf16(); }
#else
constexpr bool cpu_has_avx512() { return false; }
constexpr bool cpu_has_avx512_bf16() { return false; }
constexpr bool cpu_has_avx512bw() { return false; }
constexpr bool cpu_has_avx512_vnni() { return false; }
constexpr bool cpu_has_amx_int8_kernel() { return false; }
constexpr bool cpu_has_amx_bf16_kernel() { return false; }
#endif

// ---- the inputs of the bfloat16 and int8 panels (the kernels: linear_generic.cpp and the ISA files)
// Rounds rows x in floats (stride ldx) to bfloat16 rows of `width` (even) elements, zero-padded.
void round_rows_bf16(const float* x, int64_t rows, int64_t ldx, int64_t in, uint16_t* out, int64_t width) {
#pragma omp parallel for schedule(static) if (rows * in >= 65536)
  for (int64_t r = 0; r < rows; ++r) {
    to_bf16(x + r * ldx, in, out + r * width);
    for (int64_t k = in; k < width; ++k) out[r * width + k] = 0;
  }
}

// Quantises rows x to u8 rows of `width` (a multiple of 4, zero-padded), each with its scale and
// zero point: quantize_row_u8's values on every path.
// multiplier (null = none): each input channel times its power of two first (the layer's
// channel smoothing, see pack_linear), an exact step.
void quantize_rows_u8(const float* x, int64_t rows, int64_t ldx, int64_t in, const float* multiplier, uint8_t* u,
                      int64_t width, float* scale, int32_t* zero) {
#if defined(__x86_64__)
  if (cpu_has_avx512bw()) {
#pragma omp parallel for schedule(static) if (rows * in >= 65536)
    for (int64_t r = 0; r < rows; ++r)
      detail::quantize_row_u8_fused_avx512(x + r * ldx, in, multiplier, u + r * width, width, scale + r, zero + r);
    return;
  }
  if (kernel_isa() <= KernelIsa::Avx2) {  // AVX2 (or AVX-512 without BW)
#pragma omp parallel for schedule(static) if (rows * in >= 65536)
    for (int64_t r = 0; r < rows; ++r)
      detail::quantize_row_u8_fused_avx2(x + r * ldx, in, multiplier, u + r * width, width, scale + r, zero + r);
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

// Rows layout: W streamed once per call in its own layout (the text tower: a few rows per
// text, all texts of a batch in one call).
void linear_rows(const float* x, int64_t rows, int64_t ldx, const LinearWeights& w, float* y, int64_t ldy,
                 Epilogue epilogue, const int64_t* row_map) {
  const float* weight = static_cast<const float*>(w.weight);
  const bool add_residual = epilogue == Epilogue::AddResidual;
#if defined(__x86_64__)
  if (cpu_has_avx512())
    detail::rows_avx512(x, rows, ldx, w.in, weight, w.bias, w.out, y, ldy, add_residual, row_map);
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
// StripRows: the most rows a strip takes; amx_tiles: each thread configures AMX's tiles for
// the call and releases them after.
template <int StripRows = kStripRows, typename Strip>
void for_each_strip(int64_t rows, int64_t out, float* y, int64_t ldy, const int64_t* row_map, bool gelu_after,
                    bool flush_denormals, const Strip& strip, bool amx_tiles = false) {
  const int64_t panels = (out + kPanel - 1) / kPanel;
  const int threads = omp_get_max_threads();
  // Tiles: row blocks of whole strips (balanced across threads) x groups of panels. Small
  // row counts split the panels instead, so both cores work on stage-4-sized inputs.
  const int64_t strips = (rows + StripRows - 1) / StripRows;
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
#if defined(__x86_64__)
    if (amx_tiles) detail::amx_begin_avx512();
#endif
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tiles; ++t) {
      float discard[kPanel] = {};  // where rows mapped to -1 go
      const int64_t rt = t / panel_groups, g = t % panel_groups;
      const int64_t s0 = strips * rt / row_tiles, s1 = strips * (rt + 1) / row_tiles;
      const int64_t p0 = panels * g / panel_groups, p1 = panels * (g + 1) / panel_groups;
      const int64_t r0 = s0 * StripRows, r1 = std::min(rows, s1 * StripRows);
      for (int64_t p = p0; p < p1; ++p) {
        const int valid = static_cast<int>(std::min<int64_t>(kPanel, out - p * kPanel));
        for (int64_t r = r0; r < r1; r += StripRows) {
          const int n = static_cast<int>(std::min<int64_t>(StripRows, r1 - r));
          float* dst[StripRows];
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
    if (amx_tiles) detail::amx_end_avx512();
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
                     detail::strip_avx512(n, x + r * ldx, ldx, panel, bias, w.in, out, valid, epilogue);
                   else if (isa == KernelIsa::Avx2 || isa == KernelIsa::Avx2Vnni)
                     detail::strip_avx2(n, x + r * ldx, ldx, panel, bias, w.in, out, valid, add_residual);
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
  const int64_t pairs = (w.in + 1) / 2;
  const uint16_t* weights = static_cast<const uint16_t*>(w.weight);
#if defined(__x86_64__)
  if (cpu_has_amx_bf16_kernel()) {
    // AMX tiles read whole steps of 32 k and blocks of 16 rows: the rounded rows are padded with
    // zeros to both (strips of 32 rows start at multiples of 32).
    const int64_t amx_width = (pairs + 15) / 16 * 32, padded_rows = (rows + 31) / 32 * 32;
    if (scratch.input_bf16.size() < static_cast<size_t>(padded_rows * amx_width))
      scratch.input_bf16.resize(padded_rows * amx_width);
    uint16_t* xb = scratch.input_bf16.data();
    round_rows_bf16(x, rows, ldx, w.in, xb, amx_width);
    std::fill(xb + rows * amx_width, xb + padded_rows * amx_width, uint16_t{0});
    return for_each_strip<detail::kAmxStripRows>(
        rows, w.out, y, ldy, row_map, false, true,
        [&](int n, int64_t r, int64_t p, float* const* out, int valid) {
          detail::strip_bf16_amx_avx512(n, xb + r * amx_width, amx_width, weights + p * pairs * 2 * kPanel,
                                        w.bias + p * kPanel, pairs, out, valid, epilogue);
        },
        true);
  }
#endif
  const int64_t width = 2 * pairs;
  if (scratch.input_bf16.size() < static_cast<size_t>(rows * width)) scratch.input_bf16.resize(rows * width);
  uint16_t* xb = scratch.input_bf16.data();
  round_rows_bf16(x, rows, ldx, w.in, xb, width);
  const KernelIsa isa = kernel_isa();
  const bool avx512 = cpu_has_avx512(), bf16_instructions = cpu_has_avx512_bf16();
  const bool add_residual = epilogue == Epilogue::AddResidual;
  const bool gelu_after = epilogue == Epilogue::Gelu && !avx512;
#if defined(__x86_64__)
  if (!avx512 && (isa == KernelIsa::Avx2 || isa == KernelIsa::Avx2Vnni)) {  // linear_avx2.cpp: inputs widened once
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
                     detail::strip_bf16_avx512(bf16_instructions, n, xr, width, panel, bias, pairs, out, valid,
                                               epilogue);
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
  if (scratch.input_scale.size() < static_cast<size_t>(rows)) scratch.input_scale.resize(rows);
  if (scratch.input_zero.size() < static_cast<size_t>(rows)) scratch.input_zero.resize(rows);
  const int8_t* weights = static_cast<const int8_t*>(w.weight);
  const bool avx512 = cpu_has_avx512bw(), vnni = cpu_has_avx512_vnni();
  const bool avx_vnni = kernel_isa() == KernelIsa::Avx2Vnni;
  const bool avx2 = !avx512 && !avx_vnni && kernel_isa() <= KernelIsa::Avx2;  // also AVX-512 without BW
  const bool add_residual = epilogue == Epilogue::AddResidual;
  const bool gelu_after = epilogue == Epilogue::Gelu && !avx512;
#if defined(__x86_64__)
  if (avx2) {  // linear_avx2.cpp: the vpmaddwd kernel reads int16 rows, quantised straight into them
    if (scratch.input_i16.size() < static_cast<size_t>(rows * width)) scratch.input_i16.resize(rows * width);
    int16_t* xi = scratch.input_i16.data();
#pragma omp parallel for schedule(static) if (rows * w.in >= 65536)
    for (int64_t r = 0; r < rows; ++r)
      detail::quantize_row_i16_fused_avx2(x + r * ldx, w.in, w.input_multiplier, xi + r * width, width,
                                          scratch.input_scale.data() + r, scratch.input_zero.data() + r);
    return for_each_strip(rows, w.out, y, ldy, row_map, gelu_after, false,
                          [&](int n, int64_t r, int64_t p, float* const* out, int valid) {
                            const detail::I8Strip s{weights + p * groups * 4 * kPanel, w.bias + p * kPanel,
                                                    w.scale + p * kPanel, w.weight_sum + p * kPanel,
                                                    scratch.input_scale.data() + r, scratch.input_zero.data() + r};
                            detail::strip_i8_widened_avx2(n, xi + r * width, width, s, groups, out, valid, add_residual);
                          });
  }
#endif
  if (scratch.input_u8.size() < static_cast<size_t>(rows * width)) scratch.input_u8.resize(rows * width);
  quantize_rows_u8(x, rows, ldx, w.in, w.input_multiplier, scratch.input_u8.data(), width, scratch.input_scale.data(),
                   scratch.input_zero.data());
#if defined(__x86_64__)
  if (avx_vnni) {  // linear_avx2.cpp: vpdpbusd reads the u8 rows as they are
    return for_each_strip(rows, w.out, y, ldy, row_map, gelu_after, false,
                          [&](int n, int64_t r, int64_t p, float* const* out, int valid) {
                            const I8Panel panel{weights + p * groups * 4 * kPanel, w.bias + p * kPanel,
                                                w.scale + p * kPanel, w.weight_sum + p * kPanel};
                            const I8Rows xr{scratch.input_u8.data() + r * width, width, scratch.input_scale.data() + r,
                                            scratch.input_zero.data() + r};
                            detail::strip_i8_avx_vnni(n, xr, panel, groups, out, valid, add_residual);
                          });
  }
  if (avx512 && vnni && groups % 16 == 0 && cpu_has_amx_int8_kernel()) {  // whole 64-k steps for the tiles
    return for_each_strip<detail::kAmxStripRows>(
        rows, w.out, y, ldy, row_map, false, false,
        [&](int n, int64_t r, int64_t p, float* const* out, int valid) {
          const I8Panel panel{weights + p * groups * 4 * kPanel, w.bias + p * kPanel, w.scale + p * kPanel,
                              w.weight_sum + p * kPanel};
          const I8Rows xr{scratch.input_u8.data() + r * width, width, scratch.input_scale.data() + r,
                          scratch.input_zero.data() + r};
          detail::strip_i8_amx_avx512(n, xr, panel, groups, out, valid, epilogue);
        },
        true);
  }
#else
  (void)vnni, (void)avx2, (void)avx_vnni;
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
                     detail::strip_i8_avx512(vnni, n, xr, panel, groups, out, valid, epilogue);
                   else
#elif defined(__aarch64__)
                   if (neon)
                     strip_i8_neon(dotprod, n, xr, panel, groups, out, valid, add_residual);
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
  if (cpu_has_avx512()) return detail::to_bf16_avx512(x, n, out, cpu_has_avx512_bf16());
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = to_bf16(x[i]);
}

// The written-out form, which the portable kernels use; the AVX-512 and AVX2 input steps
// (quantize_row_u8_fused_*) give the same s, z and u.
void quantize_row_u8(const float* x, int64_t n, uint8_t* u, float* scale, int32_t* zero) {
  float lo = 0.0f, hi = 0.0f;  // the range includes 0, so zero (padding, ReLU-like zeros) is exact
  for (int64_t k = 0; k < n; ++k) {
    lo = std::min(lo, x[k]);
    hi = std::max(hi, x[k]);
  }
  const float inv = detail::quantisation_of_range(lo, hi, scale, zero);
  if (inv == 0.0f) {  // all zero
    std::fill(u, u + n, uint8_t{0});
    return;
  }
  const int32_t z = *zero;
  for (int64_t k = 0; k < n; ++k)
    u[k] = static_cast<uint8_t>(std::clamp(static_cast<int32_t>(std::nearbyint(x[k] * inv)) + z, 0, 255));
}

float from_bf16(uint16_t value) { return detail::bf16_to_float(value); }

const char* weight_type_name(WeightType type) {
  return type == WeightType::BF16 ? "bf16" : type == WeightType::I8 ? "i8" : "f32";
}

bool gelu_fast(float* x, int64_t n) {
#if defined(__x86_64__)
  if (cpu_has_avx512()) {
    detail::gelu_avx512(x, n);
    return true;
  }
  if (kernel_isa() == KernelIsa::Avx2 || kernel_isa() == KernelIsa::Avx2Vnni) {
    detail::gelu_avx2(x, n);
    return true;
  }
  return false;
#else
  (void)x, (void)n;
  return false;  // the portable gelu_erf (tensor/ops.cpp)
#endif
}

void limit_kernels(KernelIsa isa) { g_kernel_limit.store(static_cast<int>(isa)); }

const char* packed_gemm_kernel(WeightType type) {
  const KernelIsa isa = kernel_isa();
  if (type == WeightType::BF16) {
    if (cpu_has_amx_bf16_kernel()) return "avx512-amx-bf16";
    if (cpu_has_avx512_bf16()) return "avx512-bf16";
    switch (isa) {
      case KernelIsa::Avx512:
      case KernelIsa::Avx512NoAmx:
      case KernelIsa::Avx512Bw:
      case KernelIsa::Avx512F: return "avx512-bf16-as-f32";
      case KernelIsa::Avx2Vnni:
      case KernelIsa::Avx2: return "avx2-bf16";
      case KernelIsa::Neon: return "neon-bf16-as-f32";
      default: return "generic-bf16-as-f32";
    }
  }
  if (type == WeightType::I8) {
    if (cpu_has_amx_int8_kernel()) return "avx512-amx-int8";
    if (cpu_has_avx512_vnni()) return "avx512-vnni-int8";
    if (cpu_has_avx512bw()) return "avx512bw-int8";
#if defined(__aarch64__)
    if (isa == KernelIsa::Neon) return arm_features().dotprod ? "neon-dotprod-int8" : "neon-int8";
#endif
    if (isa == KernelIsa::Avx2Vnni) return "avx2-vnni-int8";
    return isa <= KernelIsa::Avx2 ? "avx2-int8" : "generic-int8";
  }
  switch (isa) {
    case KernelIsa::Avx512:
    case KernelIsa::Avx512NoAmx:
    case KernelIsa::Avx512Bw:
    case KernelIsa::Avx512F: return "avx512";
    case KernelIsa::Avx2Vnni:
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
