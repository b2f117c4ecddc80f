// The kernels behind every linear layer (both weight layouts): exact shapes and tails,
// epilogues, and the property the batching relies on (a row's result never depends on the
// other rows).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/isa.h"
#include "tensor/linear.h"
#include "tensor/linear_kernels.h"
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

// A layer in the checkpoint's layout.
LinearWeights rows_layout(const std::vector<float>& w, const std::vector<float>& b, int64_t out, int64_t in) {
  return {in, out, WeightLayout::Rows, WeightType::F32, w.data(), b.empty() ? nullptr : b.data()};
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
        linear(x.data(), rows, in, p.view(), y.data(), out);
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
  linear(x.data(), rows, in, p.view(), all.data(), out);
  const int threads = omp_get_max_threads();
  for (int t : {1, 2}) {
    omp_set_num_threads(t);
    for (int64_t first : {0, 7, 150, 300}) {
      const int64_t count = std::min<int64_t>(rows - first, 1 + first % 13);
      std::vector<float> part(count * out);
      linear(x.data() + first * in, count, in, p.view(), part.data(), out);
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
  linear(x.data(), rows, in, p.view(), plain.data(), out);
  linear(x.data(), rows, in, p.view(), gelu.data(), out, Epilogue::Gelu);
  linear(x.data(), rows, in, p.view(), added.data(), out, Epilogue::AddResidual);
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
  linear(x.data(), rows, in, stacked.view(), ys.data(), 64);
  linear(x.data(), rows, in, q.view(), yq.data(), 24);
  linear(x.data(), rows, in, k.view(), yk.data(), 40);
  for (int64_t r = 0; r < rows; ++r) {
    EXPECT_EQ(0, std::memcmp(ys.data() + r * 64, yq.data() + r * 24, 24 * sizeof(float))) << r;
    EXPECT_EQ(0, std::memcmp(ys.data() + r * 64 + 24, yk.data() + r * 40, 40 * sizeof(float))) << r;
  }
  // The same stack from checkpoint-layout layers.
  const std::vector<float> no_bias;
  const LinearWeights parts[2] = {rows_layout(wq, bq, 24, in), rows_layout(wk, no_bias, 40, in)};
  const PackedLinear from_layers = pack_linear(parts);
  std::vector<float> yl(rows * 64);
  linear(x.data(), rows, in, from_layers.view(), yl.data(), 64);
  EXPECT_EQ(0, std::memcmp(yl.data(), ys.data(), ys.size() * sizeof(float)));
}

TEST_P(Kernels, FewRowLinearMatchesDoublePrecision) {
  for (int64_t rows : {1, 3, 5, 16})
    for (int64_t out : {1, 6, 768})
      for (int64_t in : {7, 768}) {
        const auto x = random_floats(rows * in, 15), w = random_floats(out * in, 16), b = random_floats(out, 17);
        std::vector<float> y(rows * out);
        linear(x.data(), rows, in, rows_layout(w, b, out, in), y.data(), out);
        const auto ref = reference(x, rows, in, w, b, out);
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(y[i], ref[i], 1e-5 * (1 + std::sqrt(double(in)))) << "rows " << rows << " out " << out << " in " << in;
      }
}

// The text tower runs all tokens of a batch of texts through one call: with weights in the
// checkpoint's layout, each row must come out exactly as when it is alone, at any row count.
TEST_P(Kernels, RowsLayoutManyRowsEqualOneRowAtATime) {
  const int64_t rows = 40, in = 300, out = 230;  // large enough to be split across threads
  const auto x = random_floats(rows * in, 18), w = random_floats(out * in, 19), b = random_floats(out, 20);
  const LinearWeights layer = rows_layout(w, b, out, in);
  std::vector<float> all(rows * out);
  linear(x.data(), rows, in, layer, all.data(), out);
  const int threads = omp_get_max_threads();
  for (int t : {1, 2}) {
    omp_set_num_threads(t);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> one(out);
      linear(x.data() + r * in, 1, in, layer, one.data(), out);
      EXPECT_EQ(0, std::memcmp(one.data(), all.data() + r * out, out * sizeof(float)))
          << packed_gemm_kernel() << " row " << r << " threads " << t;
    }
  }
  omp_set_num_threads(threads);
}

// Both layouts: row strides, the row map (scatter, -1 dropped) and the epilogues give exactly
// the plain result moved, activated or added.
TEST_P(Kernels, StridesRowMapAndEpiloguesOnBothLayouts) {
  const int64_t rows = 30, in = 50, out = 37, ldx = 53, ldy = 41;
  const auto x = random_floats(rows * ldx, 21), w = random_floats(out * in, 22), b = random_floats(out, 23);
  const auto residual = random_floats(rows * ldy, 24);
  const PackedLinear packed = pack_linear(w.data(), b.data(), out, in);
  std::vector<int64_t> row_map(rows);
  for (int64_t r = 0; r < rows; ++r) row_map[r] = r % 7 == 3 ? -1 : rows - 1 - r;  // reversed, some dropped
  for (const LinearWeights& layer : {rows_layout(w, b, out, in), packed.view()}) {
    SCOPED_TRACE(layer.layout == WeightLayout::Rows ? "rows layout" : "panels layout");
    std::vector<float> plain(rows * ldy, 0.0f);
    linear(x.data(), rows, ldx, layer, plain.data(), ldy);
    const auto ref = reference(
        [&] {
          std::vector<float> dense(rows * in);
          for (int64_t r = 0; r < rows; ++r) std::copy_n(x.data() + r * ldx, in, dense.data() + r * in);
          return dense;
        }(),
        rows, in, w, b, out);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o)
        ASSERT_NEAR(plain[r * ldy + o], ref[r * out + o], 1e-5 * (1 + std::sqrt(double(in)))) << r << " " << o;
    std::vector<float> gelu(rows * ldy, 0.0f), added = residual, mapped(rows * ldy, -7.0f);
    linear(x.data(), rows, ldx, layer, gelu.data(), ldy, Epilogue::Gelu);
    linear(x.data(), rows, ldx, layer, added.data(), ldy, Epilogue::AddResidual);
    linear(x.data(), rows, ldx, layer, mapped.data(), ldy, Epilogue::None, row_map.data());
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> expect_gelu(plain.begin() + r * ldy, plain.begin() + r * ldy + out);
      gelu_erf_inplace(expect_gelu.data(), out);
      EXPECT_EQ(0, std::memcmp(gelu.data() + r * ldy, expect_gelu.data(), out * sizeof(float))) << r;
      for (int64_t o = 0; o < out; ++o) ASSERT_EQ(added[r * ldy + o], residual[r * ldy + o] + plain[r * ldy + o]) << r;
      if (row_map[r] >= 0) {
        EXPECT_EQ(0, std::memcmp(mapped.data() + row_map[r] * ldy, plain.data() + r * ldy, out * sizeof(float))) << r;
      } else {
        for (int64_t o = 0; o < out; ++o) ASSERT_EQ(mapped[(rows - 1 - r) * ldy + o], -7.0f) << r;  // untouched
      }
    }
  }
}


