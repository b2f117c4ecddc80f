// Linear layers on weights repacked once (on first use) for a register-blocked GEMM kernel,
// and a row-wise kernel for weights used in their checkpoint layout.
//
// y[rows, out] = x[rows, in] · Wᵀ + bias, W in PyTorch layout [out, in]. The weights are
// stored as panels of 32 outputs (k-major inside a panel) so the kernel streams them with
// aligned vector loads while a strip of up to 12 input rows stays in registers as broadcasts.
//
// Every output element is one multiply-add chain over k = 0..in-1 (fused where the CPU has
// FMA) started from its bias, in the same order whatever the row count, the thread count or
// the tiling: a row's
// result never depends on the other rows in the call (a clip's embedding does not depend on
// the batch it arrives in) and runs are bit-identical. AVX-512 is used when the CPU has it
// (chosen at run time); otherwise an AVX2 kernel of the same loop, or a generic build of it.
#pragma once
#include <cstdint>
#include <memory>

namespace clap {

struct PackedLinear {
  struct Free {
    void operator()(float* p) const;
  };
  int64_t in = 0, out = 0;
  int64_t panels = 0;                   // ceil(out / 32)
  // panels x in x 32 weights (zero-padded), then panels x 32 bias (zeros where the layer has
  // none); 64-byte aligned, on transparent huge pages when large (fewer page faults when
  // packing, fewer TLB misses when streaming).
  std::unique_ptr<float, Free> data;
  const float* weights() const { return data.get(); }
  const float* bias() const { return data.get() + panels * in * 32; }
};

// Packs `parts` weight matrices stacked along the output dimension (e.g. query, key, value
// into one [3·dim, in] layer). weights[i] is [outs[i], in]; biases[i] may be null.
PackedLinear pack_linear(int parts, const float* const* weights, const float* const* biases, const int64_t* outs,
                         int64_t in);
inline PackedLinear pack_linear(const float* weight, const float* bias, int64_t out, int64_t in) {
  return pack_linear(1, &weight, &bias, &out, in);
}

enum class Epilogue {
  None,          // y = x·Wᵀ + b
  Gelu,          // y = gelu(x·Wᵀ + b)  (erf form)
  AddResidual,   // y = y + (x·Wᵀ + b)  (y holds the residual on entry)
};

// x rows have stride ldx, y rows stride ldy; y must not alias x. With row_map, input row r
// goes to output row row_map[r] (-1: dropped), e.g. scattering window order back to the
// token grid while adding the residual.
void linear_packed(const float* x, int64_t rows, int64_t ldx, const PackedLinear& w, float* y, int64_t ldy,
                   Epilogue epilogue = Epilogue::None, const int64_t* row_map = nullptr);

// y[rows, out] = x · Wᵀ + bias on W in its checkpoint layout: one dot product per output
// (16-lane partial sums, then a fixed reduction tree), so a row's result does not depend on
// the other rows; W is streamed once per call (the text tower: a few rows per text).
// Returns false (and does nothing) when the CPU lacks AVX-512.
bool linear_rowwise_fast(const float* x, int64_t rows, int64_t in, const float* weight, const float* bias, int64_t out,
                          float* y);

// x = gelu(x) (erf form) with the AVX-512 kernels' arithmetic; false (and nothing done)
// without AVX-512.
bool gelu_fast(float* x, int64_t n);

// Kernel families, best first. The CPU's best is chosen at run time.
enum class KernelIsa { Avx512, Avx2, Generic };

// Which kernel linear_packed uses now ("avx512", "avx2" or "generic").
const char* packed_gemm_kernel();

// Tests: use at most this family (every family must be right). Avx512 = no limit.
void limit_kernels(KernelIsa isa);

}  // namespace clap
