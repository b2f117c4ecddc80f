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

}  // namespace clap
