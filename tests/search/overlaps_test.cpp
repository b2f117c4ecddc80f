// Shared passages (search/overlaps.h) on constructed window embeddings: a stretch of one track
// inside another at a known offset is found with both time ranges; unrelated tracks and a
// passage shorter than --min-length are not; each pair is reported once over the library.
#include <gtest/gtest.h>

#include "search/overlaps.h"
#include "search/test_util.h"

namespace clap::search {
namespace {

constexpr int kDim = 32;

std::vector<float> row(const std::vector<float>& m, int i) { return {m.begin() + i * kDim, m.begin() + (i + 1) * kDim}; }

class Overlaps : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto song = test::random_unit(10, kDim, 11), other = test::random_unit(20, kDim, 12);
    std::vector<test::WindowSpec> w;
    int64_t id = 1;
    auto add = [&](int64_t track, const std::vector<std::vector<float>>& e) {
      for (size_t i = 0; i < e.size(); ++i) w.push_back({id++, track, 5.0 * i, 5.0 * i + 10, e[i]});
    };
    std::vector<std::vector<float>> a, mix, unrelated;
    for (int i = 0; i < 10; ++i) a.push_back(row(song, i));
    for (int i = 0; i < 4; ++i) mix.push_back(row(other, i));        // 20 s of something else,
    for (int i = 2; i < 8; ++i) mix.push_back(row(song, i));         // then a's 10-45 s,
    for (int i = 4; i < 7; ++i) mix.push_back(row(other, i));        // then something else
    for (int i = 7; i < 17; ++i) unrelated.push_back(row(other, i));
    add(1, a);
    add(2, mix);
    add(3, unrelated);
    catalog = std::make_unique<Catalog>(test::make_table(w));
    index = VectorIndex::build(window_index_data(*catalog));
  }
  std::unique_ptr<Catalog> catalog;
  VectorIndex index;
};

TEST_F(Overlaps, FindsThePassageWithBothTimeRanges) {
  const auto found = find_overlaps(*catalog, index, 5, 10, {}, {1});
  ASSERT_EQ(found.size(), 1u);
  const Overlap& o = found[0];
  EXPECT_EQ(o.track_a, 1);
  EXPECT_EQ(o.track_b, 2);
  EXPECT_DOUBLE_EQ(o.a_start, 10);
  EXPECT_DOUBLE_EQ(o.a_end, 45);
  EXPECT_DOUBLE_EQ(o.b_start, 20);
  EXPECT_DOUBLE_EQ(o.b_end, 55);
  EXPECT_EQ(o.windows, 6);
  EXPECT_NEAR(o.score, 1.0, 1e-6);
}

TEST_F(Overlaps, EachPairOnceAndMinimumLength) {
  const auto all = find_overlaps(*catalog, index, 5, 10, {});
  ASSERT_EQ(all.size(), 1u) << "the mix asked about itself must not repeat the pair";
  EXPECT_EQ(all[0].track_a, 1);
  const auto from_mix = find_overlaps(*catalog, index, 5, 10, {}, {2});
  ASSERT_EQ(from_mix.size(), 1u);
  EXPECT_DOUBLE_EQ(from_mix[0].a_start, 20);
  EXPECT_DOUBLE_EQ(from_mix[0].b_start, 10);
  OverlapOptions longer;
  longer.min_length_s = 40;
  EXPECT_TRUE(find_overlaps(*catalog, index, 5, 10, longer, {1}).empty());
  EXPECT_TRUE(find_overlaps(*catalog, index, 5, 10, {}, {3}).empty());
}

}  // namespace
}  // namespace clap::search
