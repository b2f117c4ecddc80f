// Song to song (similar, matrix) and batch analysis statistics on constructed embeddings.
#include <gtest/gtest.h>

#include <cmath>

#include "search/analyze.h"
#include "search/similar.h"
#include "test_util.h"

namespace clap::search {
namespace {

using test::e;
using test::h;
using test::scored;

// T1 = e0, T2 = (½,½,½,½), T3 = e1, T4 = (½,½,½,-½), T5 = -e0.
Embeddings tracks() {
  Embeddings t;
  t.dim = 4;
  t.ids = {1, 2, 3, 4, 5};
  for (const auto& v : {e(0), h(1, 1, 1, 1), e(1), h(1, 1, 1, -1), std::vector<float>{-1, 0, 0, 0}})
    t.data.insert(t.data.end(), v.begin(), v.end());
  return t;
}

TEST(Similar, ExcludesTheQueryTrackAndBreaksTiesById) {
  const auto r = similar_to_track(tracks(), 1, 10);
  // T2 0.5, T4 0.5 (tie -> 2 first), T3 0, T5 -1; T1 itself excluded.
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].id, 2);
  EXPECT_EQ(r[1].id, 4);
  EXPECT_EQ(r[2].id, 3);
  EXPECT_EQ(r[3].id, 5);
  EXPECT_DOUBLE_EQ(r[0].score, 0.5);
  EXPECT_DOUBLE_EQ(r[2].score, 0.0);
  EXPECT_DOUBLE_EQ(r[3].score, -1.0);
  EXPECT_EQ(similar_to_track(tracks(), 1, 2).size(), 2u);
  EXPECT_THROW(similar_to_track(tracks(), 99, 3), Error);
}

TEST(Similar, AFileQueryIsNotExcluded) {
  const auto q = e(1);
  const auto r = similar(tracks(), 1, q.data(), nullptr, 2)[0];
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].id, 3);  // identical vector, cosine 1
  EXPECT_DOUBLE_EQ(r[0].score, 1.0);
  EXPECT_EQ(r[1].id, 2);
}

TEST(Matrix, SymmetricWithOnesOnTheDiagonal) {
  const SimilarityMatrix m = similarity_matrix(tracks());
  ASSERT_EQ(m.ids.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(m.at(i, i), 1.0);
    for (size_t j = 0; j < 5; ++j) EXPECT_EQ(m.at(i, j), m.at(j, i));
  }
  EXPECT_DOUBLE_EQ(m.at(0, 1), 0.5);
  EXPECT_DOUBLE_EQ(m.at(0, 4), -1.0);
  EXPECT_DOUBLE_EQ(m.at(1, 3), 0.5);  // (½,½,½,½)·(½,½,½,-½)
  // A subset, in the order asked.
  const SimilarityMatrix s = similarity_matrix(tracks(), {5, 1});
  EXPECT_EQ(s.ids, (std::vector<int64_t>{5, 1}));
  EXPECT_DOUBLE_EQ(s.at(0, 1), -1.0);
  EXPECT_THROW(similarity_matrix(tracks(), {1, 42}), Error);
}

TEST(Matrix, RandomTracksStaySymmetric) {
  Embeddings t;
  t.dim = 32;
  t.data = test::random_unit(40, 32, 3);
  for (int i = 0; i < 40; ++i) t.ids.push_back(i);
  const SimilarityMatrix m = similarity_matrix(t);
  for (size_t i = 0; i < 40; ++i) {
    EXPECT_EQ(m.at(i, i), 1.0);
    for (size_t j = 0; j < 40; ++j) {
      EXPECT_EQ(m.at(i, j), m.at(j, i));
      EXPECT_LE(std::abs(m.at(i, j)), 1.0 + 1e-6);
    }
  }
}

// Track 7: window scores 0.5, 0.25, 0.75, 0.5 (+ a silent 1.0 that must not count);
// track 8: 0.125. Query = e0.
Catalog analysis_catalog() {
  return Catalog(test::make_table({
      {1, 7, 0, 10, scored(0.5)},
      {2, 7, 5, 15, scored(0.25)},
      {3, 7, 10, 20, scored(0.75)},
      {4, 7, 15, 25, scored(0.5)},
      {5, 7, 20, 30, e(0), true},
      {6, 8, 0, 10, scored(0.125)},
  }));
}