// ---- BF16 panels ------------------------------------------------------------------------

TEST(Bf16, RoundingIsNearestEvenWithSignedZerosForDenormalsAndQuietNans) {
  const auto bits = [](uint32_t u) { return std::bit_cast<float>(u); };
  EXPECT_EQ(to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(to_bf16(bits(0x3F808000)), 0x3F80);  // halfway, even below
  EXPECT_EQ(to_bf16(bits(0x3F818000)), 0x3F82);  // halfway, even above
  EXPECT_EQ(to_bf16(bits(0x3F808001)), 0x3F81);  // above halfway
  EXPECT_EQ(to_bf16(-2.5f), 0xC020);
  EXPECT_EQ(to_bf16(bits(0x00000001)), 0x0000);  // denormal -> +0
  EXPECT_EQ(to_bf16(bits(0x807FFFFF)), 0x8000);  // denormal -> -0
  EXPECT_EQ(to_bf16(bits(0x7F800000)), 0x7F80);  // inf
  EXPECT_EQ(to_bf16(bits(0x7F7FFFFF)), 0x7F80);  // the largest float rounds to inf
  EXPECT_EQ(to_bf16(bits(0x7F800001)), 0x7FC0);  // signalling NaN -> quiet NaN
  EXPECT_EQ(from_bf16(0x3F80), 1.0f);
  // The vectorised form gives the same bits on random bit patterns of every class.
  std::mt19937 rng(7);
  std::vector<float> x(1037);
  for (auto& v : x) v = std::bit_cast<float>(static_cast<uint32_t>(rng()));
  for (KernelIsa isa : {KernelIsa::Avx512, KernelIsa::Generic}) {
    limit_kernels(isa);
    std::vector<uint16_t> out(x.size());
    to_bf16(x.data(), static_cast<int64_t>(x.size()), out.data());
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(out[i], to_bf16(x[i])) << i << " " << packed_gemm_kernel();
  }
  limit_kernels(KernelIsa::Avx512);
#if defined(__x86_64__)
  // Both AVX-512 forms where this CPU runs them: the integer steps, and vcvtneps2bf16 (which
  // to_bf16 above used if the CPU has AVX512-BF16).
  for (bool bf16_instructions : {false, true}) {
    if (!__builtin_cpu_supports("avx512f") || (bf16_instructions && !__builtin_cpu_supports("avx512bf16"))) continue;
    std::vector<uint16_t> out(x.size());
    detail::to_bf16_avx512(x.data(), static_cast<int64_t>(x.size()), out.data(), bf16_instructions);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(out[i], to_bf16(x[i])) << i << " native " << bf16_instructions;
  }
#endif
}

// What every BF16 kernel must compute, written out: per output, from the bias, for each pair
// of k: += x_odd·w_odd, then += x_even·w_even (fused steps), inputs and weights rounded.
std::vector<float> bf16_reference(const std::vector<float>& x, int64_t rows, int64_t in, const std::vector<float>& w,
                                  const std::vector<float>& b, int64_t out) {
  const auto r16 = [](float v) { return from_bf16(to_bf16(v)); };
  std::vector<float> y(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      float acc = b[o];
      for (int64_t k = 0; k < in; k += 2) {
        if (k + 1 < in) acc = std::fma(r16(x[r * in + k + 1]), r16(w[o * in + k + 1]), acc);
        acc = std::fma(r16(x[r * in + k]), r16(w[o * in + k]), acc);
      }
      y[r * out + o] = acc;
    }
  return y;
}

// Every family (AVX512-BF16's vdpbf16ps where the CPU has it, AVX-512F, AVX2 and generic
// float32 emulations) gives exactly the written-out sums, on every tail shape.
// (AMX-BF16's tiles add each 32-k step's products in their own order: the best family runs
// vdpbf16ps here, and Bf16.AmxTiles* below checks the tiles.)
TEST_P(Kernels, Bf16PanelsGiveTheExactBf16SumsOnEveryTailShape) {
  if (GetParam() == KernelIsa::Avx512) limit_kernels(KernelIsa::Avx512NoAmx);  // TearDown lifts it
  for (int64_t rows : {1, 5, 12, 13, 300})
    for (int64_t out : {1, 31, 32, 33, 100})
      for (int64_t in : {1, 2, 17, 96, 127}) {
        const auto x = random_floats(rows * in, 31), w = random_floats(out * in, 32), b = random_floats(out, 33);
        const PackedLinear p = pack_linear(w.data(), b.data(), out, in, WeightType::BF16);
        ASSERT_EQ(p.view().type, WeightType::BF16);
        std::vector<float> y(rows * out, -7.0f);
        LinearScratch scratch;
        linear(x.data(), rows, in, p.view(), y.data(), out, Epilogue::None, nullptr, &scratch);
        const auto ref = bf16_reference(x, rows, in, w, b, out);
        ASSERT_EQ(0, std::memcmp(y.data(), ref.data(), y.size() * sizeof(float)))
            << packed_gemm_kernel(WeightType::BF16) << " rows " << rows << " out " << out << " in " << in;
      }
}

// The same bits whichever family runs, also for epilogues, strides, the row map, inputs with
// denormals (flushed like vdpbf16ps flushes them) and either thread count; a row's result does
// not depend on the other rows.
TEST(Bf16, EveryKernelFamilyGivesTheSameBitsAndRowsAreIndependent) {
  const int64_t rows = 41, in = 77, out = 70, ldx = 80, ldy = 73;
  auto x = random_floats(rows * ldx, 41);
  for (size_t i = 0; i < x.size(); i += 13) x[i] *= 1e-39f;  // denormal inputs
  for (size_t i = 5; i < x.size(); i += 29) x[i] *= 3e-20f;  // products below the normal range
  const auto w = random_floats(out * in, 42), b = random_floats(out, 43), residual = random_floats(rows * ldy, 44);
  const PackedLinear p = pack_linear(w.data(), b.data(), out, in, WeightType::BF16);
  std::vector<int64_t> row_map(rows);
  for (int64_t r = 0; r < rows; ++r) row_map[r] = r % 5 == 2 ? -1 : rows - 1 - r;
  const int threads = omp_get_max_threads();
  std::vector<float> first_plain, first_added, first_mapped, first_gelu;
  for (KernelIsa isa : {KernelIsa::Avx512NoAmx, KernelIsa::Avx512F, KernelIsa::Avx2, KernelIsa::Generic})
    for (int t : {1, 2}) {
      limit_kernels(isa);
      omp_set_num_threads(t);
      SCOPED_TRACE(std::string(packed_gemm_kernel(WeightType::BF16)) + " threads " + std::to_string(t));
      std::vector<float> plain(rows * ldy, 0.0f), added = residual, mapped(rows * ldy, -7.0f), gelu(rows * ldy, 0.0f);
      linear(x.data(), rows, ldx, p.view(), plain.data(), ldy);
      linear(x.data(), rows, ldx, p.view(), added.data(), ldy, Epilogue::AddResidual);
      linear(x.data(), rows, ldx, p.view(), mapped.data(), ldy, Epilogue::None, row_map.data());
      linear(x.data(), rows, ldx, p.view(), gelu.data(), ldy, Epilogue::Gelu);
      for (int64_t r = 0; r < rows; r += 7) {  // a row alone
        std::vector<float> one(out);
        linear(x.data() + r * ldx, 1, ldx, p.view(), one.data(), out);
        ASSERT_EQ(0, std::memcmp(one.data(), plain.data() + r * ldy, out * sizeof(float))) << "row " << r;
      }
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<float> expect_gelu(plain.begin() + r * ldy, plain.begin() + r * ldy + out);
        gelu_erf_inplace(expect_gelu.data(), out);  // this family's GELU on the plain result
        ASSERT_EQ(0, std::memcmp(gelu.data() + r * ldy, expect_gelu.data(), out * sizeof(float))) << r;
        for (int64_t o = 0; o < out; ++o) ASSERT_EQ(added[r * ldy + o], residual[r * ldy + o] + plain[r * ldy + o]);
      }
      if (first_plain.empty()) {
        first_plain = plain, first_added = added, first_mapped = mapped;
      } else {
        EXPECT_EQ(0, std::memcmp(plain.data(), first_plain.data(), plain.size() * sizeof(float)));
        EXPECT_EQ(0, std::memcmp(added.data(), first_added.data(), added.size() * sizeof(float)));
        EXPECT_EQ(0, std::memcmp(mapped.data(), first_mapped.data(), mapped.size() * sizeof(float)));
      }
      if (isa == KernelIsa::Avx512NoAmx || isa == KernelIsa::Avx512F) {  // one GELU on every AVX-512 CPU
        if (first_gelu.empty()) first_gelu = gelu;
        EXPECT_EQ(0, std::memcmp(gelu.data(), first_gelu.data(), gelu.size() * sizeof(float)));
      }
    }
  limit_kernels(KernelIsa::Avx512);
  omp_set_num_threads(threads);
}

