// What the engine will run on this CPU, for `clapsearch --version`: the CPU's extensions, the
// GEMM kernel each precision dispatches to (oneDNN's version, for the benchmark comparison only, is
// bench/onednn.h's).
#pragma once
#include <string>

namespace clap {

struct EngineReport {
  std::string cpu_features;  // "avx512f avx512bw ... fma", or "baseline"
  std::string kernel_set;    // tensor/cpu_report.h's kernel_set(): "avx2 (CLAPSEARCH_ISA=avx2 ...)"
  std::string kernel_fp32, kernel_bf16, kernel_int8;  // audio_gemm_kernel(...) of each precision
};

EngineReport engine_report();

// Which precision to pick on this CPU, from the kernels each would run (one sentence, for
// doctor): where bf16 or int8 has no instruction of its own here it is emulated and slower than
// fp32 (measured: docs/performance.md, "Forced kernel sets").
std::string precision_advice(const std::string& kernel_bf16, const std::string& kernel_int8);

// The kernels (audio_gemm_kernel) on which a precision has no instructions of its own here: bf16
// computing its multiply-adds in fp32 (no faster than fp32), int8 on the generic kernel (slower
// than fp32). `--precision auto` does not measure such a precision (service/precision_choice.h).
bool bf16_kernel_is_emulated(const std::string& kernel_bf16);
bool int8_kernel_is_generic(const std::string& kernel_int8);

}  // namespace clap
