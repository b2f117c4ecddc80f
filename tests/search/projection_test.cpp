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

TEST(Projection, OtherVectorsArePlacedWithTheFittedMeanAndAxes) {
  std::vector<double> a;
  const Embeddings e = grid(&a);
  const Projection2D p = pca_2d(e);
  ASSERT_EQ(p.mean.size(), 16u);
  ASSERT_EQ(p.axes[0].size(), 16u);
  // A fitted vector lands exactly where the map put it.
  for (int64_t r = 0; r < e.size(); ++r) {
    const Point2D q = project(p, e.row(r));
    EXPECT_EQ(q.x, p.x[static_cast<size_t>(r)]) << r;
    EXPECT_EQ(q.y, p.y[static_cast<size_t>(r)]) << r;
  }
  // A new one: 2.5u - 1.5v sits at (2.5, -1.5) up to the sign of the second axis; the grid's
  // mean is 0, so the offset along e7 (orthogonal to both axes) does not move it.
  std::vector<float> v(16, 0.0f);
  v[2] = 2.5f * 0.8f;
  v[3] = 2.5f * 0.6f;
  v[5] = -1.5f;
  v[7] = 4.0f;
  const Point2D q = project(p, v.data());
  EXPECT_NEAR(q.x, 2.5, 1e-6);
  EXPECT_NEAR(std::abs(q.y), 1.5, 1e-6);
  const double sign_v = p.axes[1][5] > 0 ? 1 : -1;  // the second axis is ±e5
  EXPECT_NEAR(q.y, -1.5 * sign_v, 1e-6);
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