// AMX-BF16's tiles (where the CPU and Linux allow them), on shapes that are not whole tiles:
// rows not a multiple of 16, outputs not of 32, k not of 32 (the last step padded with zeros).
// tdpbf16ps adds each step's 32 products in an order the hardware fixes, so the check against
// the written-out sums (the same rounded inputs and weights, exact products, from the bias) is a
// bound: per output at most (steps + 8) float32 roundings of |bias| + Σ|products|. Sums whose
// every partial sum is exact (small integers) must come out exact.
TEST(Bf16, AmxTilesStayWithinRoundingOfTheExactSumsOnEveryTailShape) {
  if (!cpu_has_amx_bf16()) GTEST_SKIP() << "no AMX-BF16 on this CPU (the families above cover the rest)";
  EXPECT_STREQ(packed_gemm_kernel(WeightType::BF16), "avx512-amx-bf16");
  {
    limit_kernels(KernelIsa::Avx512NoAmx);  // tiles refused: vdpbf16ps, the written-out sums' bits
    EXPECT_STREQ(packed_gemm_kernel(WeightType::BF16), "avx512-bf16");
    limit_kernels(KernelIsa::Avx512);
  }
  const auto rounded = [](const std::vector<float>& v) {
    std::vector<double> r(v.size());
    for (size_t i = 0; i < v.size(); ++i) r[i] = from_bf16(to_bf16(v[i]));
    return r;
  };
  for (int64_t rows : {1, 15, 16, 17, 33, 100})
    for (int64_t out : {1, 17, 32, 33, 100})
      for (int64_t in : {1, 2, 17, 31, 32, 33, 96, 127, 512}) {
        const auto x = random_floats(rows * in, 31), w = random_floats(out * in, 32), b = random_floats(out, 33);
        const PackedLinear p = pack_linear(w.data(), b.data(), out, in, WeightType::BF16);
        std::vector<float> y(rows * out, -7.0f);
        linear(x.data(), rows, in, p.view(), y.data(), out);
        const double steps = static_cast<double>((in + 31) / 32);
        const auto xr = rounded(x), wr = rounded(w);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t o = 0; o < out; ++o) {
            double exact = b[o], magnitude = std::fabs(b[o]);
            for (int64_t k = 0; k < in; ++k) {
              const double product = xr[r * in + k] * wr[o * in + k];
              exact += product;
              magnitude += std::fabs(product);
            }
            ASSERT_LE(std::fabs(y[r * out + o] - exact), (steps + 8) * std::ldexp(magnitude, -24))
                << "rows " << rows << " out " << out << " in " << in << " at " << r << ", " << o;
          }
      }
  // Small integers: every partial sum is exact in float32 whatever the order.
  const int64_t rows = 45, in = 100, out = 40;
  std::vector<float> x(rows * in), w(out * in), b(out);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i * 7 % 9) - 4);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>(i * 5 % 7) - 3);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i) - 20.0f;
  const PackedLinear p = pack_linear(w.data(), b.data(), out, in, WeightType::BF16);
  std::vector<float> y(rows * out);
  linear(x.data(), rows, in, p.view(), y.data(), out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      float exact = b[o];
      for (int64_t k = 0; k < in; ++k) exact += x[r * in + k] * w[o * in + k];
      ASSERT_EQ(y[r * out + o], exact) << r << ", " << o;
    }
}

