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
#include <utility>

#include "service/duplicates.h"
#include "service/mixes.h"
#include "service/radio.h"
#include "service/ranked_queries.h"
#include "service/recordings.h"
#include "service/sonic.h"
#include "service/taste.h"
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

// The recording (folder) of each track id.
std::multiset<std::string> folders_of(const LibrarySnapshot& snap, const std::vector<int64_t>& ids) {
  std::multiset<std::string> out;
  for (int64_t id : ids) out.insert(fs::path(snap.track(id)->path).parent_path().filename().string());
  return out;
}

// A shared fixture's index (test::copies_in_two_folders, copies_of_two_kinds) opened to read.
struct Opened {
  explicit Opened(const std::string& fixture) : dir(fixture), lib(options(fixture), Access::ReadOnly), snap(lib.snapshot()) {}
  static LibraryOptions options(const std::string& fixture) {
    LibraryOptions o;
    o.db = fixture + "/library.db";
    return o;
  }
  // test::reencoded_library(kMoreCopies) with `stored` more files of x, other bytes and one
  // embedding (copies14), in an index of its own in the test folder `name`.
  Opened(int stored, const std::string& name)
      : dir(test::reencoded_library(kMoreCopies)), lib(with_stored_copies(stored, name), Access::ReadOnly),
        snap(lib.snapshot()) {}
  static LibraryOptions with_stored_copies(int stored, const std::string& name) {
    LibraryOptions o;
    o.db = test::temp_dir() + "/" + name + "/library.db";
    test::reencoded_library_with_store_copies(kMoreCopies, stored, o.db);
    return o;
  }
  // The track of a file under music/ (nullptr when it is not indexed).
  const store::Track* track(const std::string& file) const { return snap->find_track(dir + "/music/" + file); }
  std::string dir;
  Library lib;
  std::shared_ptr<const LibrarySnapshot> snap;
};

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

// A diversified `like` of one of 32 re-encodes, when only 3 other recordings exist and 20 are
// asked for, widens its pool round after round. Each round searched the library around its
// whole pool again and around the seed, whose copies are each a search: 32 for the seed's copies
// to leave out, then 35 a round (copies12 measured 1.2-5x a plain like). Now one request's
// copies are found once (RequestCopies): every track's neighbours are searched at most once,
// however many rounds, so the work is linear in the tracks the pool reaches, at most the library.
TEST(ReencodedCopies, ADiversifiedLikeSearchesEachTracksCopiesOncePerRequest) {
  Reencoded f;
  Library lib(f.options(), Access::ReadOnly);
  const auto snap = lib.snapshot();
  const store::Track* x = snap->find_track(f.dir + "/music/x/song.flac");
  ASSERT_NE(x, nullptr);
  for (const double diversity : {0.0, 0.5}) {
    DuplicateWork work;
    LikeRequest r;
    r.track = x;
    r.exclude_self = true;
    r.k = 20;
    r.diversity = diversity;
    r.duplicate_work = &work;
    const LikeAnswer a = like_query(lib, *snap, r);
    std::multiset<std::string> got;
    for (const search::LikeResult& l : a.list.results) got.insert(fs::path(snap->track(l.track_id)->path).parent_path().filename().string());
    EXPECT_EQ(got, (std::multiset<std::string>{"y", "z", "n"})) << diversity;
    EXPECT_LE(work.neighbour_queries, kFiles) << diversity;
    std::printf("diversity %g: %lld neighbour searches\n", diversity, static_cast<long long>(work.neighbour_queries));
  }
}

