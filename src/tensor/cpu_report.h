// What `clapsearch --version` says about the engine's CPU side: the instruction-set extensions
// this CPU has (checked at run time, as the kernels' dispatch does) and the kernel set it uses.
#pragma once
#include <string>

namespace clap {

// The extensions the kernels can use that this CPU has, space-separated and in dispatch order
// ("avx512f avx512bw avx512vnni avx512bf16 avx2 fma"; on ARM64 "asimd asimddp i8mm bf16"), or
// "baseline" when it has none of them.
std::string cpu_features();

// The kernel set the dispatch uses and why (core/isa.h): "avx2 (CLAPSEARCH_ISA=avx2 (the CPU
// has avx512))", "avx512 (the CPU's best (CLAPSEARCH_ISA not set))"; on ARM64 "neon (ARM64; int8
// with SDOT)".
std::string kernel_set();

}  // namespace clap
