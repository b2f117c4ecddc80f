// The duplicate rule (search/duplicates.h) on constructed window embeddings: exact and noisy
// copies, a copy shifted between grid points, a different song made of the very same windows in
// another order (identical track embedding: only the alignment can tell), a short track, a
// copy of half the length; grouping of pairs; the --threshold override; determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "search/duplicates.h"
#include "search/test_util.h"

namespace clap::search {
namespace {

constexpr int kDim = 32;
constexpr double kHop = 5;

std::vector<float> normalised(std::vector<float> v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(s));
  return v;
}

std::vector<float> row(const std::vector<float>& m, int i) { return {m.begin() + i * kDim, m.begin() + (i + 1) * kDim}; }

// a·x + b·y, normalised.
std::vector<float> mix(const std::vector<float>& x, double a, const std::vector<float>& y, double b) {
  std::vector<float> v(x.size());
  for (size_t i = 0; i < x.size(); ++i) v[i] = static_cast<float>(a * x[i] + b * y[i]);
  return normalised(v);
}

struct Library {
  std::vector<test::WindowSpec> windows;
  int64_t next_window = 1;
  std::map<int64_t, double> durations;
  void add(int64_t track, const std::vector<std::vector<float>>& embeddings, double first_start = 0) {
    for (size_t i = 0; i < embeddings.size(); ++i) {
      const double start = first_start + kHop * static_cast<double>(i);
      windows.push_back({next_window++, track, start, start + 10, embeddings[i]});
    }
    durations[track] = first_start + kHop * static_cast<double>(embeddings.size()) + 5;
  }
};

class Duplicates : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<float> song = test::random_unit(12, kDim, 7), noise = test::random_unit(12, kDim, 8);
    std::vector<std::vector<float>> a, noisy, shifted, reordered;
    for (int i = 0; i < 10; ++i) a.push_back(row(song, i));
    for (int i = 0; i < 10; ++i) noisy.push_back(mix(a[i], 1.0, row(noise, i), 0.02));  // a re-encode
    // 2 s later in the song: each window sits 40 % of the way to the next one.
    for (int i = 0; i < 9; ++i) shifted.push_back(mix(a[i], 0.6, a[i + 1], 0.4));
    shifted.push_back(a[9]);
    const int order[10] = {3, 7, 1, 9, 5, 0, 8, 2, 6, 4};  // no two neighbours kept together
    for (int i : order) reordered.push_back(a[i]);
    lib.add(1, a);
    lib.add(2, noisy);
    lib.add(3, shifted, 0);
    lib.add(4, reordered);
    lib.add(5, {a[0]});                                        // a single window: not measurable
    lib.add(6, {a.begin(), a.begin() + 5});                    // half of the song
    const std::vector<float> other = test::random_unit(10, kDim, 9);
    std::vector<std::vector<float>> b;
    for (int i = 0; i < 10; ++i) b.push_back(row(other, i));
    lib.add(7, b);
    catalog = std::make_unique<Catalog>(test::make_table(lib.windows));
    tracks = track_embeddings(*catalog);
  }

  std::vector<DuplicatePair> pairs(const DuplicateOptions& options = {}) const {
    return find_duplicate_pairs(
        *catalog, tracks, [&](int64_t id) { return lib.durations.at(id); }, kHop, options, {});
  }

  Library lib;
  std::unique_ptr<Catalog> catalog;
  Embeddings tracks;
};