// 400 more files of x than the 32 above, with other bytes and one embedding (copies14): the
// closure find_duplicates first makes around the seed holds 18 of them (each file is compared with
// its 16 nearest, all copies), the other copies held every chunk's nearest windows (1,000 at most
// a chunk), diversity left them out, and a diversified `like` listed none of y, z, n, while
// `similar` listed all three. The seed's copies each round's pool showed are now left out of the
// next round's windows; each track is still searched once (linear in the group).
TEST(ReencodedCopies, ADiversifiedLikeOfAManyCopiesSeedListsWhatSimilarLists) {
  constexpr int kStored = 400;
  Opened f(kStored, "reencoded-stored-copies");
  Library& lib = f.lib;
  const auto& snap = f.snap;
  const store::Track* x = f.track("x/song.flac");
  ASSERT_NE(x, nullptr);
  const auto folders = [&](const std::vector<int64_t>& ids) { return folders_of(*snap, ids); };
  SimilarRequest s;
  s.track = x;
  s.k = 20;
  s.diversity = 0.5;
  std::vector<int64_t> similar_ids;
  for (const search::Hit& h : similar_query(lib, *snap, s).list.results) similar_ids.push_back(h.id);
  ASSERT_EQ(folders(similar_ids), (std::multiset<std::string>{"y", "z", "n"}));
  DuplicateWork work;
  LikeRequest r;
  r.track = x;
  r.exclude_self = true;
  r.k = 20;
  r.diversity = 0.5;
  r.duplicate_work = &work;
  std::vector<int64_t> like_ids;
  for (const search::LikeResult& l : like_query(lib, *snap, r).list.results) like_ids.push_back(l.track_id);
  EXPECT_EQ(folders(like_ids), folders(similar_ids));
  EXPECT_LE(work.neighbour_queries, kFiles + kStored) << "each track's neighbours searched once a request";
  std::printf("%lld neighbour searches\n", static_cast<long long>(work.neighbour_queries));
}

// The same library, like without --exclude-self: the seed is a result of its own query, and its
// copies held every chunk's nearest windows, so the diversified list held the seed alone (copies14).
// Its copies are now left out of the windows as an excluded seed's are, and it is listed once,
// first, before the other songs.
TEST(ReencodedCopies, ADiversifiedLikeOfAManyCopiesSeedListsTheSeedOnceThenTheOtherSongs) {
  Opened f(400, "reencoded-stored-copies-self");
  Library& lib = f.lib;
  const auto& snap = f.snap;
  const store::Track* x = f.track("x/song.flac");
  ASSERT_NE(x, nullptr);
  LikeRequest r;
  r.track = x;
  r.k = 20;
  r.diversity = 0.5;
  std::vector<int64_t> ids;
  for (const search::LikeResult& l : like_query(lib, *snap, r).list.results) ids.push_back(l.track_id);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), x->id) << "the seed first";
  EXPECT_EQ(folders_of(*snap, ids), (std::multiset<std::string>{"x", "y", "z", "n"}));
}

// A group's mix (its folder's, artist's, album's tracks) left the group's tracks out by id only:
// a re-encode of its song in another folder, untagged, was the mix's first match (copies13). The
// group is now held first, as a seed is. Its members are measured against each candidate by
// embedding; only the nearest are compared by fingerprint (prints_read: the copy and its
// original, and the candidates the fingerprint rule reads anyway).
TEST(ReencodedCopies, AGroupsMixLeavesOutCopiesOfItsTracksInOtherFolders) {
  const Opened f(test::copies_in_two_folders());
  const auto& snap = f.snap;
  const store::Track* a = f.track("a/song.flac");
  ASSERT_NE(a, nullptr);
  RecordingWork work;
  SonicOptions o = ten();
  o.work = &work;
  const std::multiset<std::string> others{"y", "z", "n"};
  EXPECT_EQ(recordings_of(sonic_similar_to_tracks(*snap, {a->id}, "folder \"a\"", o)), others);
  EXPECT_EQ(recordings_of(sonic_similar_to_artist(*snap, "Artist A", o)), others);
  EXPECT_EQ(recordings_of(sonic_similar_to_album(*snap, "Album A", "", o)), others);
  EXPECT_LE(work.prints_read, 3 * 5) << "each list reads at most its 5 tracks' fingerprints";
  // Every file when copies are asked for, and the group's own tracks when the group is.
  SonicOptions every = ten();
  every.exclude_duplicates = false;
  EXPECT_EQ(recordings_of(sonic_similar_to_tracks(*snap, {a->id}, "a", every)), (std::multiset<std::string>{"b", "y", "z", "n"}));
  SonicOptions radio = ten();
  radio.include_group = true;
  EXPECT_EQ(recordings_of(sonic_similar_to_tracks(*snap, {a->id}, "a", radio)), (std::multiset<std::string>{"a", "y", "z", "n"}));
}

