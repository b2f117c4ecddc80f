// The arithmetic every embedding and every score goes through, in one place.
//
// Their order of operations is a contract, not an implementation detail: a stored embedding
// is whatever l2_normalize_rows computes, and a reported score is whatever dot computes, so
// another order (a different lane count, reduction tree, FMA, or FAISS/GEMM, whose order
// depends on threads, batch shape and instruction set) would change printed numbers in the
// last bits between commands, runs or machines. Both are plain scalar code the compiler may
// vectorise without reassociating, built for baseline x86-64 (no FMA contraction, no
// per-CPU clones): the same bits on every x86-64 CPU and thread count.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace clap {

// a · b over d floats: 16 lane sums over the full chunks of 16, folded pairwise (lanes
// i + 8, then + 4, + 2, + 1), then + the sum of the tail (the last d % 16 products in order).
float dot(const float* a, const float* b, int64_t d);

// Each row x / max(||x||₂, 1e-12) in place (torch.nn.functional.normalize): the sum of squares
// in double, in order; its square root rounded to float; one float inverse; a multiply each.
void l2_normalize_rows(float* x, int64_t rows, int64_t cols);

// A track's embedding from its n window embeddings (n × dim): the float sum of the
// non-silent windows in window order (all windows when every one is silent, or silent is
// null), then l2_normalize_rows. The indexer stores it; `similar FILE`, `classify FILE`, `eval`
// and `embed` compute it for files outside the index, so a copy of an indexed file gets exactly
// its stored embedding.
std::vector<float> track_embedding(int64_t n, int dim, const float* windows, const uint8_t* silent);

}  // namespace clap
