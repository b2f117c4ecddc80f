// service::search_query / like_query / similar_query (issue 53): the one copy of the query logic
// the CLI, the REST routes and Python call. What the front ends had each written themselves,
// and where they drifted: the query's own tracks and their copies are no result of a
// diversified list, whichever way the query was named (a track, the path of an indexed file,
// seeds). Python's like(FILE, exclude_self=True) listed the seed's copy (its folding had no
// seed tracks); the request below is what it now sends.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "service/ranked_queries.h"
#include "support/golden.h"
#include "support/sound_library.h"

namespace clap::service {
namespace {

struct CopyLibrary : test::SoundLibrary {
  std::string chirp = music + "/chirp.wav";
  std::string copy = music + "/chirp_copy.flac";

  CopyLibrary() : SoundLibrary("ranked-queries") {
    add("chirp.wav", "aevalsrc=0.5*sin(2*PI*(100+200*t)*t):d=12:s=48000");
    test::ffmpeg(copy, "-i '" + chirp + "'");
    const char* sources[] = {"sine=f=220:d=12", "sine=f=1760:d=8", "anoisesrc=c=white:d=10:a=0.3:seed=1",
                             "anoisesrc=c=pink:d=6:a=0.3:seed=2", "anoisesrc=c=brown:d=12:a=0.5:seed=3"};
    for (int i = 0; i < 5; ++i) add("other" + std::to_string(i) + ".flac", sources[i]);
    index();
  }
};

CopyLibrary& copy_library() {
  static CopyLibrary lib;
  return lib;
}

template <class R, class IdOf>
std::set<int64_t> ids_of(const RankedList<R>& list, IdOf id_of) {
  std::set<int64_t> out;
  for (const R& r : list.results) out.insert(id_of(r));
  return out;
}

int64_t like_id(const search::LikeResult& r) { return r.track_id; }
int64_t hit_id(const search::Hit& h) { return h.id; }
int64_t text_id(const search::TrackScore& r) { return r.track_id; }

TEST(RankedQueries, LikeByAnIndexedFileWithExcludeSelfAndDiversityListsNoCopyOfTheSeed) {
  Library lib(copy_library().options(), Access::ReadOnly);
  const auto snap = lib.snapshot();
  const store::Track* chirp = snap->find_track(copy_library().chirp);
  const store::Track* copy = snap->find_track(copy_library().copy);
  ASSERT_TRUE(chirp && copy);
  LikeRequest by_file;
  by_file.file = copy_library().chirp;
  by_file.exclude_self = true;
  by_file.k = 3;
  by_file.diversity = 0.5;
  by_file.options.per_chunk = 20;  // every chunk's matches reach past the copy's windows
  const LikeAnswer a = like_query(lib, *snap, by_file);
  const std::set<int64_t> got = ids_of(a.list, like_id);
  EXPECT_FALSE(got.count(chirp->id));
  EXPECT_FALSE(got.count(copy->id)) << "the seed's copy is the seed again, not a result";
  EXPECT_FALSE(a.list.results.empty());  // like lists the tracks its chunks hit: maybe fewer than k
  EXPECT_EQ(a.list.copies.size(), a.list.results.size());
}

TEST(RankedQueries, SimilarAndSearchBySeedsLeaveTheSeedsCopiesOutOfADiversifiedList) {
  Library lib(copy_library().options(), Access::ReadOnly);
  const auto snap = lib.snapshot();
  const store::Track* chirp = snap->find_track(copy_library().chirp);
  const store::Track* copy = snap->find_track(copy_library().copy);
  ASSERT_TRUE(chirp && copy);
  SimilarRequest similar;
  similar.track = chirp;
  similar.k = 3;
  similar.diversity = 0.5;
  const std::set<int64_t> hits = ids_of(similar_query(lib, *snap, similar).list, hit_id);
  EXPECT_EQ(hits.size(), 3u);
  EXPECT_FALSE(hits.count(chirp->id) || hits.count(copy->id));
  SearchRequest search;
  search.mixed = true;
  search.terms = {{TermKind::Audio, std::to_string(chirp->id), false, "--seed"}};
  search.k = 3;
  search.diversity = 0.5;
  const SearchAnswer answer = search_query(lib, *snap, search);
  ASSERT_EQ(answer.lists.size(), 1u);
  const std::set<int64_t> found = ids_of(answer.lists[0], text_id);
  EXPECT_FALSE(found.count(chirp->id) || found.count(copy->id));
}

TEST(RankedQueries, SearchInPartsEqualsSearchAtOnce) {
  // Python's search sends its texts in parts (Ctrl-C seen between): the lists are the same.
  Library lib(copy_library().options(), Access::ReadOnly);
  const auto snap = lib.snapshot();
  SearchRequest whole;
  for (int i = 0; i < 70; ++i) whole.texts.push_back("tone " + std::to_string(i));
  whole.k = 4;
  whole.diversity = 0.3;
  SearchRequest parts = whole;
  int between = 0;
  parts.between_parts = [&between] { ++between; };
  const SearchAnswer a = search_query(lib, *snap, whole), b = search_query(lib, *snap, parts);
  EXPECT_EQ(between, 1);
  ASSERT_EQ(a.lists.size(), 70u);
  ASSERT_EQ(b.lists.size(), 70u);
  for (size_t i = 0; i < a.lists.size(); ++i) {
    ASSERT_EQ(a.lists[i].results.size(), b.lists[i].results.size());
    for (size_t r = 0; r < a.lists[i].results.size(); ++r) {
      EXPECT_EQ(a.lists[i].results[r].track_id, b.lists[i].results[r].track_id);
      EXPECT_EQ(a.lists[i].results[r].score, b.lists[i].results[r].score);
    }
  }
}

}  // namespace
}  // namespace clap::service
