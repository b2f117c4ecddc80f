// attention_head (tensor/ops.h) against a double-precision reference on every shape family its
// paths cover: register-blocked windows of 16..64 tokens with head sizes that are multiples of
// 16, 16·k + 8 (HTSAT-tiny's 24: half-width tail columns) or neither (zero-padded columns), and
// the plain loops for other window sizes; with and without the bias and the shift mask.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tensor/ops.h"

namespace clap {
namespace {

void reference_attention(const float* q, const float* k, const float* v, int64_t ld, int64_t n, int64_t hd, float scale,
                         const float* bias, const float* mask, double* out) {
  std::vector<double> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double mx = -1e300;
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t d = 0; d < hd; ++d) s += static_cast<double>(q[i * ld + d]) * k[j * ld + d];
      s = s * scale + (bias ? bias[i * n + j] : 0.0) + (mask ? mask[i * n + j] : 0.0);
      p[j] = s;
      mx = std::max(mx, s);
    }
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += p[j] = std::exp(p[j] - mx);
    for (int64_t d = 0; d < hd; ++d) {
      double o = 0;
      for (int64_t j = 0; j < n; ++j) o += p[j] / sum * v[j * ld + d];
      out[i * hd + d] = o;
    }
  }
}

TEST(Attention, MatchesDoublePrecisionOnEveryPath) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t n : {16, 32, 48, 49, 64})
    for (int64_t hd : {8, 12, 16, 24, 32, 40, 64})
      for (bool with_bias : {false, true})
        for (bool with_mask : {false, true}) {
          const int64_t heads = 3, dim = heads * hd, ld = 3 * dim, h = 2;  // the last head: its tail reads end at the row's end
          std::vector<float> qkv(static_cast<size_t>(n * ld)), bias(static_cast<size_t>(n * n)), mask(static_cast<size_t>(n * n));
          for (float& x : qkv) x = normal(rng);
          for (float& x : bias) x = 0.5f * normal(rng);
          for (size_t i = 0; i < mask.size(); ++i) mask[i] = (i % 7 == 3) ? -100.0f : 0.0f;
          const int64_t ld_out = dim + 5;
          std::vector<float> out(static_cast<size_t>(n * ld_out), 12345.0f);
          std::vector<float> scratch(static_cast<size_t>(attention_scratch_floats(n, hd)));
          const float* q = qkv.data() + h * hd;
          const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
          const float* b = with_bias ? bias.data() : nullptr;
          const float* m = with_mask ? mask.data() : nullptr;
          attention_head(q, q + dim, q + 2 * dim, ld, n, hd, scale, b, m, out.data() + h * hd, ld_out, scratch.data());
          std::vector<double> want(static_cast<size_t>(n * hd));
          reference_attention(q, q + dim, q + 2 * dim, ld, n, hd, scale, b, m, want.data());
          double worst = 0;
          for (int64_t i = 0; i < n; ++i)
            for (int64_t d = 0; d < hd; ++d)
              worst = std::max(worst, std::abs(out[i * ld_out + h * hd + d] - want[i * hd + d]));
          EXPECT_LT(worst, 2e-5) << "n " << n << " hd " << hd << " bias " << with_bias << " mask " << with_mask;
          // Nothing outside the head's columns is written.
          for (int64_t i = 0; i < n; ++i) {
            for (int64_t d = 0; d < h * hd; ++d) ASSERT_EQ(out[i * ld_out + d], 12345.0f) << "n " << n << " hd " << hd;
            for (int64_t d = (h + 1) * hd; d < ld_out; ++d) ASSERT_EQ(out[i * ld_out + d], 12345.0f) << "n " << n << " hd " << hd;
          }
        }
}

}  // namespace
}  // namespace clap
