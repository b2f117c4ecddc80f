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
#pragma once
#include <cstdint>
#include <memory>
#include <span>

namespace clap {

enum class WeightLayout {
  Rows,    // the checkpoint's layout [out, in], used in place
  Panels,  // repacked by pack_linear: panels of 32 outputs, k-major, zero-padded
};

enum class WeightType { F32 };  // lower-precision panels can be added without a new entry point

// A plain, non-owning description of one linear layer.
struct LinearWeights {
  int64_t in = 0, out = 0;
  WeightLayout layout = WeightLayout::Rows;
  WeightType type = WeightType::F32;
  const void* weight = nullptr;  // Rows: out x in floats; Panels: the packed panels
  const float* bias = nullptr;   // Rows: out floats or null; Panels: the zero-padded panel bias
};

enum class Epilogue {
  None,          // y = x·Wᵀ + b
  Gelu,          // y = gelu(x·Wᵀ + b)  (erf form)
  AddResidual,   // y = y + (x·Wᵀ + b)  (y holds the residual on entry)
};

// x rows have stride ldx, y rows stride ldy; y must not alias x. With row_map, input row r
// goes to output row row_map[r] (-1: dropped), e.g. scattering window order back to the
// token grid while adding the residual. Throws clap::Error for a weight form it cannot run.
void linear(const float* x, int64_t rows, int64_t ldx, const LinearWeights& w, float* y, int64_t ldy,
            Epilogue epilogue = Epilogue::None, const int64_t* row_map = nullptr);

// A layer repacked into panels (owning): 64-byte aligned, on transparent huge pages when large
// (fewer page faults when packing, fewer TLB misses when streaming).
struct PackedLinear {
  struct Free {
    void operator()(float* p) const;
  };
  int64_t in = 0, out = 0;
  std::unique_ptr<float, Free> data;  // panels x in x 32 weights, then panels x 32 bias

  LinearWeights view() const;  // layout Panels
};

// Packs `parts` weight matrices stacked along the output dimension (e.g. query, key, value
// into one [3·dim, in] layer). weights[i] is [outs[i], in]; biases[i] may be null.
PackedLinear pack_linear(int parts, const float* const* weights, const float* const* biases, const int64_t* outs,
                         int64_t in);
inline PackedLinear pack_linear(const float* weight, const float* bias, int64_t out, int64_t in) {
  return pack_linear(1, &weight, &bias, &out, in);
}
// The same for layers in the checkpoint's layout (F32 Rows, all with the same `in`).
PackedLinear pack_linear(std::span<const LinearWeights> parts);
inline PackedLinear pack_linear(const LinearWeights& layer) { return pack_linear({&layer, 1}); }

// Kernel families, best first. The CPU's best is chosen at run time.
enum class KernelIsa { Avx512, Avx2, Generic };

// Which kernel linear() runs on packed panels now ("avx512", "avx2" or "generic").
const char* packed_gemm_kernel();

// Tests: use at most this family for both layouts (every family must be right). Avx512 = no limit.
void limit_kernels(KernelIsa isa);

}  // namespace clap
