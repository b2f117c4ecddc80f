// Query by example: the vote fusion formula on hand-made matches, and chunk matching on a
// hand-made library where every cosine is exact.
#include "search/like.h"

#include <gtest/gtest.h>

#include "search/vector_index.h"
#include "test_util.h"

namespace clap::search {
namespace {

using test::e;
using test::h;

ChunkMatch m(int64_t chunk, int64_t track, int64_t window, double cosine) {
  ChunkMatch x;
  x.chunk = chunk;
  x.query_start = 10.0 * chunk;
  x.query_end = 10.0 * chunk + 10;
  x.track_id = track;
  x.window_id = window;
  x.start = 5.0 * window;
  x.end = 5.0 * window + 10;
  x.cosine = cosine;
  x.distance = 1 - cosine;
  return x;
}

TEST(LikeFusion, OneVotePerChunkKeepsEachTracksBestWindow) {
  // chunk 0 -> Q 1.0, Q 0.9, L 0.8, L 0.7, L 0.6;  chunk 1 -> Q 1.0, L 0.95, L 0.9, L 0.85, Q 0.8
  // Per window: L has 6 votes, Q 4 -> Q loses the vote term. Per chunk: Q 2 votes (1.0 + 1.0),
  // L 2 votes (0.8 + 0.95) -> Q holds both maxima: combined 1.0.
  const int64_t Q = 1, L = 2;
  const std::vector<ChunkMatch> matches = {m(0, Q, 1, 1.0),  m(0, Q, 2, 0.9), m(0, L, 3, 0.8),  m(0, L, 4, 0.7),
                                           m(0, L, 5, 0.6),  m(1, Q, 2, 1.0), m(1, L, 6, 0.95), m(1, L, 7, 0.9),
                                           m(1, L, 8, 0.85), m(1, Q, 1, 0.8)};
  LikeOptions o;
  const auto r = fuse_matches(matches, o);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].track_id, Q);
  EXPECT_EQ(r[0].votes, 2);
  EXPECT_DOUBLE_EQ(r[0].total_similarity, 2.0);
  EXPECT_DOUBLE_EQ(r[0].combined, 1.0);
  ASSERT_EQ(r[0].matches.size(), 2u);
  EXPECT_EQ(r[0].matches[0].window_id, 1);
  EXPECT_EQ(r[0].matches[1].window_id, 2);
  EXPECT_EQ(r[1].votes, 2);
  EXPECT_NEAR(r[1].combined, 0.2 + 0.8 * 1.75 / 2.0, 1e-12);
  o.one_vote_per_chunk = false;
  const auto w = fuse_matches(matches, o);
  EXPECT_EQ(w[0].track_id, L);  // the failure mode the default avoids
}

TEST(LikeFusion, VotesTotalsAndCombinedByHand) {
  // chunk 0 -> A 0.9, A 0.8, B 0.7;  chunk 1 -> B 0.9, C 0.5, A 0.6
  // votes A 3, B 2, C 1; totals A 2.3, B 1.6, C 0.5; max_votes 3, max_total 2.3
  const int64_t A = 7, B = 3, C = 12;
  const std::vector<ChunkMatch> matches = {m(0, A, 1, 0.9), m(0, A, 2, 0.8), m(0, B, 3, 0.7),
                                           m(1, B, 4, 0.9), m(1, C, 5, 0.5), m(1, A, 6, 0.6)};
  LikeOptions o;  // w = 0.2
  o.one_vote_per_chunk = false;  // the per-window rule; the default is tested below
  const auto r = fuse_matches(matches, o);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].track_id, A);
  EXPECT_EQ(r[0].votes, 3);
  EXPECT_NEAR(r[0].total_similarity, 2.3, 1e-12);
  EXPECT_DOUBLE_EQ(r[0].combined, 1.0);  // both maxima
  EXPECT_EQ(r[1].track_id, B);
  EXPECT_EQ(r[1].votes, 2);
  EXPECT_NEAR(r[1].total_similarity, 1.6, 1e-12);
  EXPECT_NEAR(r[1].combined, 0.2 * 2 / 3 + 0.8 * 1.6 / 2.3, 1e-12);  // 0.689855...
  EXPECT_EQ(r[2].track_id, C);
  EXPECT_EQ(r[2].votes, 1);
  EXPECT_NEAR(r[2].combined, 0.2 * 1 / 3 + 0.8 * 0.5 / 2.3, 1e-12);  // 0.240580...
  // Matches: by chunk, then distance.
  ASSERT_EQ(r[0].matches.size(), 3u);
  EXPECT_EQ(r[0].matches[0].window_id, 1);
  EXPECT_EQ(r[0].matches[1].window_id, 2);
  EXPECT_EQ(r[0].matches[2].window_id, 6);
  EXPECT_NEAR(r[0].matches[0].distance, 0.1, 1e-12);
  // k and the vote weight.
  o.k = 1;
  EXPECT_EQ(fuse_matches(matches, o).size(), 1u);
  o.k = 10;
  o.vote_weight = 1.0;  // votes only
  EXPECT_NEAR(fuse_matches(matches, o)[1].combined, 2.0 / 3, 1e-12);
  o.vote_weight = 0.0;  // similarity only
  EXPECT_NEAR(fuse_matches(matches, o)[1].combined, 1.6 / 2.3, 1e-12);
}

