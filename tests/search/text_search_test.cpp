// Text search ranking rules on constructed embeddings: exact orders and scores, mean vs max,
// silent windows, labels, tie-breaks, batch queries, and the fast paths against the reference.
#include "search/text_search.h"

#include <gtest/gtest.h>

#include "core/vector_math.h"
#include "search/vector_index.h"
#include "test_util.h"

namespace clap::search {
namespace {

using test::e;
using test::scored;
using test::WindowSpec;

// Scores against q = e(0) are the first coordinate, chosen to be exact binary fractions.
//   track 1: 0.5, 0.25                 mean 0.375  max 0.5
//   track 2: 0.75, 0, (-0.25 silent)   mean 0.375  max 0.75   (silent window ignored)
//   track 3: 0.125, 0.125, 0.25        mean 1/6    max 0.25
//   track 4: 0.0625                    mean 0.0625 max 0.0625
//   track 5: (0.5 silent)              every window silent: scored on all, mean = max = 0.5
// Rows are given out of order to check the grouping.
Catalog hand_catalog() {
  return Catalog(test::make_table({
      {32, 3, 10, 20, scored(0.125)},
      {11, 1, 0, 10, scored(0.5)},
      {21, 2, 0, 10, scored(0.75)},
      {23, 2, 10, 20, scored(-0.25), true},
      {31, 3, 0, 10, scored(0.125)},
      {12, 1, 5, 15, scored(0.25)},
      {22, 2, 5, 15, scored(0.0)},
      {33, 3, 20, 30, scored(0.25)},
      {41, 4, 0, 10, scored(0.0625)},
      {51, 5, 0, 10, scored(0.5), true},
  }));
}

std::vector<int64_t> ids(const std::vector<TrackScore>& v) {
  std::vector<int64_t> out;
  for (const auto& t : v) out.push_back(t.track_id);
  return out;
}

TEST(TextSearch, MeanRankingExactScoresAndTieBreak) {
  const Catalog c = hand_catalog();
  const auto q = e(0);
  TextSearchOptions o;
  o.k = 10;
  const auto r = text_search_exhaustive(c, 1, q.data(), o)[0];
  // 5 (0.5), then 1 and 2 tie at 0.375 -> smaller track id first, 3 (1/6), 4 (0.0625).
  ASSERT_EQ(ids(r), (std::vector<int64_t>{5, 1, 2, 3, 4}));
  EXPECT_DOUBLE_EQ(r[0].score, 0.5);
  EXPECT_DOUBLE_EQ(r[1].score, 0.375);
  EXPECT_DOUBLE_EQ(r[2].score, 0.375);
  EXPECT_DOUBLE_EQ(r[3].score, 0.5 / 3);
  EXPECT_DOUBLE_EQ(r[4].score, 0.0625);
  EXPECT_EQ(r[0].label, Label::High);
  EXPECT_EQ(r[1].label, Label::High);
  EXPECT_EQ(r[3].label, Label::Moderate);
  EXPECT_EQ(r[4].label, Label::Low);
  // Best windows: track 1 its first window, track 2 the 0.75 window at 0-10 s.
  EXPECT_EQ(r[1].stats.best_window_id, 11);
  EXPECT_EQ(r[1].stats.best_start, 0);
  EXPECT_EQ(r[1].stats.best_end, 10);
  EXPECT_EQ(r[2].stats.best_window_id, 21);
  EXPECT_EQ(r[2].stats.n_windows, 2);  // the silent window is not counted
  EXPECT_EQ(r[0].stats.n_windows, 1);  // all-silent track: scored on its windows
  EXPECT_EQ(r[3].stats.best_window_id, 33);
  EXPECT_EQ(r[3].stats.best_start, 20);
}

TEST(TextSearch, MaxRankingDiffersFromMean) {
  const Catalog c = hand_catalog();
  const auto q = e(0);
  TextSearchOptions o;
  o.aggregate = Aggregate::Max;
  const auto r = text_search_exhaustive(c, 1, q.data(), o)[0];
  // 2 (0.75), then 1 and 5 tie at 0.5 -> 1 first, then 3 (0.25), 4 (0.0625).
  ASSERT_EQ(ids(r), (std::vector<int64_t>{2, 1, 5, 3, 4}));
  EXPECT_DOUBLE_EQ(r[0].score, 0.75);
  EXPECT_DOUBLE_EQ(r[1].score, 0.5);
  EXPECT_DOUBLE_EQ(r[3].score, 0.25);
  EXPECT_EQ(r[0].label, Label::High);
  EXPECT_EQ(r[3].label, Label::Moderate);  // labels follow the ranking score: max 0.25 > 0.15
  EXPECT_EQ(r[4].label, Label::Low);
}

TEST(TextSearch, TopKAndSeveralQueriesAtOnce) {
  const Catalog c = hand_catalog();
  std::vector<float> queries = e(0);
  const auto q1 = e(1);
  queries.insert(queries.end(), q1.begin(), q1.end());
  TextSearchOptions o;
  o.k = 2;
  const auto r = text_search_exhaustive(c, 2, queries.data(), o);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(ids(r[0]), (std::vector<int64_t>{5, 1}));
  ASSERT_EQ(r[1].size(), 2u);
  // Each query's list equals the list of that query alone.
  const auto alone = text_search_exhaustive(c, 1, queries.data() + 4, o)[0];
  EXPECT_EQ(ids(r[1]), ids(alone));
  EXPECT_EQ(r[1][0].score, alone[0].score);
}

TEST(TextSearch, LabelThresholdsAreStrictAndConfigurable) {
  LabelThresholds t;
  EXPECT_EQ(t.high, 0.3);
  EXPECT_EQ(t.moderate, 0.15);
  EXPECT_EQ(label_for(0.3000001, t), Label::High);
  EXPECT_EQ(label_for(0.3, t), Label::Moderate);
  EXPECT_EQ(label_for(0.15000001, t), Label::Moderate);
  EXPECT_EQ(label_for(0.15, t), Label::Low);
  EXPECT_EQ(label_for(-1, t), Label::Low);
  EXPECT_STREQ(label_name(Label::High), "HIGH");
  EXPECT_STREQ(label_name(Label::Moderate), "MODERATE");
  EXPECT_STREQ(label_name(Label::Low), "LOW");
  // Configured thresholds move the hand catalog's labels.
  const Catalog c = hand_catalog();
  const auto q = e(0);
  TextSearchOptions o;
  o.thresholds = {0.4, 0.1};
  const auto r = text_search_exhaustive(c, 1, q.data(), o)[0];
  EXPECT_EQ(r[0].label, Label::High);      // 0.5
  EXPECT_EQ(r[1].label, Label::Moderate);  // 0.375
  EXPECT_EQ(r[3].label, Label::Moderate);  // 1/6
  EXPECT_EQ(r[4].label, Label::Low);       // 0.0625
  EXPECT_EQ(parse_aggregate("max"), Aggregate::Max);
  EXPECT_THROW(parse_aggregate("median"), Error);
}

TEST(TextSearch, SearcherMatchesTheExhaustiveScanOnTheHandCase) {
  const Catalog c = hand_catalog();
  const VectorIndex index = VectorIndex::build(window_index_data(c));
  const auto q = e(0);
  for (Aggregate a : {Aggregate::Mean, Aggregate::Max}) {
    TextSearchOptions o;
    o.aggregate = a;
    for (int64_t k : {1, 2, 3, 10}) {
      o.k = k;
      const auto ref = text_search_exhaustive(c, 1, q.data(), o)[0];
      for (const VectorIndex* idx : {static_cast<const VectorIndex*>(nullptr), &index}) {
        const auto got = TextSearcher(c).search(1, q.data(), o, idx)[0];
        EXPECT_EQ(ids(got), ids(ref)) << aggregate_name(a) << " k=" << k;
        for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].score, ref[i].score);
      }
    }
  }
}

