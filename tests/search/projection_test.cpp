// The library map: PCA to 2-D finds the directions of largest variance, with a fixed sign, and
// gives the same coordinates every time.
#include "search/projection.h"

#include <gtest/gtest.h>

#include <cmath>

namespace clap::search {
namespace {

// A 9×9 grid of points a·u + b·v in 16-d (u, v orthonormal, a = 3·(-4..4), b = -4..4): the
// spread along u is 3× that along v, and a and b are exactly uncorrelated.
Embeddings grid(std::vector<double>* a_of_row = nullptr) {
  Embeddings e;
  e.dim = 16;
  for (int i = -4; i <= 4; ++i)
    for (int j = -4; j <= 4; ++j) {
      const double a = 3.0 * i, b = j;
      std::vector<float> row(16, 0.0f);
      row[2] = static_cast<float>(a * 0.8);  // u = (0, 0, 0.8, 0.6, 0, ...)
      row[3] = static_cast<float>(a * 0.6);
      row[5] = static_cast<float>(b);        // v = e5
      e.data.insert(e.data.end(), row.begin(), row.end());
      e.ids.push_back(1000 + static_cast<int64_t>(e.ids.size()));
      if (a_of_row) a_of_row->push_back(a);
    }
  return e;
}

TEST(Projection, FindsTheWidestDirectionsWithAFixedSign) {
  std::vector<double> a;
  const Embeddings e = grid(&a);
  const Projection2D p = pca_2d(e);
  ASSERT_EQ(p.x.size(), 81u);
  EXPECT_EQ(p.ids, e.ids);
  // Variances 9:1, up to the float32 rounding of 0.8·a and 0.6·a in the stored vectors (~1e-8).
  EXPECT_NEAR(p.explained[0], 0.9, 1e-7);
  EXPECT_NEAR(p.explained[1], 0.1, 1e-7);
  EXPECT_NEAR(p.explained[0] + p.explained[1], 1.0, 1e-12);  // the data spans exactly two directions
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(p.x[i], a[i], 1e-6) << i;  // the first axis is +u
  const Projection2D again = pca_2d(e);
  EXPECT_EQ(again.x, p.x);
  EXPECT_EQ(again.y, p.y);
}

TEST(Projection, FewerThanTwoPointsSitAtTheOrigin) {
  Embeddings one = grid();
  one.ids.resize(1);
  one.data.resize(16);
  const Projection2D p = pca_2d(one);
  ASSERT_EQ(p.x.size(), 1u);
  EXPECT_EQ(p.x[0], 0.0);
  EXPECT_EQ(p.y[0], 0.0);
}

}  // namespace
}  // namespace clap::search
