// BestHits (search/topk.h) and the k-bounded similar() against sorting every hit (sort_hits).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "search/similar.h"
#include "search/topk.h"

namespace clap::search {
namespace {

void expect_same(const std::vector<Hit>& got, const std::vector<Hit>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id) << what << " place " << i;
    EXPECT_EQ(got[i].score, want[i].score) << what << " place " << i;
  }
}

// Many equal scores (a handful of values over thousands of hits, ids shuffled, so a tie is
// broken by id only), infinities and signed zeros among them.
std::vector<Hit> tied_hits(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  const double values[] = {0.5, 0.25, 0.5, -0.0, 0.0, 1.0, -INFINITY, INFINITY, 0.5 + 1e-16, 0.5};
  std::vector<Hit> hits;
  for (size_t i = 0; i < n; ++i) hits.push_back({static_cast<int64_t>(i * 7 % 1009 + 1009 * (i / 1009)), values[rng() % 10]});
  std::shuffle(hits.begin(), hits.end(), rng);
  return hits;
}

TEST(BestHits, KeepsWhatSortingEveryHitKeepsInTheSameOrder) {
  for (const size_t n : {size_t{0}, size_t{1}, size_t{9}, size_t{3000}})
    for (const int64_t k : {int64_t{-1}, int64_t{0}, int64_t{1}, int64_t{2}, int64_t{10}, int64_t{40}, int64_t{2999},
                            int64_t{3000}, int64_t{5000}}) {
      const std::vector<Hit> hits = tied_hits(n, static_cast<uint32_t>(n + 3));
      std::vector<Hit> want = hits;
      sort_hits(want, k > 0 ? k : -1);  // similar()'s reading of k: <= 0 is every hit
      BestHits best(k);
      for (const Hit& h : hits) best.offer(h.id, h.score);
      expect_same(best.take(), want, "n " + std::to_string(n) + " k " + std::to_string(k));
      // top_k keeps sort_hits's reading (0 keeps none).
      std::vector<float> scores;
      std::vector<int64_t> ids;
      for (const Hit& h : hits) scores.push_back(static_cast<float>(h.score)), ids.push_back(h.id);
      std::vector<Hit> want_top;
      for (size_t i = 0; i < hits.size(); ++i) want_top.push_back({ids[i], scores[i]});
      sort_hits(want_top, k);
      expect_same(top_k(scores.data(), ids.data(), static_cast<int64_t>(n), k), want_top, "top_k k " + std::to_string(k));
    }
}

TEST(BestHits, WouldKeepSaysWhetherAnOfferIsKept) {
  BestHits best(2);
  EXPECT_TRUE(best.would_keep(0.1, 5));
  best.offer(5, 0.1);
  best.offer(3, 0.5);
  EXPECT_FALSE(best.would_keep(0.1, 6));  // the same score as the worst kept, a later id
  EXPECT_TRUE(best.would_keep(0.1, 4));   // an earlier id
  best.offer(4, 0.1);
  const std::vector<Hit> kept = best.take();
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].id, 3);
  EXPECT_EQ(kept[1].id, 4);
}

// similar() with a bound: every track's list is the head of its unbounded list, on tracks
// where most scores tie (copies of a few vectors, ids out of order).
TEST(BestHits, BoundedSimilarIsTheHeadOfTheFullRanking) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  const int dim = 24;
  std::vector<std::vector<float>> distinct(5, std::vector<float>(dim));
  for (auto& v : distinct)
    for (float& x : v) x = g(rng);
  Embeddings tracks;
  tracks.dim = dim;
  for (int i = 0; i < 600; ++i) {
    tracks.ids.push_back((i * 389) % 600 + 10);  // unique, shuffled
    const auto& v = distinct[rng() % distinct.size()];
    tracks.data.insert(tracks.data.end(), v.begin(), v.end());
  }
  const int64_t nq = 9;
  std::vector<int64_t> exclude(tracks.ids.begin(), tracks.ids.begin() + nq);
  const std::vector<float> queries(tracks.data.begin(), tracks.data.begin() + nq * dim);
  const auto full = similar(tracks, nq, queries.data(), exclude.data(), 0);
  for (const int64_t k : {int64_t{1}, int64_t{7}, int64_t{120}, int64_t{599}, int64_t{600}, int64_t{1000}}) {
    const auto bounded = similar(tracks, nq, queries.data(), exclude.data(), k);
    for (int64_t q = 0; q < nq; ++q) {
      std::vector<Hit> want(full[q].begin(), full[q].begin() + std::min<int64_t>(k, static_cast<int64_t>(full[q].size())));
      expect_same(bounded[q], want, "k " + std::to_string(k) + " query " + std::to_string(q));
    }
  }
}

}  // namespace
}  // namespace clap::search
