// The GEMM kernels behind every linear layer: exact shapes and tails, epilogues, and the
// property the batching relies on (a row's result never depends on the other rows).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/gemm.h"
#include "tensor/ops.h"

namespace clap {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// y = x·Wᵀ + b in double precision.
std::vector<double> reference(const std::vector<float>& x, int64_t rows, int64_t in, const std::vector<float>& w,
                              const std::vector<float>& b, int64_t out) {
  std::vector<double> y(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b[o];
      for (int64_t k = 0; k < in; ++k) s += double(x[r * in + k]) * w[o * in + k];
      y[r * out + o] = s;
    }
  return y;
}

// Runs the body with each kernel family this CPU can run (the best one, AVX2, generic).
class Kernels : public ::testing::TestWithParam<KernelIsa> {
 protected:
  void SetUp() override { limit_kernels(GetParam()); }
  void TearDown() override { limit_kernels(KernelIsa::Avx512); }
};

TEST_P(Kernels, PackedLinearMatchesDoublePrecisionOnEveryTailShape) {
  for (int64_t rows : {1, 5, 12, 13, 300})
    for (int64_t out : {1, 31, 32, 33, 100})
      for (int64_t in : {1, 17, 96}) {
        const auto x = random_floats(rows * in, 1), w = random_floats(out * in, 2), b = random_floats(out, 3);
        const PackedLinear p = pack_linear(w.data(), b.data(), out, in);
        std::vector<float> y(rows * out, -7.0f);
        linear_packed(x.data(), rows, in, p, y.data(), out);
        const auto ref = reference(x, rows, in, w, b, out);
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(y[i], ref[i], 1e-5 * (1 + std::sqrt(double(in))))
              << packed_gemm_kernel() << " rows " << rows << " out " << out << " in " << in << " at " << i;
      }
}

TEST_P(Kernels, RowsAreIndependentOfTheCallAndThreadCount) {
  const int64_t rows = 301, in = 200, out = 70;
  const auto x = random_floats(rows * in, 4), w = random_floats(out * in, 5), b = random_floats(out, 6);
  const PackedLinear p = pack_linear(w.data(), b.data(), out, in);
  std::vector<float> all(rows * out);
  linear_packed(x.data(), rows, in, p, all.data(), out);
  const int threads = omp_get_max_threads();
  for (int t : {1, 2}) {
    omp_set_num_threads(t);
    for (int64_t first : {0, 7, 150, 300}) {
      const int64_t count = std::min<int64_t>(rows - first, 1 + first % 13);
      std::vector<float> part(count * out);
      linear_packed(x.data() + first * in, count, in, p, part.data(), out);
      EXPECT_EQ(0, std::memcmp(part.data(), all.data() + first * out, part.size() * sizeof(float)))
          << packed_gemm_kernel() << " rows " << first << "+" << count << " threads " << t;
    }
  }
  omp_set_num_threads(threads);
}

TEST_P(Kernels, EpiloguesEqualTheSeparateSteps) {
  const int64_t rows = 40, in = 64, out = 48;
  const auto x = random_floats(rows * in, 7), w = random_floats(out * in, 8), b = random_floats(out, 9);
  const auto residual = random_floats(rows * out, 10);
  const PackedLinear p = pack_linear(w.data(), b.data(), out, in);
  std::vector<float> plain(rows * out), gelu(rows * out), added = residual;
  linear_packed(x.data(), rows, in, p, plain.data(), out);
  linear_packed(x.data(), rows, in, p, gelu.data(), out, Epilogue::Gelu);
  linear_packed(x.data(), rows, in, p, added.data(), out, Epilogue::AddResidual);
  std::vector<float> expect_gelu = plain;
  gelu_erf_inplace(expect_gelu.data(), static_cast<int64_t>(expect_gelu.size()));
  EXPECT_EQ(0, std::memcmp(gelu.data(), expect_gelu.data(), gelu.size() * sizeof(float)));
  for (size_t i = 0; i < added.size(); ++i) ASSERT_EQ(added[i], residual[i] + plain[i]) << i;
}

TEST_P(Kernels, StackedLayersEqualSeparateOnes) {
  const int64_t rows = 20, in = 40;
  const auto x = random_floats(rows * in, 11);
  const auto wq = random_floats(24 * in, 12), wk = random_floats(40 * in, 13), bq = random_floats(24, 14);
  const float* weights[2] = {wq.data(), wk.data()};
  const float* biases[2] = {bq.data(), nullptr};
  const int64_t outs[2] = {24, 40};
  const PackedLinear stacked = pack_linear(2, weights, biases, outs, in);
  const PackedLinear q = pack_linear(wq.data(), bq.data(), 24, in), k = pack_linear(wk.data(), nullptr, 40, in);
  std::vector<float> ys(rows * 64), yq(rows * 24), yk(rows * 40);
  linear_packed(x.data(), rows, in, stacked, ys.data(), 64);
  linear_packed(x.data(), rows, in, q, yq.data(), 24);
  linear_packed(x.data(), rows, in, k, yk.data(), 40);
  for (int64_t r = 0; r < rows; ++r) {
    EXPECT_EQ(0, std::memcmp(ys.data() + r * 64, yq.data() + r * 24, 24 * sizeof(float))) << r;
    EXPECT_EQ(0, std::memcmp(ys.data() + r * 64 + 24, yk.data() + r * 40, 40 * sizeof(float))) << r;
  }
}

TEST_P(Kernels, FewRowLinearMatchesDoublePrecision) {
  for (int64_t rows : {1, 3, 5, 16})
    for (int64_t out : {1, 6, 768})
      for (int64_t in : {7, 768}) {
        const auto x = random_floats(rows * in, 15), w = random_floats(out * in, 16), b = random_floats(out, 17);
        std::vector<float> y(rows * out);
        linear(x.data(), rows, in, w.data(), b.data(), out, y.data());
        const auto ref = reference(x, rows, in, w, b, out);
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(y[i], ref[i], 1e-5 * (1 + std::sqrt(double(in)))) << "rows " << rows << " out " << out << " in " << in;
      }
}

INSTANTIATE_TEST_SUITE_P(Gemm, Kernels, ::testing::Values(KernelIsa::Avx512, KernelIsa::Avx2, KernelIsa::Generic),
                         [](const auto& info) {
                           return info.param == KernelIsa::Avx512 ? "best_for_this_cpu"
                                  : info.param == KernelIsa::Avx2 ? "avx2_or_lower"
                                                                   : "generic";
                         });

}  // namespace
}  // namespace clap
