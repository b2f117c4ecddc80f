// Linear layers: y[rows, out] = x[rows, in] · Wᵀ + bias, through one entry point whatever
// form the weights are in.
//
// A layer is described by LinearWeights (non-owning). Its weights come either in the
// checkpoint's layout (Rows: W is [out, in], PyTorch's, used in place) or repacked once into
// panels (Panels: 32 outputs per panel, k-major inside a panel, so a register-blocked kernel
// streams them with aligned vector loads while a strip of up to 12 input rows stays in
// registers as broadcasts). Rows is the right shape for a handful of rows (the text tower:
// W is streamed once per call, no copy); Panels for many rows (the audio tower).
//
// Every output element is computed on its own, in an order fixed by the shapes alone:
// Panels: one multiply-add chain over k = 0..in-1 (fused where the CPU has FMA) started from
// its bias; Rows: a dot product (16-lane partial sums, then a fixed reduction) plus the bias.
// The order does not depend on the row count, the other rows, the thread count or the tiling,
// so a row's result never depends on the batch it arrives in, and runs are bit-identical.
// AVX-512 is used when the CPU has it (chosen at run time); otherwise AVX2 or generic kernels.
//
// Element types (WeightType, recorded in the packed weights): F32, or BF16 panels. A BF16 layer
// rounds its input rows to bfloat16 (round to nearest even) and multiplies them with bfloat16
// weights, accumulating in float32 in the order of AVX512-BF16's vdpbf16ps: per pair of k
// (2i, 2i+1), acc += x[2i+1]·w[2i+1], then acc += x[2i]·w[2i] (each product exact, each sum
// rounded, denormals flushed), starting from the bias. CPUs without that instruction compute
// the same sums with float32 multiply-adds, so every kernel family gives the same bits.
// Except AMX-BF16's tiles (core/isa.h's cpu_has_amx_bf16, the Avx512 family): from the bias,
// k in steps of 32 (the last padded with zeros), each step's 32 exact products added to the
// sum by tdpbf16ps in an order the hardware fixes (on Sapphire Rapids not the pairwise order
// above; Intel does not specify it), denormals flushed. Each row takes the same steps wherever
// it sits, so results stay independent of the batch, the thread count and the run; they differ
// from vdpbf16ps's in the last bits (tests/tensor/gemm_test.cpp bounds them).
//
// I8 panels: weights quantised per output channel, symmetric (w ≈ scale[o]·q, q in -127..127),
// inputs per row, asymmetric (x ≈ s[r]·(u - z[r]), u in 0..255, zero exactly representable),
// computed in the call's input step. Sums are exact in int32 (u8 x s8, as AVX512-VNNI's
// vpdpbusd computes them): S = Σ u·q - z·Σq. Then one float32 formula on every path:
// y = float(S) · (s[r]·scale[o]) + bias[o] (two roundings, no fused step), then the epilogue.
// Integer sums do not depend on their order, so every family (vpdpbusd, vpmaddwd on
// AVX-512BW or AVX2, scalar) gives the same bits.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace clap {

enum class WeightLayout {
  Rows,    // the checkpoint's layout [out, in], used in place
  Panels,  // repacked by pack_linear: panels of 32 outputs, k-major, zero-padded
};

enum class WeightType {
  F32,   // float32
  BF16,  // bfloat16 panels (layout Panels only): pairs of k interleaved per output
  I8,    // int8 panels (layout Panels only): groups of 4 k interleaved per output, per-output scales
};
const char* weight_type_name(WeightType type);  // "f32", "bf16", "i8"

// A plain, non-owning description of one linear layer.
struct LinearWeights {
  int64_t in = 0, out = 0;
  WeightLayout layout = WeightLayout::Rows;
  WeightType type = WeightType::F32;
  const void* weight = nullptr;  // Rows: out x in floats; Panels: the packed panels (of `type`)
  const float* bias = nullptr;   // Rows: out floats or null; Panels: the zero-padded panel bias
  // I8 panels only (zero-padded like the bias): per-output weight scales, and per-output sums
  // of the quantised weights (the correction for the inputs' zero points).
  const float* scale = nullptr;
  const int32_t* weight_sum = nullptr;
  // I8 panels: per input channel, the power of two 1/s_k the inputs are multiplied by before
  // they are quantised (the weights were packed times s_k; see pack_linear). Null = none.
  const float* input_multiplier = nullptr;
};

enum class Epilogue {
  None,          // y = x·Wᵀ + b
  Gelu,          // y = gelu(x·Wᵀ + b)  (erf form)
  AddResidual,   // y = y + (x·Wᵀ + b)  (y holds the residual on entry)
};

// Buffers a call may need besides x and y (the input rows rounded to bf16 for BF16 weights,
// quantised to u8 for I8 weights), owned by the caller and reused across calls so a steady
// stream of calls allocates nothing. One call at a time per scratch.
struct LinearScratch {
  std::vector<uint16_t> input_bf16;  // rows x in rounded to bfloat16 (k padded to even)
  std::vector<float> input_widened;  // the same widened to float32 (the AVX2 BF16 kernel's inputs)
  std::vector<uint8_t> input_u8;     // rows x in quantised (k padded to a multiple of 4 with zeros)
  std::vector<int16_t> input_i16;    // the same as int16, straight from the input step (plain AVX2 I8)
  std::vector<float> input_scale;    // per row: s
  std::vector<int32_t> input_zero;   // per row: z
};

// The I8 input step for one row of n floats: s, z and u as every I8 path computes them
// (lo = min(0, min x), hi = max(0, max x), s = (hi - lo) / 255, u = clamp(round(x·255/(hi - lo))
// + z, 0, 255) with z = round(-lo·255/(hi - lo)), ties to even; an all-zero row: s = 0, z = 0,
// u = 0). Inputs must be finite.
void quantize_row_u8(const float* x, int64_t n, uint8_t* u, float* scale, int32_t* zero);

