// The shared vector math with a fixed order of operations. Every score the library reports
// and every embedding it stores comes from these functions, so the same inputs give the same
// bits on every run, thread count and grouping.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace clap {

// a · b over d floats: 16 lanes over the full 16-float chunks, folded pairwise (8, 4, 2, 1),
// then the tail added. The contract for every reported score.
float dot(const float* a, const float* b, int64_t d);

// Each row divided by its L2 norm: the sum of squares in double, the inverse of
// max(norm, 1e-12) in float, one multiply per value (torch.nn.functional.normalize). The
// contract for every stored embedding.
void l2_normalize_rows(float* x, int64_t rows, int64_t cols);

// A track's embedding from its n window embeddings (n × dim): the float sum of the
// non-silent windows in window order (all windows when every one is silent, or silent is
// null), L2-normalised. The indexer stores it; `similar FILE`, `classify FILE` and `embed`
// compute it for files outside the index, so a copy of an indexed file gets exactly its
// stored embedding.
std::vector<float> track_embedding(int64_t n, int dim, const float* windows, const uint8_t* silent);

}  // namespace clap