// The tiles' results depend on the row alone: a row alone equals the same row in any batch,
// either thread count, through every epilogue and a row map, bit for bit (each row takes the
// same 32-k steps from its bias wherever it sits: the rows of a last partial block are padded).
TEST(Bf16, AmxTilesGiveEachRowTheSameBitsInEveryBatchAndThreadCount) {
  if (!cpu_has_amx_bf16()) GTEST_SKIP() << "no AMX-BF16 on this CPU";
  const int64_t rows = 77, in = 200, out = 70, ldx = 203, ldy = 73;
  auto x = random_floats(rows * ldx, 51);
  for (size_t i = 0; i < x.size(); i += 13) x[i] *= 1e-39f;  // denormal inputs
  const auto w = random_floats(out * in, 52), b = random_floats(out, 53), residual = random_floats(rows * ldy, 54);
  const PackedLinear p = pack_linear(w.data(), b.data(), out, in, WeightType::BF16);
  std::vector<int64_t> row_map(rows);
  for (int64_t r = 0; r < rows; ++r) row_map[r] = r % 5 == 2 ? -1 : rows - 1 - r;
  const int threads = omp_get_max_threads();
  std::vector<float> first_plain;
  for (int t : {1, 2}) {
    omp_set_num_threads(t);
    SCOPED_TRACE("threads " + std::to_string(t));
    std::vector<float> plain(rows * ldy, 0.0f), added = residual, mapped(rows * ldy, -7.0f), gelu(rows * ldy, 0.0f);
    linear(x.data(), rows, ldx, p.view(), plain.data(), ldy);
    linear(x.data(), rows, ldx, p.view(), added.data(), ldy, Epilogue::AddResidual);
    linear(x.data(), rows, ldx, p.view(), mapped.data(), ldy, Epilogue::None, row_map.data());
    linear(x.data(), rows, ldx, p.view(), gelu.data(), ldy, Epilogue::Gelu);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> one(out);
      linear(x.data() + r * ldx, 1, ldx, p.view(), one.data(), out);
      ASSERT_EQ(0, std::memcmp(one.data(), plain.data() + r * ldy, out * sizeof(float))) << "row " << r;
      std::vector<float> expect_gelu(plain.begin() + r * ldy, plain.begin() + r * ldy + out);
      gelu_erf_inplace(expect_gelu.data(), out);
      ASSERT_EQ(0, std::memcmp(gelu.data() + r * ldy, expect_gelu.data(), out * sizeof(float))) << r;
      for (int64_t o = 0; o < out; ++o) ASSERT_EQ(added[r * ldy + o], residual[r * ldy + o] + plain[r * ldy + o]);
      if (row_map[r] >= 0) {
        ASSERT_EQ(0, std::memcmp(mapped.data() + row_map[r] * ldy, plain.data() + r * ldy, out * sizeof(float))) << r;
      }
    }
    for (int64_t start : {5, 16, 33}) {  // the rows from `start` on, as a batch of their own
      std::vector<float> part((rows - start) * ldy, 0.0f);
      linear(x.data() + start * ldx, rows - start, ldx, p.view(), part.data(), ldy);
      ASSERT_EQ(0, std::memcmp(part.data(), plain.data() + start * ldy, part.size() * sizeof(float))) << start;
    }
    if (first_plain.empty()) first_plain = plain;
    EXPECT_EQ(0, std::memcmp(plain.data(), first_plain.data(), plain.size() * sizeof(float)));
  }
  omp_set_num_threads(threads);
}