TEST(LikeFusion, MaximaOnDifferentTracksAndTieBreak) {
  // X: 3 votes of 0.5 (total 1.5); Y: 2 votes of 0.9 (total 1.8). Nobody has both maxima.
  // X = 0.2 + 0.8 * 1.5 / 1.8 = 0.8667; Y = 0.2 * 2/3 + 0.8 = 0.9333.
  // Z and W: identical single matches -> equal combined, smaller track id first.
  const std::vector<ChunkMatch> matches = {m(0, 5, 1, 0.5), m(1, 5, 2, 0.5), m(2, 5, 3, 0.5), m(0, 8, 4, 0.9),
                                           m(1, 8, 5, 0.9), m(2, 40, 6, 0.3), m(2, 30, 7, 0.3)};
  const auto r = fuse_matches(matches, LikeOptions{});
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].track_id, 8);
  EXPECT_NEAR(r[0].combined, 0.2 * 2 / 3 + 0.8, 1e-12);
  EXPECT_EQ(r[1].track_id, 5);
  EXPECT_NEAR(r[1].combined, 0.2 + 0.8 * 1.5 / 1.8, 1e-12);
  EXPECT_LT(r[0].combined, 1.0);
  EXPECT_EQ(r[2].track_id, 30);
  EXPECT_EQ(r[3].track_id, 40);
  EXPECT_EQ(r[2].combined, r[3].combined);
}

// Library (dim 4, every cosine exact):
//   track 1: w101 = e0 @0-10, w102 = e1 @5-15
//   track 2: w201 = (½,½,½,½) @0-10, w202 = e2 @5-15
//   track 3: w301 = e3 @0-10, w302 = (½,½,-½,-½) @5-15, w303 = e0 @10-20 silent
Catalog library() {
  return Catalog(test::make_table({
      {101, 1, 0, 10, e(0)},
      {102, 1, 5, 15, e(1)},
      {201, 2, 0, 10, h(1, 1, 1, 1)},
      {202, 2, 5, 15, e(2)},
      {301, 3, 0, 10, e(3)},
      {302, 3, 5, 15, h(1, 1, -1, -1)},
      {303, 3, 10, 20, e(0), true},
  }));
}

// The query is track 1 itself: chunk 0 = e0 @0-10, chunk 1 = e1 @5-15.
QueryChunks track1_query() {
  QueryChunks q;
  q.dim = 4;
  for (int i : {0, 1}) {
    const auto v = e(i);
    q.embeddings.insert(q.embeddings.end(), v.begin(), v.end());
  }
  q.starts = {0, 5};
  q.ends = {10, 15};
  return q;
}

TEST(Like, SelfQueryComesBackFirstWithCombinedOne) {
  const Catalog c = library();
  const VectorIndex index = VectorIndex::build(window_index_data(c));
  LikeOptions o;
  o.per_chunk = 2;
  for (const VectorIndex* idx : {static_cast<const VectorIndex*>(nullptr), &index}) {
    // chunk 0 (e0): w101 1.0, then w201 and w302 tie at 0.5 -> w201 (smaller window id);
    //               the silent w303 (also e0) is not a candidate.
    // chunk 1 (e1): w102 1.0, then w201 0.5 (tie with w302 again).
    const auto matches = match_chunks(c, idx, track1_query(), o);
    ASSERT_EQ(matches.size(), 4u);
    EXPECT_EQ(matches[0].window_id, 101);
    EXPECT_EQ(matches[1].window_id, 201);
    EXPECT_EQ(matches[2].window_id, 102);
    EXPECT_EQ(matches[3].window_id, 201);
    EXPECT_DOUBLE_EQ(matches[1].cosine, 0.5);

    const auto r = like(c, idx, track1_query(), o);
    ASSERT_EQ(r.size(), 2u);
    // track 1: votes 2, total 2.0 -> 1.0; track 2: votes 2, total 1.0 -> 0.2 + 0.8 * 0.5 = 0.6.
    EXPECT_EQ(r[0].track_id, 1);
    EXPECT_EQ(r[0].votes, 2);
    EXPECT_DOUBLE_EQ(r[0].total_similarity, 2.0);
    EXPECT_DOUBLE_EQ(r[0].combined, 1.0);
    ASSERT_EQ(r[0].matches.size(), 2u);
    EXPECT_EQ(r[0].matches[0].query_start, 0);
    EXPECT_EQ(r[0].matches[0].query_end, 10);
    EXPECT_EQ(r[0].matches[0].start, 0);
    EXPECT_EQ(r[0].matches[0].end, 10);
    EXPECT_EQ(r[0].matches[0].distance, 0.0);
    EXPECT_EQ(r[0].matches[1].query_start, 5);
    EXPECT_EQ(r[0].matches[1].start, 5);
    EXPECT_EQ(r[0].matches[1].end, 15);
    EXPECT_EQ(r[1].track_id, 2);
    EXPECT_DOUBLE_EQ(r[1].combined, 0.6);
    EXPECT_DOUBLE_EQ(r[1].matches[0].distance, 0.5);
  }
}

