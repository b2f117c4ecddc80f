#include "search/kernels.h"

namespace clap::search {

void score_rows(int64_t nq, const float* queries, const float* base, const int64_t* rows, int64_t n, int64_t d,
                float* out) {
#pragma omp parallel for schedule(static) if (worth_threads(n * nq * d))
  for (int64_t j = 0; j < n; ++j) {
    const float* r = base + (rows ? rows[j] : j) * d;
    for (int64_t i = 0; i < nq; ++i) out[i * n + j] = dot(queries + i * d, r, d);
  }
}

}  // namespace clap::search