TEST(Bf16, PanelsTakeHalfTheBytesAndTheRowsLayoutIsRefused) {
  const int64_t out = 64, in = 256;
  const auto w = random_floats(out * in, 51), b = random_floats(out, 52);
  const PackedLinear f32 = pack_linear(w.data(), b.data(), out, in), bf16 = pack_linear(w.data(), b.data(), out, in, WeightType::BF16);
  EXPECT_EQ(f32.bytes(), size_t(out * in * 4 + out * 4));
  EXPECT_EQ(bf16.bytes(), size_t(out * in * 2 + out * 4));
  LinearWeights rows = rows_layout(w, b, out, in);
  rows.type = WeightType::BF16;
  std::vector<float> x(in, 1.0f), y(out);
  try {
    linear(x.data(), 1, in, rows, y.data(), out);
    FAIL() << "a bf16 rows layout has no kernel";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bf16"), std::string::npos) << e.what();
  }
}

// ---- I8 panels ---------------------------------------------------------------------------

const KernelIsa kEveryFamily[] = {KernelIsa::Avx512,   KernelIsa::Avx512NoAmx, KernelIsa::Avx512Bw, KernelIsa::Avx512F,
                                  KernelIsa::Avx2Vnni, KernelIsa::Avx2,        KernelIsa::Generic};

struct FamilyLimit {  // limit_kernels for a scope
  explicit FamilyLimit(KernelIsa isa) { limit_kernels(isa); }
  ~FamilyLimit() { limit_kernels(KernelIsa::Avx512); }
};

// What every I8 kernel must compute, written out from linear.h's formulas: weights per output
// (symmetric, 127 levels), inputs per row (asymmetric, 255 levels, 0 exact), exact integer
// sums corrected for the zero point, then y = fma(float(S), s·scale, bias).
std::vector<float> i8_reference(const std::vector<float>& x, int64_t rows, int64_t in, int64_t ldx,
                                const std::vector<float>& w_in, const std::vector<float>& b, int64_t out) {
  // Channel smoothing as linear.h describes it: s_k = 2^round(log2(median column max / column
  // max)) in [1, 2^10]; weights times s_k, inputs over s_k.
  std::vector<float> column(in, 0.0f), smoothing(in, 1.0f);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t k = 0; k < in; ++k) column[k] = std::max(column[k], std::fabs(w_in[o * in + k]));
  std::vector<float> sorted;
  for (float c : column)
    if (c > 0) sorted.push_back(c);
  std::sort(sorted.begin(), sorted.end());
  for (int64_t k = 0; k < in && !sorted.empty(); ++k)
    if (column[k] > 0 && column[k] < sorted[sorted.size() / 2])
      smoothing[k] = std::exp2(std::clamp(std::round(std::log2(sorted[sorted.size() / 2] / column[k])), 0.0f, 10.0f));
  std::vector<float> w(w_in);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t k = 0; k < in; ++k) w[o * in + k] *= smoothing[k];
  std::vector<int32_t> q(static_cast<size_t>(out * in));
  std::vector<float> w_scale(out);
  for (int64_t o = 0; o < out; ++o) {
    float amax = 0;
    for (int64_t k = 0; k < in; ++k) amax = std::max(amax, std::fabs(w[o * in + k]));
    w_scale[o] = amax / 127.0f;
    for (int64_t k = 0; k < in; ++k)
      q[o * in + k] = amax == 0 ? 0 : std::clamp(static_cast<int32_t>(std::nearbyint(w[o * in + k] * (127.0f / amax))), -127, 127);
  }
  std::vector<float> y(static_cast<size_t>(rows * out));
  std::vector<float> smoothed(in);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < in; ++k) smoothed[k] = x[r * ldx + k] / smoothing[k];
    const float* xr = smoothed.data();
    float lo = 0, hi = 0;
    for (int64_t k = 0; k < in; ++k) lo = std::min(lo, xr[k]), hi = std::max(hi, xr[k]);
    std::vector<int32_t> u(in, 0);
    float s = 0;
    int32_t z = 0;
    if (hi > lo) {
      const float inv = 255.0f / (hi - lo);
      s = (hi - lo) / 255.0f;
      z = std::clamp(static_cast<int32_t>(std::nearbyint(-lo * inv)), 0, 255);
      for (int64_t k = 0; k < in; ++k) u[k] = std::clamp(static_cast<int32_t>(std::nearbyint(xr[k] * inv)) + z, 0, 255);
    }
    for (int64_t o = 0; o < out; ++o) {
      int64_t sum = 0;
      for (int64_t k = 0; k < in; ++k) sum += int64_t{u[k] - z} * q[o * in + k];
      y[r * out + o] = std::fma(static_cast<float>(sum), s * w_scale[o], b[o]);
    }
  }
  return y;
}

