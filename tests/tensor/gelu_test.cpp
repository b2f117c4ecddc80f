// gelu_erf_inplace (tensor/ops.h) against GELU in double precision on every kernel family: the
// AVX-512 kernels' 16-lane form, the AVX2 sets' 8-lane form (its own reciprocal step) and the
// portable loop. Lengths 1..40 reach every masked tail of both vector widths.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tensor/linear.h"
#include "tensor/ops.h"

namespace clap {
namespace {

TEST(Gelu, MatchesDoublePrecisionOnEveryKernelFamily) {
  std::vector<float> grid;
  for (float x = -9.0f; x <= 9.0f; x += 0.0137f) grid.push_back(x);
  for (float x : {0.0f, -0.0f, 1e-30f, -1e-30f, 50.0f, -50.0f, 3.9999f, 5.6568f, -5.6568f}) grid.push_back(x);
  for (KernelIsa isa : {KernelIsa::Avx512, KernelIsa::Avx2Vnni, KernelIsa::Avx2, KernelIsa::Generic}) {
    limit_kernels(isa);
    for (size_t length = 1; length <= 40; ++length) {
      for (size_t start = 0; start + length <= grid.size(); start += 97) {
        std::vector<float> y(grid.begin() + static_cast<std::ptrdiff_t>(start),
                             grid.begin() + static_cast<std::ptrdiff_t>(start + length));
        gelu_erf_inplace(y.data(), static_cast<int64_t>(y.size()));
        for (size_t i = 0; i < length; ++i) {
          const double x = grid[start + i];
          const double expect = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
          ASSERT_NEAR(y[i], expect, 1e-6 + 1e-6 * std::fabs(expect))
              << "x = " << x << ", family " << static_cast<int>(isa) << ", length " << length;
        }
      }
    }
  }
  limit_kernels(KernelIsa::Avx512);
}

}  // namespace
}  // namespace clap