// The daily mixes kept copies of one recording out by content hash, MBID and ISRC only: a user
// who played a/song.flac got its untagged MP3 in another folder, b/song.mp3, in the same mix as a
// song "never played" (copies14). The mixes now tell copies as the radio and /api/sonic/ do
// (service/recordings.h, the stored fingerprints): b is a's recording, played, and no mix holds
// both files, whichever options make it.
TEST(ReencodedCopies, ADailyMixHoldsOneFileOfARecordingAndNoCopyOfAFavouriteAsNew) {
  const std::string dir = test::copies_in_two_folders();
  LibraryOptions lo;
  lo.db = dir + "/library.db";
  Library lib(lo, Access::ReadOnly);
  const auto snap = lib.snapshot();
  const store::Track* a = snap->find_track(dir + "/music/a/song.flac");
  const store::Track* b = snap->find_track(dir + "/music/b/song.mp3");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int64_t kNow = 1800000000;
  TasteHistory h;
  for (int n = 0; n < 3; ++n) h.plays.push_back({a->id, kNow - (10 + n) * 86400, false});
  TasteOptions to;
  to.now = kNow;
  const Taste taste = build_taste(*snap, h, to);
  ASSERT_FALSE(taste.centres.empty());
  for (const double discovery : {0.0, 0.5, 1.0}) {
    MixOptions mo;
    mo.size = 5;
    mo.discovery = discovery;
    mo.per_artist = 0;
    std::multiset<std::string> folders;
    for (const Mix& m : make_mixes(*snap, taste, mo))
      for (const MixPick& p : m.tracks) {
        folders.insert(fs::path(snap->track(p.track_id)->path).parent_path().filename().string());
        if (p.track_id == b->id) ADD_FAILURE() << "a copy of the favourite a listed as a new song (discovery " << discovery << ")";
      }
    EXPECT_LE(folders.count("a") + folders.count("b"), 1u) << "discovery " << discovery << ": " << ::testing::PrintToString(folders);
  }
}

// The unplayed songs a mix is made from were the centre's nearest recordings by identity (hash,
// MBID, ISRC): 400 untagged files of x, one embedding, filled that pool, the mix's own MMR step
// then folded them to one, and a mix of new songs lacked the songs behind them (copies15). The
// pool now tells them by fingerprint too, as the picks do.
TEST(ReencodedCopies, AMixOfNewSongsIsNotCrowdedOutByCopiesOfOneSong) {
  const Opened f(400, "reencoded-stored-copies-mix");
  const auto& snap = f.snap;
  const store::Track* y = f.track("y/song.flac");
  ASSERT_NE(y, nullptr);
  constexpr int64_t kNow = 1800000000;
  TasteHistory h;
  for (int n = 0; n < 3; ++n) h.plays.push_back({y->id, kNow - (10 + n) * 86400, false});
  TasteOptions to;
  to.now = kNow;
  to.nearest = 4;  // every recording (y too: the nearest songs of a centre are not only unplayed ones)
  const Taste taste = build_taste(*snap, h, to);
  ASSERT_EQ(taste.centres.size(), 1u);
  std::vector<int64_t> nearest;
  for (const auto& [id, cos] : taste.centres[0].nearest) nearest.push_back(id);
  EXPECT_EQ(folders_of(*snap, nearest), (std::multiset<std::string>{"x", "y", "z", "n"})) << "taste --nearest";
  MixOptions mo;
  mo.mixes = 1;
  mo.size = 5;
  mo.discovery = 1;
  mo.per_artist = 0;
  const std::vector<Mix> mixes = make_mixes(*snap, taste, mo);
  ASSERT_EQ(mixes.size(), 1u);
  std::vector<int64_t> fresh;
  for (const MixPick& p : mixes[0].tracks)
    if (!p.known) fresh.push_back(p.track_id);
  EXPECT_EQ(folders_of(*snap, fresh), (std::multiset<std::string>{"x", "z", "n"}));
}

