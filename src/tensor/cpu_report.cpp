#include "tensor/cpu_report.h"

#include "core/isa.h"
#if defined(__aarch64__)
#include "tensor/linear_neon.h"
#endif

namespace clap {

std::string cpu_features() {
  std::string out;
  auto add = [&](bool has, const char* name) {
    if (!has) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  // The same checks as the kernels' dispatch (tensor/linear.cpp), not the compiler's target.
#if defined(__x86_64__)
  add(__builtin_cpu_supports("avx512f"), "avx512f");
  add(__builtin_cpu_supports("avx512bw"), "avx512bw");
  add(__builtin_cpu_supports("avx512vnni"), "avx512vnni");
  add(__builtin_cpu_supports("avx512bf16"), "avx512bf16");
  add(cpu_has_amx_int8(), "amx-int8");  // the AVX-512 set's int8 tiles (and the OS lets this process use them)
  add(cpu_has_amx_bf16(), "amx-bf16");  // its bf16 tiles, likewise
  add(__builtin_cpu_supports("avx2"), "avx2");
  add(__builtin_cpu_supports("fma"), "fma");
  add(cpu_has_avx_vnni(), "avxvnni");  // the AVX2 set's int8 vpdpbusd
#elif defined(__aarch64__)
  // The kernel's names (/proc/cpuinfo "Features").
  const ArmFeatures& arm = arm_features();
  add(arm.asimd, "asimd");
  add(arm.dotprod, "asimddp");
  add(arm.i8mm, "i8mm");
  add(arm.bf16, "bf16");
#endif
  return out.empty() ? "baseline" : out;
}

std::string kernel_set() {
#if defined(__aarch64__)
  // The x86-64 levels of core/isa.h (CLAPSEARCH_ISA) do not apply here: every ARMv8-A CPU runs
  // the NEON kernels, and int8 uses SDOT where the CPU has the dot-product extension.
  return std::string("neon (ARM64; int8 with ") + (arm_features().dotprod ? "SDOT" : "widening multiplies") + ")";
#else
  return std::string(isa_level_name(isa_level())) + " (" + isa_level_reason() + ")";
#endif
}

}  // namespace clap
