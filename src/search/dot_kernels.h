// clap::dot (core/vector_math.h) compiled for AVX2 and AVX-512, bit for bit: the scan kernel
// behind score_rows (search/kernels.h), so `similar` and `duplicates` (an all-pairs scan: one
// dot per pair of tracks) run faster while every score printed stays clap::dot's.
//
// Why the same bits: clap::dot is 16 float lanes, lane j += a[i + j] * b[i + j] (a rounded
// multiply, then a rounded add: baseline x86-64 has no FMA), the lanes folded pairwise (j + 8,
// + 4, + 2, + 1), then + the tail (the last d % 16 products, in order). Avx512 is one 16-lane
// register, Avx2 two 8-lane registers (lanes 0-7 and 8-15), each a separate multiply and add
// in the same operand order (dot_kernels.cpp is compiled with -ffp-contract=off, so the
// compiler cannot fuse them into an FMA, which rounds once and changes the bits), then the
// same fold and tail. IEEE addition and multiplication are exact functions of their operands,
// so the same operations in the same order give the same floats on any CPU (denormals,
// infinities and NaN included, under the thread's MXCSR as clap::dot runs under).
#pragma once
#include <cstdint>

namespace clap::search {

enum class DotKernel { Portable, Avx2, Avx512 };
const char* dot_kernel_name(DotKernel kernel);  // "portable", "avx2", "avx512"
// Whether this CPU runs `kernel` (Portable: always).
bool dot_kernel_available(DotKernel kernel);
// The best kernel within the kernel set core/isa.h allows (CLAPSEARCH_ISA), read once.
DotKernel dot_kernel();

// out[i * stride + r] = clap::dot(queries + i * d, rows[r], d) for i < nq, r < nrows: nq
// queries against a few rows (score_rows passes 2), which the wide kernels load once for four
// queries at a time (and AVX-512 each query chunk once for both rows).
void dots_with_rows(DotKernel kernel, int64_t nq, const float* queries, const float* const* rows, int nrows, int64_t d,
                    float* out, int64_t stride);

}  // namespace clap::search