TEST(Analyze, StatisticsByHand) {
  const Catalog c = analysis_catalog();
  std::vector<float> queries = e(0);
  const auto q2 = e(2);  // orthogonal to every window: all scores 0
  queries.insert(queries.end(), q2.begin(), q2.end());
  const auto rows = analyze(c, 2, queries.data(), AnalyzeOptions{});
  ASSERT_EQ(rows.size(), 4u);  // 2 tracks × 2 queries, track-major
  const AnalyzeRow& r = rows[0];
  EXPECT_EQ(r.track_id, 7);
  EXPECT_EQ(r.query, 0);
  EXPECT_EQ(r.stats.n_windows, 4);
  EXPECT_DOUBLE_EQ(r.stats.mean, 0.5);
  EXPECT_DOUBLE_EQ(r.stats.max, 0.75);
  EXPECT_DOUBLE_EQ(r.stats.min, 0.25);
  EXPECT_DOUBLE_EQ(r.stats.std, std::sqrt((0 + 0.0625 + 0.0625 + 0) / 4));  // population std
  EXPECT_EQ(r.stats.best_window_id, 3);
  EXPECT_EQ(r.stats.best_start, 10);
  EXPECT_EQ(r.stats.best_end, 20);
  EXPECT_EQ(r.label, Label::High);
  EXPECT_EQ(rows[1].track_id, 7);
  EXPECT_EQ(rows[1].query, 1);
  EXPECT_DOUBLE_EQ(rows[1].stats.mean, 0.0);
  EXPECT_DOUBLE_EQ(rows[1].stats.std, 0.0);
  EXPECT_EQ(rows[1].stats.best_window_id, 1);  // all equal: the earliest window
  EXPECT_EQ(rows[1].label, Label::Low);
  EXPECT_EQ(rows[2].track_id, 8);
  EXPECT_DOUBLE_EQ(rows[2].stats.mean, 0.125);
  EXPECT_EQ(rows[2].stats.n_windows, 1);
  EXPECT_EQ(rows[2].label, Label::Low);
}

TEST(Analyze, LabelFollowsTheChosenAggregateAndTrackSubset) {
  const Catalog c = analysis_catalog();
  const auto q = e(0);
  AnalyzeOptions o;
  o.tracks = {8};
  o.aggregate = Aggregate::Max;
  o.thresholds = {0.6, 0.1};
  const auto rows = analyze(c, 1, q.data(), o);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].track_id, 8);
  EXPECT_EQ(rows[0].label, Label::Moderate);  // max 0.125 > 0.1
  o.tracks = {7};
  EXPECT_EQ(analyze(c, 1, q.data(), o)[0].label, Label::High);  // max 0.75 > 0.6
  o.tracks = {9};
  EXPECT_THROW(analyze(c, 1, q.data(), o), Error);
}

TEST(Analyze, OneSongWindowByWindow) {
  const Catalog c = analysis_catalog();
  const auto q = e(0);
  const SongAnalysis a = analyze_track(c, 7, q.data(), AnalyzeOptions{});
  ASSERT_EQ(a.windows.size(), 5u);  // every window listed, the silent one flagged
  EXPECT_DOUBLE_EQ(a.windows[0].score, 0.5);
  EXPECT_EQ(a.windows[0].label, Label::High);
  EXPECT_DOUBLE_EQ(a.windows[1].score, 0.25);
  EXPECT_EQ(a.windows[1].label, Label::Moderate);
  EXPECT_EQ(a.windows[4].window_id, 5);
  EXPECT_TRUE(a.windows[4].silent);
  EXPECT_DOUBLE_EQ(a.windows[4].score, 1.0);
  EXPECT_EQ(a.windows[2].start, 10);
  EXPECT_EQ(a.windows[2].end, 20);
  // The summary ignores the silent window and equals the batch row.
  const auto rows = analyze(c, 1, q.data(), AnalyzeOptions{});
  EXPECT_EQ(a.stats.mean, rows[0].stats.mean);
  EXPECT_EQ(a.stats.std, rows[0].stats.std);
  EXPECT_EQ(a.stats.max, 0.75);
  EXPECT_EQ(a.label, Label::High);
}

}  // namespace
}  // namespace clap::search
