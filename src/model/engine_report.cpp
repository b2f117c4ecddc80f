#include "model/engine_report.h"

#include "model/clap.h"
#include "tensor/cpu_report.h"

namespace clap {

EngineReport engine_report() {
  EngineReport r;
  r.cpu_features = cpu_features();
  r.kernel_set = kernel_set();
  r.kernel_fp32 = audio_gemm_kernel(Precision::F32);
  r.kernel_bf16 = audio_gemm_kernel(Precision::BF16);
  r.kernel_int8 = audio_gemm_kernel(Precision::I8);
  return r;
}

bool bf16_kernel_is_emulated(const std::string& kernel_bf16) {
  return kernel_bf16.find("as-f32") != std::string::npos || kernel_bf16 == "avx2-bf16";
}

bool int8_kernel_is_generic(const std::string& kernel_int8) { return kernel_int8.rfind("generic", 0) == 0; }

std::string precision_advice(const std::string& kernel_bf16, const std::string& kernel_int8) {
  const bool int8_native = kernel_int8.find("vnni") != std::string::npos ||
                           kernel_int8.find("dotprod") != std::string::npos;
  const bool int8_faster = int8_native || kernel_int8 == "avx2-int8";  // vpmaddwd: 0.86x fp32's time
  const bool bf16_emulated = bf16_kernel_is_emulated(kernel_bf16);
  std::string advice;
  if (int8_faster)
    advice = "int8 is the fastest here";
  else if (int8_kernel_is_generic(kernel_int8))
    advice = "fp32 is the fastest here (int8 has no integer kernel for this CPU and runs slower)";
  if (bf16_emulated)
    advice += std::string(advice.empty() ? "" : "; ") +
              "bf16 has no bfloat16 instruction here: its multiply-adds run in fp32 and it is no faster than fp32";
  else if (kernel_bf16.find("bf16") != std::string::npos)
    advice += std::string(advice.empty() ? "" : "; ") + "bf16 runs on bfloat16 instructions";
  return advice;
}

}  // namespace clap
