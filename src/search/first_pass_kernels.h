// The kernels of the 8-bit first pass (search/quantized_tracks.h QuantizedTracks::dots), for
// tests: each sums the same exact integers, so every one gives the same bits, and a test runs
// them side by side in one process (CLAPSEARCH_ISA picks one set per process).
#pragma once
#include <optional>
#include <vector>

namespace clap::search {

enum class FirstPassKernel { Portable, Avx2, AvxVnni, Avx512Bw, Avx512Vnni };

// The kernels this CPU can run under the process's kernel set (core/isa.h), Portable first.
std::vector<FirstPassKernel> first_pass_kernels_here();
const char* first_pass_kernel_name(FirstPassKernel kernel);
// The kernel QuantizedTracks::dots uses from now on (nullopt: the best the kernel set allows).
void force_first_pass_kernel(std::optional<FirstPassKernel> kernel);

}  // namespace clap::search