// Every family (vpdpbusd, vpmaddwd on AVX-512BW and on AVX2, scalar) gives exactly the
// written-out result on every tail shape of rows (strips of 12, 6 and 2), outputs and k groups.
TEST(I8, PanelsGiveTheExactQuantisedSumsOnEveryTailShapeInEveryFamily) {
  for (KernelIsa isa : kEveryFamily) {
    FamilyLimit limit(isa);
    for (int64_t rows : {1, 2, 5, 7, 12, 13, 300})
      for (int64_t out : {1, 17, 32, 33, 100})
        for (int64_t in : {1, 3, 4, 5, 17, 96, 127}) {
          const auto x = random_floats(rows * in, 61), w = random_floats(out * in, 62), b = random_floats(out, 63);
          const PackedLinear p = pack_linear(w.data(), b.data(), out, in, WeightType::I8);
          ASSERT_EQ(p.view().type, WeightType::I8);
          std::vector<float> y(rows * out, -7.0f);
          LinearScratch scratch;
          linear(x.data(), rows, in, p.view(), y.data(), out, Epilogue::None, nullptr, &scratch);
          const auto ref = i8_reference(x, rows, in, in, w, b, out);
          ASSERT_EQ(0, std::memcmp(y.data(), ref.data(), y.size() * sizeof(float)))
              << packed_gemm_kernel(WeightType::I8) << " rows " << rows << " out " << out << " in " << in;
        }
  }
}

// The same bits whichever family runs, also for epilogues, strides, the row map and either
// thread count; a row's result does not depend on the other rows; all-zero rows give the bias.
TEST(I8, EveryKernelFamilyGivesTheSameBitsAndRowsAreIndependent) {
  const int64_t rows = 41, in = 77, out = 70, ldx = 80, ldy = 73;
  auto x = random_floats(rows * ldx, 71);
  std::fill_n(x.begin() + 4 * ldx, in, 0.0f);                   // an all-zero row
  for (int64_t k = 0; k < in; ++k) x[9 * ldx + k] = std::fabs(x[9 * ldx + k]);  // no negative inputs
  const auto w = random_floats(out * in, 72), b = random_floats(out, 73), residual = random_floats(rows * ldy, 74);
  const PackedLinear p = pack_linear(w.data(), b.data(), out, in, WeightType::I8);
  std::vector<int64_t> row_map(rows);
  for (int64_t r = 0; r < rows; ++r) row_map[r] = r % 5 == 2 ? -1 : rows - 1 - r;
  const int threads = omp_get_max_threads();
  std::vector<float> first_plain, first_added, first_mapped, first_gelu;
  for (KernelIsa isa : kEveryFamily)
    for (int t : {1, 2}) {
      FamilyLimit limit(isa);
      omp_set_num_threads(t);
      SCOPED_TRACE(std::string(packed_gemm_kernel(WeightType::I8)) + " threads " + std::to_string(t));
      std::vector<float> plain(rows * ldy, 0.0f), added = residual, mapped(rows * ldy, -7.0f), gelu(rows * ldy, 0.0f);
      linear(x.data(), rows, ldx, p.view(), plain.data(), ldy);
      linear(x.data(), rows, ldx, p.view(), added.data(), ldy, Epilogue::AddResidual);
      linear(x.data(), rows, ldx, p.view(), mapped.data(), ldy, Epilogue::None, row_map.data());
      linear(x.data(), rows, ldx, p.view(), gelu.data(), ldy, Epilogue::Gelu);
      const auto ref = i8_reference(x, rows, in, ldx, w, b, out);
      for (int64_t r = 0; r < rows; ++r)
        ASSERT_EQ(0, std::memcmp(plain.data() + r * ldy, ref.data() + r * out, out * sizeof(float))) << "row " << r;
      EXPECT_EQ(0, std::memcmp(plain.data() + 4 * ldy, b.data(), out * sizeof(float))) << "an all-zero row gives the bias";
      for (int64_t r = 0; r < rows; r += 7) {  // a row alone
        std::vector<float> one(out);
        linear(x.data() + r * ldx, 1, ldx, p.view(), one.data(), out);
        ASSERT_EQ(0, std::memcmp(one.data(), plain.data() + r * ldy, out * sizeof(float))) << "row " << r;
      }
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<float> expect_gelu(plain.begin() + r * ldy, plain.begin() + r * ldy + out);
        gelu_erf_inplace(expect_gelu.data(), out);  // this family's GELU on the plain result
        ASSERT_EQ(0, std::memcmp(gelu.data() + r * ldy, expect_gelu.data(), out * sizeof(float))) << r;
        for (int64_t o = 0; o < out; ++o) ASSERT_EQ(added[r * ldy + o], residual[r * ldy + o] + plain[r * ldy + o]);
        if (row_map[r] >= 0) {
          ASSERT_EQ(0, std::memcmp(mapped.data() + row_map[r] * ldy, plain.data() + r * ldy, out * sizeof(float))) << r;
        }
      }
      if (first_plain.empty()) {
        first_plain = plain, first_added = added, first_mapped = mapped;
      } else {
        EXPECT_EQ(0, std::memcmp(plain.data(), first_plain.data(), plain.size() * sizeof(float)));
        EXPECT_EQ(0, std::memcmp(added.data(), first_added.data(), added.size() * sizeof(float)));
        EXPECT_EQ(0, std::memcmp(mapped.data(), first_mapped.data(), mapped.size() * sizeof(float)));
      }
      if (isa != KernelIsa::Avx2Vnni && isa != KernelIsa::Avx2 && isa != KernelIsa::Generic) {  // one GELU on AVX-512
        if (first_gelu.empty()) first_gelu = gelu;
        EXPECT_EQ(0, std::memcmp(gelu.data(), first_gelu.data(), gelu.size() * sizeof(float)));
      }
    }
  omp_set_num_threads(threads);
}

