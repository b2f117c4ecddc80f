#include "search/kernels.h"

#include "search/dot_kernels.h"

namespace clap::search {

void score_rows(int64_t nq, const float* queries, const float* base, const int64_t* rows, int64_t n, int64_t d,
                float* out) {
  const DotKernel kernel = dot_kernel();
  // Base rows two at a time (the AVX-512 kernel's block); the last one alone when n is odd.
  const int64_t pairs = (n + 1) / 2;
#pragma omp parallel for schedule(static) if (worth_threads(n * nq * d))
  for (int64_t p = 0; p < pairs; ++p) {
    const int64_t j = 2 * p;
    const int nrows = j + 1 < n ? 2 : 1;
    const float* two[2] = {base + (rows ? rows[j] : j) * d, nullptr};
    if (nrows == 2) two[1] = base + (rows ? rows[j + 1] : j + 1) * d;
    dots_with_rows(kernel, nq, queries, two, nrows, d, out + j, n);
  }
}

}  // namespace clap::search
