// The ARM64 (aarch64) side of tensor/linear.cpp: NEON kernels for packed panels and the CPU's
// optional extensions, read from the kernel's hardware capabilities (getauxval), not from the
// compiler's target: one binary for every ARMv8-A CPU. Only declared on aarch64.
#pragma once
#if defined(__aarch64__)
#include <cstdint>

#include "tensor/linear_kernels.h"

namespace clap {

// The extensions the ARM kernels can use (AT_HWCAP / AT_HWCAP2), read once.
struct ArmFeatures {
  bool asimd = false;    // Advanced SIMD (NEON): every ARMv8-A CPU that runs Linux
  bool dotprod = false;  // SDOT/UDOT (ARMv8.2 DotProd; Cortex-A55/A76 and later)
  bool i8mm = false;     // USDOT/SMMLA (ARMv8.6 I8MM; Neoverse V1/N2, Apple M2 ...)
  bool bf16 = false;     // BFDOT/BFMMLA (ARMv8.6 BF16)
};
const ArmFeatures& arm_features();

// Panels layout, float32 (tensor/linear.cpp's contract): rows x 32 outputs of one panel, each
// output a chain of fused multiply-adds over k = 0..k_count-1 started from its bias, so its
// bits equal the AVX-512 and AVX2 kernels'. out[r] points at row r's first output of the
// panel; valid outputs are stored (added to the existing values with add_residual).
void strip_neon(int rows, const float* x, int64_t ldx, const float* panel, const float* bias, int64_t k_count,
                float* const* out, int valid, bool add_residual);

// BF16 panels (pairs of k interleaved per output) with bfloat16 input rows (k padded to even):
// per output and pair, acc += x_odd·w_odd then acc += x_even·w_even, fused (products of two
// bfloat16 are exact), from the bias: the contract's order, the AVX2 kernel's bits. bfloat16
// becomes float32 in the loads (a shift). BFDOT/BFMMLA are not used: they round the pair's sum
// their own way (the Arm ARM's BFDotAdd), which would break the same-bits contract.
void strip_bf16_neon(int rows, const uint16_t* x, int64_t ldx, const uint16_t* panel, const float* bias,
                     int64_t pairs, float* const* out, int valid, bool add_residual);

// I8 panels (groups of 4 k, s8 weights) with u8 input rows: the exact int32 sums Σ u·q, as
// (u - 128)·q with SDOT (vdotq, `dotprod`) or with widening multiplies (vmull_s8 + vpadalq_s16)
// on CPUs without it, plus 128·Σq; then tensor/linear.cpp's float step
// y = fma(float(S - z·Σq), s·scale, bias). Integer sums are exact: every path gives the same bits.
void strip_i8_neon(bool dotprod, int rows, const detail::I8Rows& x, const detail::I8Panel& w, int64_t groups,
                   float* const* out, int valid, bool add_residual);

}  // namespace clap
#endif