// H14S-4: x's files of two kinds are two groups (the path test below); a diversified similar or
// like of one of them listed a file of the other kind (/api/similar on 300 re-encodes in three
// bit-rate classes listed two). A listed candidate is now also told from the listed tracks by the
// fingerprint rule, and its group joins theirs.
TEST(ReencodedCopies, ADiversifiedListHoldsNoOtherFileOfTheSeedWhateverItsFilesEncodings) {
  Opened f(test::copies_of_two_kinds(17));
  const auto& snap = f.snap;
  for (const char* seed : {"x/mp3-64-3.mp3", "x/mp3-128-3.mp3", "x/song.flac"}) {
    const store::Track* from = f.track(seed);
    ASSERT_NE(from, nullptr) << seed;
    for (const double diversity : {0.0, 0.5, 1.0}) {
      SimilarRequest s;
      s.track = from;
      s.k = 100;
      s.diversity = diversity;
      std::vector<int64_t> similar;
      for (const search::Hit& hit : similar_query(f.lib, *snap, s).list.results) similar.push_back(hit.id);
      EXPECT_EQ(folders_of(*snap, similar).count("x"), 0u) << seed << " similar, diversity " << diversity;
      LikeRequest l;
      l.track = from;
      l.k = 100;
      l.diversity = diversity;
      std::vector<int64_t> liked;
      for (const search::LikeResult& r : like_query(f.lib, *snap, l).list.results) liked.push_back(r.track_id);
      EXPECT_EQ(folders_of(*snap, liked).count("x"), 1u) << seed << " like (the seed itself), diversity " << diversity;
      l.exclude_self = true;
      liked.clear();
      for (const search::LikeResult& r : like_query(f.lib, *snap, l).list.results) liked.push_back(r.track_id);
      EXPECT_EQ(folders_of(*snap, liked).count("x"), 0u) << seed << " like --exclude-self, diversity " << diversity;
    }
  }
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

// H14S-3: 17 files of x at 64 kb/s and 17 at 128 kb/s (MP3s; beside the FLAC). The duplicate rule
// looks for a file's copies among its 16 nearest tracks, which are files of its own kind, so x's
// files made one group per kind, and a path from one of them listed x's files of the other kind
// as steps. The path's own tracks are now also compared with each other.
TEST(ReencodedCopies, APathListsItsEndsRecordingOnceWhateverItsFilesEncodings) {
  const Opened f(test::copies_of_two_kinds(17));
  const auto& snap = f.snap;
  const store::Track* y = f.track("y/song.flac");
  ASSERT_NE(y, nullptr);
  for (const char* start : {"x/mp3-64-3.mp3", "x/mp3-128-3.mp3", "x/song.flac"}) {
    const store::Track* from = f.track(start);
    ASSERT_NE(from, nullptr) << start;
    SonicOptions four;
    four.count = 4;
    for (const auto& [a, b] : {std::pair{from, y}, std::pair{y, from}}) {
      const std::multiset<std::string> path = recordings_of(sonic_path(*snap, *a, *b, four));
      EXPECT_EQ(path.count("x"), 1u) << start << (a == y ? " as the end" : " as the start");
    }
  }
}

// H14S-3 in `duplicates` itself (copies16): 17 MP3s of x at 64 kb/s and 17 at 128 kb/s beside the
// FLAC. A track's candidates were its 16 nearest, all files of its own kind, so x came out as one
// group per kind (the FLAC with one of them), and 300 re-encodes in three bit-rate classes as
// three. A track's copies found no longer use up its 16 candidates: x is one group of 35, from
// the whole library and around any one of its files, while the song cut shorter and another take
// of it (v/) and the other songs stay apart. The remix (x at full level under y's percussion)
// is a copy by the fingerprint rule (bit error rate 0.005: the percussion leaves x's chroma as
// it was), on main as here: it is in x's group.
TEST(ReencodedCopies, DuplicatesGroupsEveryEncodingOfARecordingAndNoOtherRecording) {
  const Opened f(test::two_kinds_and_variants(17));
  const auto& snap = f.snap;
  const auto folders = [&](const DuplicateGroup& g) {
    std::vector<int64_t> ids;
    for (const DuplicateMember& m : g.members) ids.push_back(m.track_id);
    return folders_of(*snap, ids);
  };
  std::vector<std::string> files_of_x(35, "x");  // the FLAC and 2 × 17 MP3s
  files_of_x.push_back("v");                       // and the remix
  const std::multiset<std::string> x(files_of_x.begin(), files_of_x.end());
  const std::vector<DuplicateGroup> all = find_duplicates(*snap, {}, {}, {}, nullptr, false);
  ASSERT_EQ(all.size(), 1u) << "one group: x's files";
  EXPECT_EQ(folders(all[0]), x);
  for (const char* file : {"x/mp3-64-3.mp3", "x/mp3-128-3.mp3", "x/song.flac"}) {
    const store::Track* t = f.track(file);
    ASSERT_NE(t, nullptr) << file;
    DuplicateWork work;
    const std::vector<DuplicateGroup> around = find_duplicates(*snap, {}, {t->id}, {}, &work, false);
    ASSERT_EQ(around.size(), 1u) << file;
    EXPECT_EQ(folders(around[0]), x) << file;
    // Each file of the group is searched once around it (36), and the tracks its walk meets
    // are compared once each: not x's files with each other again and again.
    EXPECT_LE(work.neighbour_queries, 36) << file;
  }
  for (const char* other : {"v/short.flac", "v/take2.flac", "y/song.flac"}) {
    const store::Track* t = f.track(other);
    ASSERT_NE(t, nullptr) << other;
    EXPECT_TRUE(find_duplicates(*snap, {}, {t->id}, {}, nullptr, false).empty()) << other << " is no copy";
  }
}

// Another song with hundreds of files near the seed (copies16): y's nearest windows are x's,
// and 432 files of x (400 stored, one embedding) held every chunk's 1,000 nearest. Diversity
// listed x once, and `like y` listed x alone, short of the 3 asked for, though z and n are in the
// index (`similar` and the sonic lists, which rank whole tracks, were full). The other files of a
// recording a round listed are now left out of the next round's windows, as the seed's are,
// and each track is still searched once a request.
TEST(ReencodedCopies, ADiversifiedLikeIsFilledPastAnotherSongsManyCopies) {
  constexpr int kStored = 400;
  Opened f(kStored, "reencoded-stored-copies-crowd");
  const auto& snap = f.snap;
  const store::Track* y = f.track("y/song.flac");
  ASSERT_NE(y, nullptr);
  for (const bool exclude_self : {true, false}) {
    DuplicateWork work;
    LikeRequest r;
    r.track = y;
    r.exclude_self = exclude_self;
    r.k = exclude_self ? 3 : 4;
    r.diversity = 0.5;
    r.duplicate_work = &work;
    std::vector<int64_t> ids;
    for (const search::LikeResult& l : like_query(f.lib, *snap, r).list.results) ids.push_back(l.track_id);
    std::multiset<std::string> want{"x", "z", "n"};
    if (!exclude_self) want.insert("y");
    EXPECT_EQ(folders_of(*snap, ids), want) << "exclude_self " << exclude_self;
    EXPECT_LE(work.neighbour_queries, kFiles + kStored) << "each track's neighbours searched once a request";
    std::printf("exclude_self %d: %lld neighbour searches\n", exclude_self, static_cast<long long>(work.neighbour_queries));
  }
  SimilarRequest s;
  s.track = y;
  s.k = 3;
  s.diversity = 0.5;
  std::vector<int64_t> similar;
  for (const search::Hit& h : similar_query(f.lib, *snap, s).list.results) similar.push_back(h.id);
  EXPECT_EQ(folders_of(*snap, similar), (std::multiset<std::string>{"x", "z", "n"}));
  SonicOptions three;
  three.count = 3;
  EXPECT_EQ(recordings_of(sonic_similar(*snap, *y, three)), (std::multiset<std::string>{"x", "z", "n"}));
}

}  // namespace
}  // namespace clap::service
