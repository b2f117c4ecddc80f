// The separation figures of `clapsearch map` on cases small enough to work out by hand: the
// leave-one-out k-NN vote (ties to the class met first, equal distances in item order), items
// without a class left out, the same figures in the full (cosine) space, zero-shot accuracy
// against class anchors, and chance.
#include "search/separation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

namespace clap::search {
namespace {

// Five points on a line (classes A = 0, B = 1), and one without a class sitting next to the
// first (it must not vote, nor be scored).
//   x:     0    1    2.5  3    10   0.2
//   class: A    A    B    B    A    -
const std::vector<double> kX = {0, 1, 2.5, 3, 10, 0.2};
const std::vector<double> kY(6, 0.0);
const std::vector<int> kClasses = {0, 0, 1, 1, 0, -1};

TEST(Separation, KnnOnTheMapWorkedOutByHand) {
  // k = 1: each point's nearest other point: 0->1 A ok, 1->0 A ok, 2->3 B ok, 3->2 B ok, 4->3 B wrong.
  EXPECT_DOUBLE_EQ(knn_accuracy_2d(kX.data(), kY.data(), 6, kClasses, 1), 4.0 / 5);
  // k = 2: 0: A,B tie -> nearest A ok; 1: A,B -> A ok; 2: B,A -> B ok; 3: B,A -> B ok; 4: B,B wrong.
  EXPECT_DOUBLE_EQ(knn_accuracy_2d(kX.data(), kY.data(), 6, kClasses, 2), 4.0 / 5);
  // k = 3: 0: A B B wrong; 1: A B B wrong; 2: B A A wrong; 3: B A A wrong; 4: B B A wrong.
  EXPECT_DOUBLE_EQ(knn_accuracy_2d(kX.data(), kY.data(), 6, kClasses, 3), 0.0);
  // k = 5 is cut to the 4 other points: 0: A B B A tie -> A ok; 1: A B B A -> A ok;
  // 2: B A A A wrong; 3: B A A A wrong; 4: B B A A tie -> B wrong.
  EXPECT_DOUBLE_EQ(knn_accuracy_2d(kX.data(), kY.data(), 6, kClasses, 5), 2.0 / 5);
}

TEST(Separation, ATieGoesToTheClassMetFirstAndEqualDistancesGoInItemOrder) {
  // x: 0 (C), 1 (C), 2 (B), 3 (A); classes A = 0, B = 1, C = 2; k = 3 (every other point).
  //   item 0: neighbours C B A, one vote each -> C (met first): right.
  //   item 1: items 0 and 2 are both at distance 1, item 0 first: C B A -> C: right.
  //   item 2: C (1), A (3) at distance 1, then C (0): C has two votes: wrong.
  //   item 3: B, C, C -> C: wrong.
  // (Ties to the lowest class index would give 0; equal distances in reverse order, 0.25.)
  const std::vector<double> x = {0, 1, 2, 3}, y(4, 0.0);
  const std::vector<int> classes = {2, 2, 1, 0};
  EXPECT_DOUBLE_EQ(knn_accuracy_2d(x.data(), y.data(), 4, classes, 3), 0.5);
}

// The line case as unit vectors in 3-D: point x at angle 10°·x in the first two coordinates, so
// cosine order is distance order.
std::vector<float> on_circle(const std::vector<double>& x) {
  std::vector<float> rows;
  for (double v : x) {
    const double a = v * 10 * std::numbers::pi / 180;
    rows.push_back(static_cast<float>(std::cos(a)));
    rows.push_back(static_cast<float>(std::sin(a)));
    rows.push_back(0.0f);
  }
  return rows;
}

TEST(Separation, KnnInTheFullSpaceByCosine) {
  const std::vector<float> rows = on_circle(kX);
  EXPECT_DOUBLE_EQ(knn_accuracy_cosine(rows.data(), 6, 3, kClasses, 1), 4.0 / 5);
  EXPECT_DOUBLE_EQ(knn_accuracy_cosine(rows.data(), 6, 3, kClasses, 2), 4.0 / 5);
  EXPECT_DOUBLE_EQ(knn_accuracy_cosine(rows.data(), 6, 3, kClasses, 3), 0.0);
  EXPECT_DOUBLE_EQ(knn_accuracy_cosine(rows.data(), 6, 3, kClasses, 5), 2.0 / 5);
}

TEST(Separation, ZeroShotAgainstClassAnchorsAndChance) {
  // Anchors: A along e1, B along e2. Tracks: e1 (A), 0.8e1+0.6e2 (A), 0.6e1+0.8e2 (A: nearer B,
  // wrong), e2 (B), e3 (no class).
  const std::vector<float> rows = {1, 0, 0, 0.8f, 0.6f, 0, 0.6f, 0.8f, 0, 0, 1, 0, 0, 0, 1};
  const std::vector<int> classes = {0, 0, 0, 1, -1};
  const std::vector<float> anchors = {1, 0, 0, 0, 1, 0};
  EXPECT_DOUBLE_EQ(nearest_anchor_accuracy(rows.data(), 5, 3, classes, anchors.data(), 2), 3.0 / 4);
  // A tie between anchors goes to the lower class: (e1+e2)/√2 labelled B is wrong.
  const float h = static_cast<float>(1 / std::sqrt(2.0));
  const std::vector<float> tie = {h, h, 0};
  EXPECT_DOUBLE_EQ(nearest_anchor_accuracy(tie.data(), 1, 3, {1}, anchors.data(), 2), 0.0);
  EXPECT_DOUBLE_EQ(nearest_anchor_accuracy(tie.data(), 1, 3, {0}, anchors.data(), 2), 1.0);
  EXPECT_DOUBLE_EQ(majority_share(classes), 3.0 / 4);
  EXPECT_DOUBLE_EQ(majority_share({2, 1, 1, -1, 2, 2, 0}), 3.0 / 6);
}

TEST(Separation, UndefinedWithoutTwoItemsWithAClass) {
  const std::vector<double> x = {0, 1, 2}, y(3, 0.0);
  const std::vector<float> rows = on_circle(x);
  EXPECT_TRUE(std::isnan(knn_accuracy_2d(x.data(), y.data(), 3, {0, -1, -1}, 5)));
  EXPECT_TRUE(std::isnan(knn_accuracy_cosine(rows.data(), 3, 3, {-1, -1, 1}, 5)));
  EXPECT_TRUE(std::isnan(majority_share({-1, -1})));
  EXPECT_TRUE(std::isnan(nearest_anchor_accuracy(rows.data(), 3, 3, {-1, -1, -1}, rows.data(), 1)));
  // Two items: each one's only neighbour votes.
  EXPECT_DOUBLE_EQ(knn_accuracy_2d(x.data(), y.data(), 3, {0, 0, -1}, 5), 1.0);
  EXPECT_DOUBLE_EQ(knn_accuracy_2d(x.data(), y.data(), 3, {0, 1, -1}, 5), 0.0);
}

}  // namespace
}  // namespace clap::search
