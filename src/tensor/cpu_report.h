// What `clapsearch --version` says about the engine's CPU side: the instruction-set extensions
// this CPU has (checked at run time, as the kernels' dispatch does) and oneDNN's version.
#pragma once
#include <string>

namespace clap {

// The extensions the kernels can use that this CPU has, space-separated and in dispatch order
// ("avx512f avx512bw avx512vnni avx512bf16 avx2 fma"; on ARM64 "asimd asimddp i8mm bf16"), or
// "baseline" when it has none of them.
std::string cpu_features();

// oneDNN's run-time version ("3.0.0 (commit ...)").
std::string onednn_version();

}  // namespace clap
