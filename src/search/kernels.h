// The one scoring kernel behind every score the search library reports.
//
// Why not FAISS or the GEMM for reported scores: their summation order depends on the thread
// count, the batch shape and the CPU's instruction set, so the same track could get a score that
// differs in the last bits between `search` and `analyze`, or between two machines. The numbers
// printed come from clap::dot (core/vector_math.h: a fixed summation order, 16 lanes, then a
// fixed pairwise reduction), so they are bit-identical whatever the threads or grouping. The
// exact and IVF scans of VectorIndex use it too (see vector_index.cpp for the measured reason).
#pragma once
#include <cstdint>

#include "core/vector_math.h"

namespace clap::search {

// Whether a job of `macs` multiply-adds is worth an OpenMP team. Small jobs (a single query
// over an IVF's probed lists, a few thousand tracks) run faster on the calling thread: waking
// a team costs microseconds on an idle machine and a scheduler time slice (several ms,
// measured) on a busy one, and a single-query scan is memory-bound anyway.
inline bool worth_threads(int64_t macs) { return macs >= (int64_t{1} << 27); }

// out[i * n + j] = queries[i] · base[rows ? rows[j] : j] for nq queries and n base rows of width d
// (row-major). Parallel over base rows when large; each output is clap::dot's float, bit for
// bit (computed by the CPU's kernel from search/dot_kernels.h), so the result depends on neither
// the thread count nor the instruction set.
void score_rows(int64_t nq, const float* queries, const float* base, const int64_t* rows, int64_t n, int64_t d,
                float* out);

}  // namespace clap::search
