// Playlists from constructed embeddings (search/playlist.h): the radio's maximal marginal
// relevance picks from a second cluster only when asked for diversity, seeds come first, nothing
// repeats; the path starts at FROM, ends at TO and walks along an arc in order; ties and repeated
// runs give the same playlist.
#include "search/playlist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_set>

#include "core/error.h"
#include "core/vector_math.h"
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

// The MMR radio as it was written before the lazy update (every pool member brought up to date
// at every pick, the pool from one float32 scan), kept here as the reference the playlist must
// equal bit for bit.
std::vector<Hit> eager_mmr(const Embeddings& tracks, const float* query, const std::vector<int64_t>& seeds,
                           const RadioOptions& options) {
  const int dim = tracks.dim;
  auto norm_of = [dim](const float* x) { return std::sqrt(static_cast<double>(dot(x, x, dim))); };
  auto cosine = [dim](const float* x, double nx, const float* y, double ny) {
    return nx > 0 && ny > 0 ? static_cast<double>(dot(x, y, dim)) / (nx * ny) : 0.0;
  };
  const double lambda = options.diversity, query_norm = norm_of(query);
  std::vector<Hit> out;
  std::vector<int64_t> selected;
  std::set<int64_t> in_playlist;
  for (int64_t id : seeds) {
    if (!in_playlist.insert(id).second) continue;
    const int64_t row = tracks.find(id);
    out.push_back({id, cosine(query, query_norm, tracks.row(row), norm_of(tracks.row(row)))});
    selected.push_back(row);
  }
  const int64_t pool_size = options.candidates > 0 ? options.candidates : std::max<int64_t>(200, 20 * options.length);
  const int64_t left_out = options.left_out ? static_cast<int64_t>(options.left_out->size()) : 0;
  const auto nearest = similar(tracks, 1, query, nullptr, std::min<int64_t>(tracks.size(), pool_size + out.size() + left_out))[0];
  std::vector<Hit> pool;
  for (const Hit& h : nearest)
    if (!in_playlist.count(h.id) && !(options.left_out && options.left_out->count(h.id)) &&
        static_cast<int64_t>(pool.size()) < pool_size)
      pool.push_back(h);
  std::vector<double> max_sim(pool.size(), -INFINITY);
  auto account_for = [&](int64_t row) {
    const double n = norm_of(tracks.row(row));
    for (size_t c = 0; c < pool.size(); ++c) {
      const float* y = tracks.row(tracks.find(pool[c].id));
      max_sim[c] = std::max(max_sim[c], cosine(tracks.row(row), n, y, norm_of(y)));
    }
  };
  for (int64_t row : selected) account_for(row);
  std::vector<bool> taken(pool.size(), false);
  while (static_cast<int64_t>(out.size()) < options.length) {
    int64_t best = -1;
    double best_score = 0;
    for (size_t c = 0; c < pool.size(); ++c) {
      if (taken[c]) continue;
      const double score = (1.0 - lambda) * pool[c].score - lambda * (std::isinf(max_sim[c]) ? 0.0 : max_sim[c]);
      if (best < 0 || ranks_before(score, pool[c].id, best_score, pool[best].id)) best = static_cast<int64_t>(c), best_score = score;
    }
    if (best < 0) break;
    taken[best] = true;
    out.push_back(pool[best]);
    account_for(tracks.find(pool[best].id));
  }
  return out;
}

void expect_same_playlist(const std::vector<Hit>& got, const std::vector<Hit>& want, const std::string& what) {
  ASSERT_EQ(ids_of(got), ids_of(want)) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].score, want[i].score) << what << " at " << i;  // bit for bit
}

// Clustered tracks with exact copies (equal scores: ties), near-copies, tracks pointing away from
// the query (negative cosines: a redundancy below 0) and a zero vector.
Embeddings radio_library(int64_t n, int dim, uint32_t seed) {
  const auto x = test::random_unit(n + 8, dim, seed);
  Embeddings e;
  e.dim = dim;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> v(x.begin() + (i % 8) * dim, x.begin() + (i % 8 + 1) * dim);  // 8 centres
    for (int j = 0; j < dim; ++j) v[j] = v[j] * (i % 3 == 0 ? -0.5f : 1.0f) + 0.6f * x[(8 + i) * dim + j];
    if (i % 10 == 9) v.assign(e.row(i - 1), e.row(i - 1) + dim);  // an exact copy under another id
    if (i == 17) v.assign(static_cast<size_t>(dim), 0.0f);
    add(e, 5 * i + 3, i == 17 ? v : unit(v));
  }
  return e;
}

TEST(PlaylistRadio, LazyUpdatesPickWhatUpdatingEveryCandidatePicks) {
  const Embeddings e = radio_library(600, 24, 11);
  const auto queries = test::random_unit(3, 24, 12);
  int checked = 0;
  for (int qi = 0; qi < 3; ++qi)
    for (double diversity : {0.0, 0.1, 0.3, 0.7, 1.0})
      for (const std::vector<int64_t>& seeds : {std::vector<int64_t>{}, {8}, {48, 3, 8}})
        for (int64_t length : {1, 5, 40}) {
          RadioOptions o = radio(length, diversity);
          o.candidates = length == 40 ? 0 : 90;
          const std::string what = "query " + std::to_string(qi) + " diversity " + std::to_string(diversity) + " seeds " +
                                   std::to_string(seeds.size()) + " length " + std::to_string(length);
          if (static_cast<int64_t>(seeds.size()) > length) continue;
          expect_same_playlist(mmr_playlist(e, queries.data() + qi * 24, seeds, o), eager_mmr(e, queries.data() + qi * 24, seeds, o), what);
          ++checked;
        }
  EXPECT_GT(checked, 100);
}

TEST(PlaylistRadio, APoolRankedElsewhereGivesTheSamePlaylist) {
  const Embeddings e = radio_library(900, 16, 21);
  const auto q = test::random_unit(1, 16, 22);
  for (int64_t left : {0, 3, 150, 700}) {
    std::unordered_set<int64_t> left_out;
    for (int64_t i = 0; i < left; ++i) left_out.insert(e.ids[(i * 7) % e.size()]);
    RadioOptions plain = radio(30, 0.3);
    plain.left_out = &left_out;
    std::vector<int64_t> asked;
    RadioOptions ranked = plain;
    ranked.nearest = [&](int64_t k) {
      asked.push_back(k);
      return similar(e, 1, q.data(), nullptr, k)[0];
    };
    const auto want = eager_mmr(e, q.data(), {13}, plain);
    expect_same_playlist(mmr_playlist(e, q.data(), {13}, plain), want, "the scan, " + std::to_string(left) + " left out");
    expect_same_playlist(mmr_playlist(e, q.data(), {13}, ranked), want, "ranked, " + std::to_string(left) + " left out");
    ASSERT_FALSE(asked.empty());
    // Asked for the pool and a margin first, not for every track left out.
    EXPECT_LE(asked.front(), 600 + 1 + std::min<int64_t>(left, 600));
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
