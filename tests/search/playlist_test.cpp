// Playlists from constructed embeddings (search/playlist.h): the radio's maximal marginal
// relevance picks from a second cluster only when asked for diversity, seeds come first, nothing
// repeats; the path starts at FROM, ends at TO and walks along an arc in order; ties and repeated
// runs give the same playlist.
#include "search/playlist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"
#include "search/similar.h"
#include "support/golden.h"
#include "test_util.h"

namespace clap::search {
namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<float> unit(std::vector<float> v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(s));
  return v;
}

void add(Embeddings& e, int64_t id, const std::vector<float>& v) {
  e.dim = static_cast<int>(v.size());
  e.ids.push_back(id);
  e.data.insert(e.data.end(), v.begin(), v.end());
}

std::vector<int64_t> ids_of(const std::vector<Hit>& hits) {
  std::vector<int64_t> ids;
  for (const Hit& h : hits) ids.push_back(h.id);
  return ids;
}

// Cluster A (ids 1-5) near e0 and cluster B (ids 11-15) near e2, orthogonal to each other; the
// query leans to A: cos(query, A) ≈ 0.8, cos(query, B) ≈ 0.6, cos(A_i, A_j) ≈ 1, cos(A, B) = 0.
Embeddings two_clusters() {
  Embeddings e;
  for (int k = 1; k <= 5; ++k) add(e, k, unit({1.0f, 0.05f * k, 0.0f, 0.0f}));
  for (int k = 1; k <= 5; ++k) add(e, 10 + k, unit({0.0f, 0.0f, 1.0f, 0.05f * k}));
  return e;
}
const std::vector<float> kQuery = unit({0.8f, 0.0f, 0.6f, 0.0f});

bool in_a(int64_t id) { return id >= 1 && id <= 5; }
bool in_b(int64_t id) { return id >= 11 && id <= 15; }

RadioOptions radio(int64_t length, double diversity) {
  RadioOptions o;
  o.length = length;
  o.diversity = diversity;
  return o;
}

TEST(PlaylistRadio, NoDiversityTakesTheNearestClusterInOrder) {
  const Embeddings e = two_clusters();
  const auto hits = mmr_playlist(e, kQuery.data(), {}, radio(4, 0.0));
  ASSERT_EQ(hits.size(), 4u);
  for (const Hit& h : hits) EXPECT_TRUE(in_a(h.id)) << h.id;
  // λ = 0 is exactly the nearest tracks, as `similar` ranks them.
  EXPECT_EQ(ids_of(hits), ids_of(similar(e, 1, kQuery.data(), nullptr, 4)[0]));
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].score, hits[i].score);
}

TEST(PlaylistRadio, DiversityPicksFromBothClusters) {
  const Embeddings e = two_clusters();
  const auto hits = mmr_playlist(e, kQuery.data(), {}, radio(4, 0.3));
  ASSERT_EQ(hits.size(), 4u);
  // First the nearest track of the nearest cluster, then the other cluster: an A track adds
  // 0.7·0.8 − 0.3·≈1 ≈ 0.26, a B track 0.7·0.6 − 0.3·0 = 0.42.
  EXPECT_TRUE(in_a(hits[0].id));
  EXPECT_TRUE(in_b(hits[1].id));
  EXPECT_TRUE(std::any_of(hits.begin(), hits.end(), [](const Hit& h) { return in_a(h.id); }));
  EXPECT_TRUE(std::any_of(hits.begin(), hits.end(), [](const Hit& h) { return in_b(h.id); }));
  // Scores stay the cosine to the query, whatever the order.
  for (const Hit& h : hits) EXPECT_NEAR(h.score, in_a(h.id) ? 0.8 : 0.6, 0.01) << h.id;
}

TEST(PlaylistRadio, SeedsComeFirstInTheOrderGivenOnce) {
  const Embeddings e = two_clusters();
  const auto hits = mmr_playlist(e, kQuery.data(), {13, 2, 13}, radio(6, 0.3));
  ASSERT_EQ(hits.size(), 6u);
  EXPECT_EQ(hits[0].id, 13);
  EXPECT_EQ(hits[1].id, 2);
  const auto ids = ids_of(hits);
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), ids.size()) << "a track repeats";
  // A seed's score is its cosine to the query too.
  EXPECT_NEAR(hits[0].score, 0.6, 0.01);
  // The seeds count as selected: with one of each cluster chosen, no cluster is new any more, so
  // the next pick is the best trade-off (an A track: 0.7·0.8 − 0.3·≈1 > 0.7·0.6 − 0.3·≈1).
  EXPECT_TRUE(in_a(hits[2].id));
}