TEST_F(Duplicates, CopiesAlignAndAnotherArrangementDoesNot) {
  const auto found = pairs();
  std::vector<std::pair<int64_t, int64_t>> ids;
  for (const auto& p : found) ids.emplace_back(p.a, p.b);
  // 1, 2 (noisy) and 3 (shifted) are one recording; 4 has the same windows in another order
  // (its track embedding equals 1's exactly), 5 is too short to align, 6 too short a copy.
  // 2 and 3, copies of each other through 1, are not compared again (copies16: each track's
  // walk goes past the copies known, so that many copies of one recording cost linear work):
  // the pairs link the group, and the group is the same.
  EXPECT_EQ(ids, (std::vector<std::pair<int64_t, int64_t>>{{1, 2}, {1, 3}}));
  EXPECT_EQ(group_pairs(found), (std::vector<std::vector<int64_t>>{{1, 2, 3}}));
  const double cos14 = [&] {
    double s = 0;
    for (int i = 0; i < kDim; ++i) s += double(tracks.row(0)[i]) * tracks.row(3)[i];
    return s;
  }();
  EXPECT_GT(cos14, 0.99999) << "the reordered song must look identical at the track level";
  for (const auto& p : found) {
    EXPECT_TRUE(p.alignment.measurable);
    EXPECT_GE(p.alignment.aligned, 0.9);
  }
  EXPECT_NEAR(found[0].alignment.offset_s, 0.0, 0.5);
  // Song 1's content at time t is at t − 2 s in the shifted file.
  EXPECT_NEAR(found[1].alignment.offset_s, -2.0, 1.0);
}

TEST_F(Duplicates, AlignmentOfDifferentSongsIsLow) {
  const Alignment reordered = align_tracks(*catalog, catalog->track_index(1), catalog->track_index(4), kHop);
  EXPECT_TRUE(reordered.measurable);
  EXPECT_LT(reordered.aligned, 0.5);
  const Alignment other = align_tracks(*catalog, catalog->track_index(1), catalog->track_index(7), kHop);
  EXPECT_LT(other.aligned, 0.5);
  EXPECT_FALSE(align_tracks(*catalog, catalog->track_index(1), catalog->track_index(5), kHop).measurable);
}

TEST_F(Duplicates, ThresholdReplacesTheWindowRule) {
  DuplicateOptions o;
  o.threshold = 0.99999;
  std::vector<std::pair<int64_t, int64_t>> ids;
  for (const auto& p : pairs(o)) ids.emplace_back(p.a, p.b);
  // Identical track embeddings pass an absolute threshold, whatever their windows say.
  EXPECT_NE(std::find(ids.begin(), ids.end(), std::make_pair<int64_t, int64_t>(1, 4)), ids.end());
  o.min_duration_ratio = 0.4;
  o.threshold = 0;
  ids.clear();
  for (const auto& p : pairs(o)) ids.emplace_back(p.a, p.b);
  EXPECT_NE(std::find(ids.begin(), ids.end(), std::make_pair<int64_t, int64_t>(1, 6)), ids.end())
      << "half of the song aligns once the duration ratio allows it";
}

TEST_F(Duplicates, DeterministicAndSymmetric) {
  const auto first = pairs(), second = pairs();
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].a, second[i].a);
    EXPECT_EQ(first[i].b, second[i].b);
    EXPECT_EQ(first[i].score, second[i].score);
    EXPECT_EQ(first[i].alignment.offset_s, second[i].alignment.offset_s);
  }
  // Asking from one track finds the same pairs that track is in.
  const auto of2 = find_duplicate_pairs(
      *catalog, tracks, [&](int64_t id) { return lib.durations.at(id); }, kHop, {}, {}, {2});
  ASSERT_EQ(of2.size(), 2u);
  EXPECT_EQ(of2[0].a, 1);
  EXPECT_EQ(of2[1].b, 3);
}

TEST(DuplicateGroups, ConnectedComponentsInIdOrder) {
  std::vector<DuplicatePair> pairs(4);
  pairs[0].a = 5, pairs[0].b = 9;
  pairs[1].a = 1, pairs[1].b = 2;
  pairs[2].a = 2, pairs[2].b = 7;
  pairs[3].a = 9, pairs[3].b = 12;
  const auto groups = group_pairs(pairs);
  EXPECT_EQ(groups, (std::vector<std::vector<int64_t>>{{1, 2, 7}, {5, 9, 12}}));
  EXPECT_TRUE(group_pairs({}).empty());
}

}  // namespace
}  // namespace clap::search