TEST(TextSearch, SearcherMatchesTheExhaustiveScanOnRandomLibraries) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    const Catalog c(test::random_table(80, 12, 24, seed));
    const VectorIndex index = VectorIndex::build(window_index_data(c));
    const auto queries = test::random_unit(6, 24, seed + 100);
    const TextSearcher searcher(c);
    for (Aggregate a : {Aggregate::Mean, Aggregate::Max}) {
      for (int64_t k : {1, 5, 30, 0}) {
        TextSearchOptions o;
        o.aggregate = a;
        o.k = k;
        const auto ref = text_search_exhaustive(c, 6, queries.data(), o);
        const auto got = searcher.search(6, queries.data(), o, &index);
        for (int q = 0; q < 6; ++q) {
          ASSERT_EQ(ids(got[q]), ids(ref[q])) << "seed " << seed << " " << aggregate_name(a) << " k=" << k;
          for (size_t i = 0; i < got[q].size(); ++i) {
            EXPECT_EQ(got[q][i].score, ref[q][i].score);
            EXPECT_EQ(got[q][i].stats.best_window_id, ref[q][i].stats.best_window_id);
          }
        }
        if (k == 0) {
          EXPECT_EQ(static_cast<int64_t>(ref[0].size()), c.track_count());
        }
      }
    }
  }
}