TEST(PlaylistRadio, NoRepeatsAndEveryTrackWhenTheLibraryIsSmaller) {
  Embeddings e;
  e.dim = 16;
  const auto x = test::random_unit(30, 16, 7);
  for (int i = 0; i < 30; ++i) add(e, 100 + 3 * i, std::vector<float>(x.begin() + i * 16, x.begin() + (i + 1) * 16));
  const auto q = test::random_unit(1, 16, 8);
  for (double diversity : {0.0, 0.3, 0.7, 1.0}) {
    const auto hits = mmr_playlist(e, q.data(), {100, 103}, radio(50, diversity));
    ASSERT_EQ(hits.size(), 30u) << "diversity " << diversity;  // all there is, once each
    const auto ids = ids_of(hits);
    EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 30u);
    EXPECT_EQ(hits[0].id, 100);
    EXPECT_EQ(hits[1].id, 103);
  }
}

TEST(PlaylistRadio, TiesGoToTheSmallerIdAndRunsRepeat) {
  Embeddings e;
  for (int64_t id : {9, 4, 7, 2}) add(e, id, unit({1.0f, 1.0f, 0.0f, 0.0f}));  // four identical tracks
  add(e, 5, unit({0.0f, 1.0f, 0.0f, 0.0f}));
  const std::vector<float> q = {1.0f, 0.0f, 0.0f, 0.0f};
  EXPECT_EQ(ids_of(mmr_playlist(e, q.data(), {}, radio(4, 0.0))), (std::vector<int64_t>{2, 4, 7, 9}));
  const Embeddings r = [] {
    Embeddings big;
    const auto x = test::random_unit(200, 32, 3);
    for (int i = 0; i < 200; ++i) add(big, i + 1, std::vector<float>(x.begin() + i * 32, x.begin() + (i + 1) * 32));
    return big;
  }();
  const auto rq = test::random_unit(1, 32, 4);
  const auto first = mmr_playlist(r, rq.data(), {17}, radio(25, 0.3));
  const auto second = mmr_playlist(r, rq.data(), {17}, radio(25, 0.3));
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].id, second[i].id);
    EXPECT_EQ(first[i].score, second[i].score);  // bit for bit
  }
}

TEST(PlaylistRadio, RefusesBadInput) {
  const Embeddings e = two_clusters();
  const float* q = kQuery.data();
  EXPECT_NE(clap::test::error_of([&] { mmr_playlist(e, q, {}, radio(3, 1.5)); }).find("diversity"), std::string::npos);
  EXPECT_NE(clap::test::error_of([&] { mmr_playlist(e, q, {}, radio(3, -0.1)); }).find("diversity"), std::string::npos);
  EXPECT_NE(clap::test::error_of([&] { mmr_playlist(e, q, {}, radio(3, std::nan(""))); }).find("diversity"), std::string::npos);
  EXPECT_NE(clap::test::error_of([&] { mmr_playlist(e, q, {}, radio(0, 0.3)); }).find("at least 1"), std::string::npos);
  EXPECT_NE(clap::test::error_of([&] { mmr_playlist(e, q, {99}, radio(3, 0.3)); }).find("track 99"), std::string::npos);
  EXPECT_NE(clap::test::error_of([&] { mmr_playlist(e, q, {1, 2, 3}, radio(2, 0.3)); }).find("3 seed tracks"),
            std::string::npos);
}

TEST(PlaylistRadio, QueryIsTheNormalisedMean) {
  const std::vector<float> parts = {1, 0, 0, 0, 0, 1, 0, 0};
  const auto q = mean_direction(2, 4, parts.data());
  EXPECT_NEAR(q[0], 1 / std::sqrt(2.0), 1e-7);
  EXPECT_NEAR(q[1], 1 / std::sqrt(2.0), 1e-7);
  EXPECT_EQ(q[2], 0.0f);
}

// --- path ------------------------------------------------------------------------------------

