// One recording in many files with other bytes and no identifying tags (copies12): an untagged
// FLAC, an MP3 made from it and 30 more MP3s a comment tag apart (tests/support/recordings.h),
// beside three other recordings, indexed by the real CLI. Only the stored fingerprints tell the
// files are one recording. The lists that hold a recording once (service/recordings.h: the sonic
// queries, the radio's picks) list it once, and the fingerprint rule's work is counted, never
// timed: every file is read once and compared about once, not with every file listed before it,
// however often the list is asked again with a wider pool.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <string>

#include "service/radio.h"
#include "service/recordings.h"
#include "service/sonic.h"
#include "support/golden.h"
#include "support/recordings.h"

namespace clap::service {
namespace {

namespace fs = std::filesystem;

constexpr int kMoreCopies = 30;
constexpr int kFiles = 2 + kMoreCopies + 3;  // x's files, then y, z and the noise

struct Reencoded {
  std::string dir = test::reencoded_library(kMoreCopies);
  LibraryOptions options() const {
    LibraryOptions o;
    o.db = dir + "/library.db";
    return o;
  }
};

// The recording (its folder: x, y, z, n) of each track.
std::multiset<std::string> recordings_of(const std::vector<SonicMatch>& matches) {
  std::multiset<std::string> out;
  for (const SonicMatch& m : matches) out.insert(fs::path(m.track->path).parent_path().filename().string());
  return out;
}

SonicOptions ten() {
  SonicOptions o;
  o.count = 10;
  return o;
}

TEST(ReencodedCopies, SonicListsTheRecordingOnceComparingEachFileAboutOnce) {
  Reencoded f;
  Library lib(f.options(), Access::ReadOnly);
  const auto snap = lib.snapshot();
  const store::Track* y = snap->find_track(f.dir + "/music/y/song.flac");
  ASSERT_NE(y, nullptr);
  for (int64_t count : {3, 10, 50}) {  // 3 and 10 widen the pool (22 then 35 tracks ranked): no pair twice
    RecordingWork work;
    SonicOptions o;
    o.count = count;
    o.work = &work;
    EXPECT_EQ(recordings_of(sonic_similar(*snap, *y, o)), (std::multiset<std::string>{"x", "z", "n"})) << count;
    // Each of the 34 other files is compared with the nearest listed one of its length first: a
    // copy of a listed recording matches at once. The recordings that are not copies are
    // compared with every track listed before them (the seed and at most three others), by their
    // fingerprints' shared items only: only copies are aligned (at most one per file of x).
    EXPECT_LE(work.items_compared, kFiles - 1 + 3 * 4) << count;
    EXPECT_LE(work.fingerprint_matches, 2 + kMoreCopies) << count;
    EXPECT_LE(work.tracks_read, kFiles) << count;
    std::printf("count %lld: %lld item comparisons, %lld alignments, %lld tracks read\n", static_cast<long long>(count),
                static_cast<long long>(work.items_compared), static_cast<long long>(work.fingerprint_matches),
                static_cast<long long>(work.tracks_read));
  }
  SonicOptions every;
  every.count = 50;
  every.exclude_duplicates = false;
  EXPECT_EQ(recordings_of(sonic_similar(*snap, *y, every)).count("x"), static_cast<size_t>(2 + kMoreCopies));

  // The seed's own re-encodes are the seed again; a text search and a group's mix list x once.
  const store::Track* x = snap->find_track(f.dir + "/music/x/song.mp3");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(recordings_of(sonic_similar(*snap, *x, ten())), (std::multiset<std::string>{"y", "z", "n"}));
  EXPECT_EQ(recordings_of(sonic_similar_to_tracks(*snap, {y->id}, "y", ten())),
            (std::multiset<std::string>{"x", "z", "n"}));
  EXPECT_EQ(recordings_of(sonic_search(lib, *snap, "a song", ten())),
            (std::multiset<std::string>{"x", "y", "z", "n"}));
}

// A player's radio (MPD) appends one file of x, not two of its files (the playlist radio already
// leaves copies of its seed out; its picks among themselves are one recording each).
TEST(ReencodedCopies, TheRadioAppendsOneFileOfTheRecording) {
  Reencoded f;
  Library lib(f.options(), Access::ReadOnly);
  RadioStationOptions o;
  o.min_queue = 10;
  RadioStation station(lib, MusicFolderMap(f.dir + "/music"), o);
  QueueView queue;
  queue.current_uri = "y/song.flac";
  std::multiset<std::string> picked;
  for (const RadioPick& p : station.fill(queue).picks) picked.insert(fs::path(p.uri).parent_path().string());
  EXPECT_EQ(picked, (std::multiset<std::string>{"x", "z", "n"}));
}

}  // namespace
}  // namespace clap::service