// AMX's tiles (where the CPU has them: k in whole steps of 64, rows in blocks of 16 and 32,
// the rest of the rows on vpdpbusd) give the written-out result and vpdpbusd's bits, through
// every epilogue, a row map and either thread count.
TEST(I8, AmxTilesGiveTheExactQuantisedSumsAndVpdpbusdsBits) {
  if (!cpu_has_amx_int8()) GTEST_SKIP() << "no AMX int8 on this CPU (the families above cover the rest)";
  EXPECT_STREQ(packed_gemm_kernel(WeightType::I8), "avx512-amx-int8");
  {
    FamilyLimit limit(KernelIsa::Avx512NoAmx);
    EXPECT_STREQ(packed_gemm_kernel(WeightType::I8), "avx512-vnni-int8");
  }
  for (int64_t rows : {16, 17, 31, 32, 33, 48, 100, 300})
    for (int64_t out : {17, 32, 33, 100})
      for (int64_t in : {61, 64, 127, 128, 512}) {  // 61: 16 groups of 4, the last padded
        const auto x = random_floats(rows * in, 81), w = random_floats(out * in, 82), b = random_floats(out, 83);
        const PackedLinear p = pack_linear(w.data(), b.data(), out, in, WeightType::I8);
        std::vector<float> y(rows * out, -7.0f);
        linear(x.data(), rows, in, p.view(), y.data(), out);
        const auto ref = i8_reference(x, rows, in, in, w, b, out);
        ASSERT_EQ(0, std::memcmp(y.data(), ref.data(), y.size() * sizeof(float)))
            << "rows " << rows << " out " << out << " in " << in;
      }
  const int64_t rows = 77, in = 256, out = 70, ldx = 260, ldy = 73;
  const auto x = random_floats(rows * ldx, 91), w = random_floats(out * in, 92), b = random_floats(out, 93);
  const auto residual = random_floats(rows * ldy, 94);
  const PackedLinear p = pack_linear(w.data(), b.data(), out, in, WeightType::I8);
  std::vector<int64_t> row_map(rows);
  for (int64_t r = 0; r < rows; ++r) row_map[r] = r % 5 == 2 ? -1 : rows - 1 - r;
  const int threads = omp_get_max_threads();
  std::vector<std::vector<float>> first;
  for (KernelIsa isa : {KernelIsa::Avx512, KernelIsa::Avx512NoAmx})
    for (int t : {1, 2}) {
      FamilyLimit limit(isa);
      omp_set_num_threads(t);
      SCOPED_TRACE(std::string(packed_gemm_kernel(WeightType::I8)) + " threads " + std::to_string(t));
      std::vector<std::vector<float>> results;
      for (Epilogue e : {Epilogue::None, Epilogue::AddResidual, Epilogue::Gelu})
        for (bool mapped : {false, true}) {
          std::vector<float> y = e == Epilogue::AddResidual ? residual : std::vector<float>(rows * ldy, -7.0f);
          linear(x.data(), rows, ldx, p.view(), y.data(), ldy, e, mapped ? row_map.data() : nullptr);
          results.push_back(std::move(y));
        }
      if (first.empty()) first = results;
      for (size_t i = 0; i < results.size(); ++i)
        EXPECT_EQ(0, std::memcmp(results[i].data(), first[i].data(), first[i].size() * sizeof(float))) << "case " << i;
    }
  omp_set_num_threads(threads);
}

// The family limit reaches the AVX-VNNI kernel where the CPU has AVX-VNNI (so the two tests
// above check it), and the plain AVX2 kernel below it.
TEST(I8, AvxVnniFamilyRunsWhereTheCpuHasIt) {
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) GTEST_SKIP() << "no AVX2 on this CPU";
  {
    FamilyLimit limit(KernelIsa::Avx2Vnni);
    EXPECT_STREQ(packed_gemm_kernel(WeightType::I8), __builtin_cpu_supports("avxvnni") ? "avx2-vnni-int8" : "avx2-int8");
    EXPECT_STREQ(packed_gemm_kernel(WeightType::F32), "avx2");
    EXPECT_STREQ(packed_gemm_kernel(WeightType::BF16), "avx2-bf16");
  }
  FamilyLimit limit(KernelIsa::Avx2);
  EXPECT_STREQ(packed_gemm_kernel(WeightType::I8), "avx2-int8");
#else
  GTEST_SKIP() << "x86-64 only";
#endif
}

TEST(I8, PanelsTakeAQuarterOfTheBytesPlusScalesAndSums) {
  const int64_t out = 64, in = 256;
  const auto w = random_floats(out * in, 81), b = random_floats(out, 82);
  const PackedLinear i8 = pack_linear(w.data(), b.data(), out, in, WeightType::I8);
  // weights, then bias, scale, sum per output, then a multiplier per input
  EXPECT_EQ(i8.bytes(), size_t(out * in + 3 * out * 4 + in * 4));
  const PackedLinear odd = pack_linear(w.data(), b.data(), 33, 5, WeightType::I8);  // 2 panels, k padded to 8
  EXPECT_EQ(odd.bytes(), size_t(2 * 32 * 8 + 3 * 2 * 32 * 4 + 8 * 4));
  const LinearWeights v = i8.view();
  ASSERT_NE(v.scale, nullptr);
  ASSERT_NE(v.weight_sum, nullptr);
  ASSERT_NE(v.input_multiplier, nullptr);
  float amax = 0;
  for (int64_t k = 0; k < in; ++k) amax = std::max(amax, std::fabs(w[k] / v.input_multiplier[k]));
  EXPECT_EQ(v.scale[0], amax / 127.0f);
  EXPECT_STREQ(weight_type_name(WeightType::I8), "i8");
}