TEST(Like, TrackChunksQueryATrackOfTheLibrary) {
  const Catalog c = library();
  const QueryChunks q = track_chunks(c, 1);
  EXPECT_EQ(q.embeddings, track1_query().embeddings);
  EXPECT_EQ(q.starts, track1_query().starts);
  EXPECT_EQ(q.ends, track1_query().ends);
  LikeOptions o;
  o.per_chunk = 2;
  const auto r = like(c, nullptr, q, o);
  EXPECT_EQ(r[0].track_id, 1);
  EXPECT_DOUBLE_EQ(r[0].combined, 1.0);
  // Track 3's silent window becomes a silent chunk: it does not vote.
  const QueryChunks q3 = track_chunks(c, 3);
  EXPECT_EQ(q3.silent, (std::vector<uint8_t>{0, 0, 1}));
  EXPECT_THROW(track_chunks(c, 4), Error);
}

TEST(Like, ExcludingATrackFreesItsSlots) {
  const Catalog c = library();
  const VectorIndex index = VectorIndex::build(window_index_data(c));
  LikeOptions o;
  o.per_chunk = 2;
  o.exclude_track = 1;
  for (const VectorIndex* idx : {static_cast<const VectorIndex*>(nullptr), &index}) {
    // Without track 1 both chunks match w201 (0.5) and w302 (0.5): tracks 2 and 3 tie at 1.0.
    const auto r = like(c, idx, track1_query(), o);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].track_id, 2);
    EXPECT_EQ(r[1].track_id, 3);
    EXPECT_DOUBLE_EQ(r[0].combined, 1.0);
    EXPECT_DOUBLE_EQ(r[1].combined, 1.0);
    EXPECT_EQ(r[1].votes, 2);
  }
}

TEST(Like, SilentChunksDoNotVote) {
  const Catalog c = library();
  QueryChunks q = track1_query();
  q.silent = {0, 1};
  LikeOptions o;
  o.per_chunk = 1;
  const auto r = like(c, nullptr, q, o);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].votes, 1);
  EXPECT_EQ(r[0].matches[0].chunk, 0);
}

TEST(Like, IndexAndScanAgreeOnRandomLibraries) {
  const Catalog c(test::random_table(60, 10, 16, 21));
  const VectorIndex index = VectorIndex::build(window_index_data(c));
  QueryChunks q;
  q.dim = 16;
  q.embeddings = test::random_unit(6, 16, 22);
  for (int i = 0; i < 6; ++i) {
    q.starts.push_back(5.0 * i);
    q.ends.push_back(5.0 * i + 10);
  }
  LikeOptions o;
  o.exclude_track = 20;
  const auto a = like(c, nullptr, q, o), b = like(c, &index, q, o);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].track_id, b[i].track_id);
    EXPECT_EQ(a[i].combined, b[i].combined);
    EXPECT_EQ(a[i].votes, b[i].votes);
    EXPECT_NE(a[i].track_id, 20);
  }
  EXPECT_EQ(a[0].combined <= 1.0, true);
}

TEST(Like, RejectsBadInput) {
  const Catalog c = library();
  QueryChunks q = track1_query();
  LikeOptions o;
  o.per_chunk = 0;
  EXPECT_THROW(like(c, nullptr, q, o), Error);
  o.per_chunk = 2;
  o.vote_weight = 1.5;
  EXPECT_THROW(like(c, nullptr, q, o), Error);
  o.vote_weight = 0.2;
  q.ends.pop_back();
  EXPECT_THROW(like(c, nullptr, q, o), Error);
}

}  // namespace
}  // namespace clap::search