TEST(TextSearch, MaxWithAnApproximateIndexFindsTheSameTopOnClearCases) {
  const Catalog c(test::random_table(200, 10, 16, 9));
  VectorIndexOptions io;
  io.kind = IndexKind::Ivf;
  const VectorIndex index = VectorIndex::build(window_index_data(c), io);
  const auto q = test::random_unit(4, 16, 10);
  TextSearchOptions o;
  o.index_search.nprobe = 1000;  // every list: must equal exact
  o.aggregate = Aggregate::Max;
  o.k = 5;
  const auto ref = text_search_exhaustive(c, 4, q.data(), o);
  const auto got = TextSearcher(c).search(4, q.data(), o, &index);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ids(got[i]), ids(ref[i]));
}

TEST(TextSearch, SameInputSameOutput) {
  const Catalog c(test::random_table(50, 8, 16, 5));
  const auto q = test::random_unit(3, 16, 6);
  TextSearchOptions o;
  o.k = 0;
  const auto a = text_search_exhaustive(c, 3, q.data(), o);
  const auto b = text_search_exhaustive(c, 3, q.data(), o);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(ids(a[i]), ids(b[i]));
    for (size_t j = 0; j < a[i].size(); ++j) {
      EXPECT_EQ(a[i][j].score, b[i][j].score);
      EXPECT_EQ(a[i][j].stats.std, b[i][j].stats.std);
    }
  }
}

TEST(Catalog, GroupsRowsAndRejectsInconsistentInput) {
  const Catalog c = hand_catalog();
  EXPECT_EQ(c.track_ids(), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  const auto rows = c.rows(c.track_index(3));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(c.table().window_ids[rows[0]], 31);  // by start time
  EXPECT_EQ(c.table().window_ids[rows[2]], 33);
  EXPECT_EQ(c.active_rows(c.track_index(2)).size(), 2u);
  EXPECT_EQ(c.track_index(6), -1);
  EXPECT_EQ(c.row_of_window(99), -1);
  EXPECT_EQ(c.table().window_ids[c.row_of_window(22)], 22);
  // Silent windows are not in the window index data; the all-silent track's window is.
  const Embeddings w = window_index_data(c);
  EXPECT_EQ(w.ids, (std::vector<int64_t>{11, 12, 21, 22, 31, 32, 33, 41, 51}));
  const Embeddings t = track_embeddings(c);
  EXPECT_EQ(t.ids, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_NEAR(t.row(4)[0], 0.5f, 1e-6);  // one window: its own (unit) embedding

  // A file outside the library: the same definition (normalised mean of non-silent windows).
  std::vector<float> two = e(0);
  const auto e1 = e(1);
  two.insert(two.end(), e1.begin(), e1.end());
  const auto m = track_embedding(2, 4, two.data(), nullptr);
  EXPECT_NEAR(m[0], std::sqrt(0.5f), 1e-6);
  EXPECT_NEAR(m[1], std::sqrt(0.5f), 1e-6);
  const uint8_t silent[2] = {0, 1};
  EXPECT_EQ(track_embedding(2, 4, two.data(), silent), e(0));
  const uint8_t all_silent[2] = {1, 1};
  EXPECT_EQ(track_embedding(2, 4, two.data(), all_silent), m);

  WindowTable bad = test::make_table({{1, 1, 0, 10, e(0)}, {1, 2, 0, 10, e(1)}});
  EXPECT_THROW(Catalog{bad}, Error);  // duplicate window id
  WindowTable short_rows = test::make_table({{1, 1, 0, 10, e(0)}});
  short_rows.embeddings.pop_back();
  EXPECT_THROW(Catalog{short_rows}, Error);
}

}  // namespace
}  // namespace clap::search