// Channel smoothing: a weight column 300x smaller than the others gets its inputs divided by
// 256 (the nearest power of two) and its weights multiplied by it; columns of ordinary size
// keep 1; all-zero columns keep 1.
TEST(I8, ChannelSmoothingScalesOnlyColumnsMuchSmallerThanTheMedian) {
  const int64_t out = 48, in = 40;
  auto w = random_floats(out * in, 83);
  const auto b = random_floats(out, 84);
  for (int64_t o = 0; o < out; ++o) {
    w[o * in + 7] /= 300.0f;
    w[o * in + 21] /= 3.0f;
    w[o * in + 30] = 0.0f;
  }
  const PackedLinear p = pack_linear(w.data(), b.data(), out, in, WeightType::I8);
  const float* m = p.view().input_multiplier;
  EXPECT_EQ(m[7], 1.0f / 256.0f);
  EXPECT_EQ(m[21], 0.25f);  // log2(3) = 1.58 rounds to 2
  EXPECT_EQ(m[30], 1.0f);
  int ones = 0;
  for (int64_t k = 0; k < in; ++k) {
    int e = 0;
    EXPECT_EQ(std::frexp(m[k], &e), 0.5f) << "a power of two at " << k;
    EXPECT_LE(m[k], 1.0f);
    ones += m[k] == 1.0f;
  }
  EXPECT_GE(ones, in - 6);
}

// Cosine of two vectors (double sums).
double cosine(const float* a, const double* b, int64_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; ++i) ab += a[i] * b[i], aa += double(a[i]) * a[i], bb += b[i] * b[i];
  return ab / std::sqrt(aa * bb);
}

// Trained transformers' activations carry a few channels hundreds of times larger than the
// rest; per-row scales are then set by those channels, and the others get a few levels. This
// measures (and prints) what that costs against float32 and bf16 on LayerNorm-like inputs
// (zero mean, unit spread) and GELU-like ones (mostly positive), with 0, 3 and 8 outlier
// channels of 100x and 300x, two ways: with plain weights (the outlier channels then dominate
// the outputs too), and with those weight columns divided by the same factor, so the layer
// computes the outlier-free function (trained models: a LayerNorm gain that large meets small
// weights). The second is the hard case, which per-input-channel smoothing (pack_linear) handles.
TEST(I8, OutlierChannelsErrorOfPerRowQuantisation) {
  const int64_t rows = 64, in = 384, out = 384;
  std::mt19937 rng(91);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(out * in), b(out, 0.0f);
  for (auto& v : w) v = normal(rng) * 0.05f;
  std::printf("%-5s %-11s %8s %5s %13s %13s %14s\n", "input", "weights", "outliers", "x", "i8 worst cos", "i8 mean err",
              "bf16 worst cos");
  for (bool gelu_like : {false, true})
    for (bool compensated : {false, true})
      for (int outliers : {0, 3, 8})
        for (float magnitude : {100.0f, 300.0f}) {
          if (outliers == 0 && (magnitude == 300.0f || compensated)) continue;
          std::vector<float> x(rows * in), wl = w;
          for (auto& v : x) {
            v = normal(rng);
            if (gelu_like) v = v > 0 ? v : 0.05f * v;  // GELU-like: positive, small negative tail
          }
          for (int c = 0; c < outliers; ++c) {
            const int64_t channel = (37 * c + 11) % in;
            for (int64_t r = 0; r < rows; ++r) x[r * in + channel] *= magnitude;
            if (compensated)
              for (int64_t o = 0; o < out; ++o) wl[o * in + channel] /= magnitude;
          }
          const PackedLinear i8 = pack_linear(wl.data(), b.data(), out, in, WeightType::I8);
          const PackedLinear bf16 = pack_linear(wl.data(), b.data(), out, in, WeightType::BF16);
          const auto ref = reference(x, rows, in, wl, b, out);
          std::vector<float> yi(rows * out), yb(rows * out);
          linear(x.data(), rows, in, i8.view(), yi.data(), out);
          linear(x.data(), rows, in, bf16.view(), yb.data(), out);
          double worst_i8 = 1, worst_bf16 = 1, relerr = 0;
          for (int64_t r = 0; r < rows; ++r) {
            worst_i8 = std::min(worst_i8, cosine(yi.data() + r * out, ref.data() + r * out, out));
            worst_bf16 = std::min(worst_bf16, cosine(yb.data() + r * out, ref.data() + r * out, out));
            double e = 0, n = 0;
            for (int64_t o = 0; o < out; ++o)
              e += std::pow(yi[r * out + o] - ref[r * out + o], 2), n += std::pow(ref[r * out + o], 2);
            relerr += std::sqrt(e / n) / rows;
          }
          std::printf("%-5s %-11s %8d %5.0f %13.6f %13.6f %14.6f\n", gelu_like ? "gelu" : "ln",
                      compensated ? "compensated" : "plain", outliers, outliers ? magnitude : 1.0f, worst_i8, relerr,
                      worst_bf16);
          // Outliers that dominate the output are cheap; compensated ones are what channel
          // smoothing (pack_linear) is for (before it: worst cosine 0.25-0.94).
          EXPECT_GE(worst_i8, 0.999) << (gelu_like ? "gelu-like" : "ln-like") << (compensated ? ", compensated" : "");
        }
}

INSTANTIATE_TEST_SUITE_P(Gemm, Kernels, ::testing::Values(KernelIsa::Avx512, KernelIsa::Avx512F, KernelIsa::Avx2, KernelIsa::Generic),
                         [](const auto& info) {
                           return info.param == KernelIsa::Avx512    ? "best_for_this_cpu"
                                  : info.param == KernelIsa::Avx512F ? "avx512_foundation_only"
                                  : info.param == KernelIsa::Avx2 ? "avx2_or_lower"
                                                                   : "generic";
                         });

}  // namespace
}  // namespace clap
