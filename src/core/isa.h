// The one place that decides which x86-64 kernel set the engine's run-time dispatch may choose.
//
// Levels (nested): Avx512 (AVX-512 Foundation, and whichever later AVX-512 extensions the CPU
// has), Avx2 (AVX2 with FMA: Haswell and later, Zen), Baseline (x86-64 as the binary is
// compiled: SSE2). The chosen level is the CPU's best, capped by the environment variable
// CLAPSEARCH_ISA=avx512|avx2-vnni|avx2|baseline when it is set. Within Avx2, AVX-VNNI (the VEX
// vpdpbusd of Alder Lake and later Core CPUs and Intel N100) is an extension the int8 kernel uses when
// the CPU has it: `avx2-vnni` allows it, `avx2` runs plain AVX2 as Haswell-Skylake and Zen 2/3 do. Every dispatch site (tensor/linear.cpp,
// tensor/ops.cpp, search/quantized_tracks.cpp) asks isa_level(), so a cap
// holds for every command: forcing the AVX2 or baseline path on an AVX-512 machine measures and
// tests the paths other CPUs run. Asking for more than the CPU has is an error (it would SIGILL).
// Outside the engine's own kernels: oneDNN (bench's comparison only) and FAISS (vector
// indexes) dispatch on their own; they are not capped (docs/design.md, "Kernel sets").
#pragma once
#include <string>

namespace clap {

enum class IsaLevel { Baseline = 0, Avx2 = 1, Avx512 = 2 };

const char* isa_level_name(IsaLevel level);  // "baseline", "avx2", "avx512"

// The best level this CPU supports (cpuid, as __builtin_cpu_supports reads it).
IsaLevel cpu_isa_level();

// Whether the CPU has AVX-VNNI (the VEX vpdpbusd of AVX2 machines without AVX-512: Alder Lake
// and later Core, N100), which the avx2 level's int8 kernel may use.
bool cpu_has_avx_vnni();

// Whether the CPU has AMX with int8 tiles (AMX-TILE and AMX-INT8: Sapphire Rapids and later
// Xeons), the OS saves the tile state, and (Linux) the process was allowed to use it: the
// first call asks the kernel for permission (ARCH_REQ_XCOMP_PERM) once for the whole process.
// The Avx512 level's int8 GEMM uses it; its integer sums are vpdpbusd's.
bool cpu_has_amx_int8();

// The same for AMX-BF16 (tdpbf16ps: bfloat16 tiles with float32 sums): the Avx512 level's bf16
// GEMM uses it. Its sums are its own (an order inside each 32-k step that the hardware fixes),
// not vdpbf16ps's: tensor/linear.h.
bool cpu_has_amx_bf16();

// The level every dispatch uses: the CPU's best, capped by CLAPSEARCH_ISA (read once).
// Throws clap::Error with isa_environment_error()'s message when the variable is invalid.
IsaLevel isa_level();

// "" when CLAPSEARCH_ISA is unset or valid for this CPU; otherwise the message to stop with
// (naming the variable, its value and what the CPU has). Commands call it at startup.
std::string isa_environment_error();

// Why isa_level() is what it is, for doctor and --version: "the CPU's best (CLAPSEARCH_ISA not
// set)" or "CLAPSEARCH_ISA=avx2 (the CPU has avx512)".
std::string isa_level_reason();

// Whether the Avx2 level's int8 kernel may use AVX-VNNI: the CPU has it and CLAPSEARCH_ISA is
// unset, avx512 or avx2-vnni (not avx2, which measures and tests what CPUs without it run).
bool isa_allows_avx_vnni();

}  // namespace clap