// Points on the quarter arc from e0 (angle 0) to e1 (90°), one every `step` degrees, ids not in
// angle order; plus distractors off the arc's plane. Returns the id of each angle.
std::vector<int64_t> arc(Embeddings& e, int points) {
  std::vector<int64_t> id_at(points);
  for (int k = 0; k < points; ++k) {
    const double a = kPi / 2 * k / (points - 1);
    id_at[k] = 1 + (k * 7) % points;  // 7 and `points` coprime: a permutation
    add(e, id_at[k], {static_cast<float>(std::cos(a)), static_cast<float>(std::sin(a)), 0.0f, 0.0f});
  }
  add(e, 1000, unit({1.0f, 1.0f, 3.0f, 0.0f}));  // nearer the middle than the ends, but far from every target
  add(e, 1001, {0.0f, 0.0f, 0.0f, 1.0f});
  return id_at;
}

double angle_of(const Embeddings& e, int64_t id) {
  const float* v = e.row(e.find(id));
  return std::atan2(v[1], v[0]);
}

TEST(PlaylistPath, StartsAtFromEndsAtToAndWalksTheArcInOrder) {
  Embeddings e;
  const auto id_at = arc(e, 31);  // every 3 degrees
  const auto hits = path_between(e, id_at.front(), id_at.back(), 6);
  ASSERT_EQ(hits.size(), 6u);
  EXPECT_EQ(hits.front().id, id_at.front());
  EXPECT_EQ(hits.back().id, id_at.back());
  for (size_t i = 0; i < hits.size(); ++i) {
    // Target i is the normalised chord point at t = i/5: angle atan(t / (1 - t)); the nearest
    // arc point is within half a step (1.5°) of it, and the score is that angle's cosine.
    const double t = i / 5.0;
    const double target = std::atan2(t, 1 - t);
    const double got = angle_of(e, hits[i].id);
    EXPECT_NEAR(got, target, 1.5 * kPi / 180 + 1e-9) << "step " << i;
    EXPECT_NEAR(hits[i].score, std::cos(got - target), 1e-6) << "step " << i;
    if (i > 0) {
      EXPECT_GT(got, angle_of(e, hits[i - 1].id)) << "step " << i << " goes back";
    }
  }
}

TEST(PlaylistPath, SmallLibraryGivesEveryTrackOnce) {
  Embeddings e;
  const auto id_at = arc(e, 5);  // 5 arc points + 2 distractors = 7 tracks
  const auto hits = path_between(e, id_at.front(), id_at.back(), 10);
  ASSERT_EQ(hits.size(), 7u);
  const auto ids = ids_of(hits);
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 7u);
  EXPECT_EQ(hits.front().id, id_at.front());
  EXPECT_EQ(hits.back().id, id_at.back());
}

TEST(PlaylistPath, TiesGoToTheSmallerIdAndRunsRepeat) {
  Embeddings e;
  add(e, 50, {1, 0, 0, 0});
  add(e, 60, {0, 1, 0, 0});
  const auto middle = unit({1, 1, 0, 0});
  for (int64_t id : {8, 3, 5}) add(e, id, middle);  // three copies of the midpoint
  EXPECT_EQ(ids_of(path_between(e, 50, 60, 3)), (std::vector<int64_t>{50, 3, 60}));
  EXPECT_EQ(ids_of(path_between(e, 50, 60, 5)), ids_of(path_between(e, 50, 60, 5)));
  // Reversed, the same tracks in the opposite order here (the targets mirror).
  EXPECT_EQ(ids_of(path_between(e, 60, 50, 3)), (std::vector<int64_t>{60, 3, 50}));
}

TEST(PlaylistPath, RefusesBadInput) {
  Embeddings e;
  const auto id_at = arc(e, 5);
  EXPECT_NE(clap::test::error_of([&] { path_between(e, id_at[0], id_at[0], 5); }).find("same track"), std::string::npos);
  EXPECT_NE(clap::test::error_of([&] { path_between(e, id_at[0], id_at[4], 1); }).find("at least 2"), std::string::npos);
  EXPECT_NE(clap::test::error_of([&] { path_between(e, 404, id_at[4], 5); }).find("track 404"), std::string::npos);
  EXPECT_NE(clap::test::error_of([&] { path_between(e, id_at[0], 405, 5); }).find("track 405"), std::string::npos);
}

}  // namespace
}  // namespace clap::search
