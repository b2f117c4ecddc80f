// Many byte-identical copies of one file (issue 53, M9): a sample pack or a folder of identical
// jingles used to make duplicate scans compare every copy with every other (2,306 copies: `path`
// 150 s, /api/sonic/findSonicPath 214 s). The work must grow with the number of different
// recordings, not with the copies: each group of identical files is compared once, through one
// representative. Asserted on what the scan did (service::DuplicateWork counts it), never on a
// time: 120 copies of a 2 s WAV and six different files, indexed by the real indexer.
//
// Before the fix, a scan seeded with the copies measured each copy against the group's first
// once per seed in the group (120 × 119 fingerprint comparisons) and examined every copy's
// nearest tracks (120 neighbour queries): the bounds below fail by one to three orders of magnitude.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/deadline.h"
#include "service/diversity.h"
#include "service/duplicates.h"
#include "service/playlists.h"
#include "support/golden.h"
#include "support/sound_library.h"

namespace clap::service {
namespace {

namespace fs = std::filesystem;

constexpr int kCopies = 120;  // well above the 16 neighbours a track is compared with; indexing stays quick

struct CopiesLibrary : test::SoundLibrary {
  std::vector<std::string> distinct;  // paths of the six different files

  CopiesLibrary() : SoundLibrary("many-copies") {
    const std::string jingle = dir + "/jingle.wav";
    test::ffmpeg(jingle, "-f lavfi -i \"sine=f=440:d=2\"");
    fs::create_directories(music + "/copies");
    for (int i = 0; i < kCopies; ++i) fs::copy_file(jingle, music + "/copies/" + std::to_string(i) + ".wav");
    const char* sources[] = {"sine=f=220:d=12", "sine=f=1500:d=12", "anoisesrc=color=pink:d=12:seed=1",
                             "aevalsrc=sin(2*PI*(200+400*t)*t):d=12", "aevalsrc=sin(2*PI*(900-300*t)*t):d=12",
                             "anoisesrc=color=brown:d=14:seed=5"};
    for (int i = 0; i < 6; ++i) distinct.push_back(add("songs/" + std::to_string(i) + ".flac", sources[i]));
    index();
  }
};

CopiesLibrary& copies_library() {
  static CopiesLibrary lib;
  return lib;
}

// The ids of the copies (every track under copies/).
std::vector<int64_t> copy_ids(const LibrarySnapshot& snap) {
  std::vector<int64_t> ids;
  for (const store::Track& t : snap.tracks())
    if (t.path.find("/copies/") != std::string::npos) ids.push_back(t.id);
  return ids;
}

// The group holding every copy, and no group holding two copies apart.
void expect_one_group_of_copies(const std::vector<DuplicateGroup>& groups, const std::vector<int64_t>& copies) {
  const std::map<int64_t, size_t> group_of = group_index(groups);
  std::set<size_t> seen;
  for (int64_t id : copies) {
    const auto it = group_of.find(id);
    ASSERT_NE(it, group_of.end()) << "copy " << id << " is in no group";
    seen.insert(it->second);
  }
  EXPECT_EQ(seen.size(), 1u);
}

TEST(ManyCopies, TheWholeLibraryScanComparesEachGroupOfIdenticalFilesOnce) {
  CopiesLibrary& f = copies_library();
  Library lib(f.options(), Access::ReadOnly);
  const auto snap = lib.snapshot();
  const std::vector<int64_t> copies = copy_ids(*snap);
  ASSERT_EQ(copies.size(), static_cast<size_t>(kCopies));
  DuplicateWork work;
  const std::vector<DuplicateGroup> groups = find_duplicates(*snap, {}, {}, {}, &work);
  expect_one_group_of_copies(groups, copies);
  // Seven recordings: at most seven neighbour lists, one header per content, and per group of
  // identical files one comparison for the pairs and one for the keeper's report.
  EXPECT_LE(work.neighbour_queries, 7);
  EXPECT_LE(work.headers_read, 7);
  EXPECT_LE(work.pairs_measured, 2 * 7);
  // The keeper of the copies is one of them; the report of each copy is the keeper's measurement.
  for (const DuplicateGroup& g : groups)
    if (g.members.size() == static_cast<size_t>(kCopies))
      for (const DuplicateMember& m : g.members) {
        EXPECT_TRUE(m.format_known) << m.format_error;
        EXPECT_DOUBLE_EQ(m.offset_s, 0.0);
      }
}

TEST(ManyCopies, AScanAroundTheCopiesComparesTheirGroupOnce) {
  CopiesLibrary& f = copies_library();
  Library lib(f.options(), Access::ReadOnly);
  const auto snap = lib.snapshot();
  const std::vector<int64_t> copies = copy_ids(*snap);
  DuplicateWork work;
  const std::vector<DuplicateGroup> groups = find_duplicates(*snap, {}, copies, {}, &work);
  expect_one_group_of_copies(groups, copies);
  EXPECT_LE(work.neighbour_queries, 7);  // before: one per copy, 120
  EXPECT_LE(work.pairs_measured, 2 * 7);  // before: 120 × 119
  EXPECT_LE(work.headers_read, 7);        // before: one per copy
}

TEST(ManyCopies, DiversityListsOneCopy) {
  CopiesLibrary& f = copies_library();
  Library lib(f.options(), Access::ReadOnly);
  const auto snap = lib.snapshot();
  std::vector<int64_t> ids = copy_ids(*snap);
  std::vector<double> relevance(ids.size(), 1.0);
  const std::vector<size_t> order = diversify_order(*snap, ids, relevance, 50, 0.5);
  EXPECT_EQ(order.size(), 1u);
}

TEST(ManyCopies, APathAndARadioTakeOneCopyAndSaySoWhenCopiesWereLeftOut) {
  CopiesLibrary& f = copies_library();
  Library lib(f.options(), Access::ReadOnly);
  const auto snap = lib.snapshot();
  const std::vector<int64_t> copies = copy_ids(*snap);
  const std::set<int64_t> copy_set(copies.begin(), copies.end());
  const auto count_copies = [&](const Playlist& p) {
    int n = 0;
    for (const auto& h : p.tracks) n += copy_set.count(h.id) > 0;
    return n;
  };
  const Playlist path = track_path(*snap, f.distinct[0], f.distinct[1], 7);
  EXPECT_LE(count_copies(path), 1);
  EXPECT_EQ(path.tracks.front().id, snap->find_track(f.distinct[0])->id);
  EXPECT_EQ(path.tracks.back().id, snap->find_track(f.distinct[1])->id);

  // A radio from one copy: the other copies never play, and the playlist says they were left out.
  RadioRequest request;
  request.seeds = {std::to_string(copies[0])};
  request.length = 5;
  const Playlist radio_list = radio(lib, *snap, request);
  EXPECT_EQ(count_copies(radio_list), 1);
  EXPECT_EQ(radio_list.tracks.front().id, copies[0]);
  EXPECT_GT(radio_list.copies_left_out, 0);
  EXPECT_EQ(radio_list.tracks.size(), 5u);
}

// Past the request's time budget (core/deadline.h) a scan stops with DeadlineExceeded; without a
// budget (the CLI) it runs to the end.
TEST(ManyCopies, AScanStopsAtTheTimeBudget) {
  CopiesLibrary& f = copies_library();
  Library lib(f.options(), Access::ReadOnly);
  const auto snap = lib.snapshot();
  {
    const ScopedDeadline budget(1e-9);
    EXPECT_THROW(find_duplicates(*snap, {}), DeadlineExceeded);
    try {
      track_path(*snap, f.distinct[0], f.distinct[1], 7);
      ADD_FAILURE() << "the path ran past its budget";
    } catch (const DeadlineExceeded& e) {
      EXPECT_NE(std::string(e.what()).find("time budget"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(find_duplicates(*snap, {}).empty());  // the budget ended with its scope
}

}  // namespace
}  // namespace clap::service