// x rows have stride ldx, y rows stride ldy; y must not alias x. With row_map, input row r
// goes to output row row_map[r] (-1: dropped), e.g. scattering window order back to the
// token grid while adding the residual. scratch: null = a temporary one for this call.
// Throws clap::Error for a weight form it cannot run.
void linear(const float* x, int64_t rows, int64_t ldx, const LinearWeights& w, float* y, int64_t ldy,
            Epilogue epilogue = Epilogue::None, const int64_t* row_map = nullptr, LinearScratch* scratch = nullptr);

// A layer repacked into panels (owning): 64-byte aligned, on transparent huge pages when large
// (fewer page faults when packing, fewer TLB misses when streaming).
struct PackedLinear {
  struct Free {
    void operator()(void* p) const;
  };
  int64_t in = 0, out = 0;
  WeightType type = WeightType::F32;
  // The panels, then panels x 32 float32 biases. F32: panels x in x 32 floats (k-major);
  // BF16: panels x ceil(in/2) x 32 x 2 bfloat16 (per pair of k, each output's two weights side
  // by side: the operand layout of vdpbf16ps), an odd `in` padded with a zero weight.
  // I8: panels x ceil(in/4) x 32 x 4 int8 (per group of 4 k, each output's four weights side by
  // side: the operand layout of vpdpbusd), zero-padded; after the biases, panels x 32 float
  // scales and panels x 32 int32 weight sums.
  std::unique_ptr<void, Free> data;

  LinearWeights view() const;  // layout Panels
  size_t bytes() const;        // what the panels, biases (and I8 scales and sums) occupy
};

// Packs `parts` weight matrices stacked along the output dimension (e.g. query, key, value
// into one [3·dim, in] layer) as `type` panels. weights[i] is [outs[i], in]; biases[i] may be null.
// I8: first a power of two s_k >= 1 per input channel k brings weight columns much smaller than
// the layer's median column up to it (inputs are multiplied by 1/s_k in the call's input step:
// the same function, exactly), so an activation channel a trained model makes hundreds of times
// larger while giving it as many times smaller weights does not set the rows' quantisation
// range alone. Then each output's weights quantised on their own: scale = max|w| / 127,
// q = round(w·127 / max|w|), ties to even (an all-zero output: scale 0).
PackedLinear pack_linear(int parts, const float* const* weights, const float* const* biases, const int64_t* outs,
                         int64_t in, WeightType type = WeightType::F32);
inline PackedLinear pack_linear(const float* weight, const float* bias, int64_t out, int64_t in,
                                WeightType type = WeightType::F32) {
  return pack_linear(1, &weight, &bias, &out, in, type);
}
// The same for layers in the checkpoint's layout (F32 Rows, all with the same `in`).
PackedLinear pack_linear(std::span<const LinearWeights> parts, WeightType type = WeightType::F32);
inline PackedLinear pack_linear(const LinearWeights& layer, WeightType type = WeightType::F32) {
  return pack_linear({&layer, 1}, type);
}

// float32 -> bfloat16, round to nearest even; denormals become signed zeros (vdpbf16ps treats
// them as zero anyway), NaNs stay NaNs (quiet). The one rounding every BF16 path uses.
uint16_t to_bf16(float value);
void to_bf16(const float* x, int64_t n, uint16_t* out);  // n values (vectorised; the same bits)
float from_bf16(uint16_t value);

// Kernel families, best first. The CPU's best is chosen at run time. Avx512 uses the AVX-512
// extensions the CPU has (AVX512-BF16 for bf16 panels, AVX512-VNNI for int8 panels, and AMX
// int8 tiles where core/isa.h's cpu_has_amx_int8 says so: the same sums; AMX bf16 tiles where
// cpu_has_amx_bf16 does: their own sums, above); Avx512NoAmx the same without AMX (vpdpbusd
// and vdpbf16ps alone); Avx512Bw
// limits it to Skylake-X's set (foundation and BW: bf16 panels as float32 multiply-adds, int8
// panels through vpmaddwd, same bits); Avx512F to the foundation instructions (int8 panels
// then run the AVX2 kernel: without BW AVX-512 has no 16-bit multiplies). Avx2Vnni: the AVX2
// kernels with AVX-VNNI's vpdpbusd (VEX, 256 bits) for int8 panels (Alder Lake and later, N100;
// chosen when core/isa.h allows it, the same sums); Avx2: plain AVX2. Neon: the ARM64
// kernels (tensor/linear_neon.cpp), the best on aarch64, never chosen on x86-64; a limit above
// it (Avx2 ... Avx512) leaves an ARM CPU its NEON kernels, Generic turns them off.
enum class KernelIsa { Avx512, Avx512NoAmx, Avx512Bw, Avx512F, Avx2Vnni, Avx2, Neon, Generic };

// Which kernel linear() runs on packed panels of `type` now ("avx512", "avx2", "neon", "generic";
// for BF16: "avx512-amx-bf16" (AMX tiles), "avx512-bf16", "avx2-bf16", or the family's name + "-bf16-as-f32"; for I8:
// "avx512-amx-int8" (AMX tiles, vpdpbusd for what they do not cover), "avx512-vnni-int8", "avx512bw-int8", "avx2-vnni-int8", "avx2-int8", "generic-int8"; on ARM64 "neon",
// "neon-bf16-as-f32", "neon-dotprod-int8" or "neon-int8").
const char* packed_gemm_kernel(WeightType type = WeightType::F32);

// Tests: use at most this family for both layouts (every family must be right). Avx512 = no limit.
void limit_kernels(KernelIsa isa);

}  // namespace clap
