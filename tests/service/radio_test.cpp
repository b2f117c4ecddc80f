// The radio for a player's queue (service/radio.h) on a small index of real encoded files: the
// music folder's URIs both ways, what is appended and when, the no-repeat window, songs already
// played, tracks outside the music folder and the errors. The player itself (MPD) is exercised by
// tests/integrations/mpd_radio_test.py.
#include "service/radio.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "service/playlists.h"
#include "support/golden.h"
#include "support/sound_library.h"

namespace clap::service {
namespace {

namespace fs = std::filesystem;

TEST(MusicFolderMap, MapsUrisToFilesAndBack) {
  const std::string dir = test::temp_dir() + "/radio-map";
  fs::remove_all(dir);
  fs::create_directories(dir + "/music/A b");
  const MusicFolderMap map(dir + "/music/");  // a trailing slash is the same folder
  EXPECT_EQ(map.folder(), dir + "/music");
  EXPECT_EQ(map.path_of("A b/01 x.flac"), dir + "/music/A b/01 x.flac");
  EXPECT_EQ(map.path_of("file:///elsewhere/y.mp3"), "/elsewhere/y.mp3");
  EXPECT_EQ(map.path_of("http://radio.example/stream"), std::nullopt);
  EXPECT_EQ(map.path_of("../secret.flac"), std::nullopt);
  EXPECT_EQ(map.path_of("/abs/z.flac"), std::nullopt);
  EXPECT_EQ(map.path_of(""), std::nullopt);
  EXPECT_EQ(map.uri_of(dir + "/music/A b/01 x.flac"), "A b/01 x.flac");
  EXPECT_EQ(map.uri_of(dir + "/music-other/x.flac"), std::nullopt);  // a prefix of the name is not the folder
  EXPECT_EQ(map.uri_of(dir + "/x.flac"), std::nullopt);

  // The folder given through a symlink: indexed paths under the real folder map too.
  fs::create_directory_symlink(dir + "/music", dir + "/link");
  const MusicFolderMap linked(dir + "/link");
  EXPECT_EQ(linked.uri_of(dir + "/music/A b/01 x.flac"), "A b/01 x.flac");
  EXPECT_EQ(linked.uri_of(dir + "/link/A b/01 x.flac"), "A b/01 x.flac");

  EXPECT_NE(test::error_of([&] { MusicFolderMap m(dir + "/nope"); }).find("nope: not a folder"), std::string::npos);
  EXPECT_THROW(MusicFolderMap(""), InvalidArgument);
}

// Eight real files in two folders, indexed once.
struct RadioLibrary : test::SoundLibrary {
  std::vector<std::string> uris;

  RadioLibrary() : SoundLibrary("radio-station") {
    // Eight sounds the tiny test model does not take for copies of one recording (it takes
    // noises of different colours for copies: the radio plays one of them only).
    const char* sources[] = {"sine=f=220:d=12",  "sine=f=330:d=12",
                             "sine=f=880:d=12",  "sine=f=550:d=12",
                             "sine=f=1500:d=12", "anoisesrc=color=pink:d=12:seed=1",
                             "aevalsrc=sin(2*PI*(200+400*t)*t):d=12", "aevalsrc=sin(2*PI*(900-300*t)*t):d=12"};
    for (int i = 0; i < 8; ++i) {
      const std::string uri = std::string(i < 4 ? "one" : "two/sub") + "/song " + std::to_string(i) + ".flac";
      add(uri, sources[i], "-metadata title=Song" + std::to_string(i));
      uris.push_back(uri);
    }
    index();
  }
};

RadioLibrary& radio_library() {
  static RadioLibrary lib;
  return lib;
}

std::vector<std::string> uris_of(const RadioFill& fill) {
  std::vector<std::string> out;
  for (const RadioPick& p : fill.picks) out.push_back(p.uri);
  return out;
}

TEST(RadioStation, AppendsWhatThePlaylistRadioChoosesWhenTheQueueRunsLow) {
  RadioLibrary& f = radio_library();
  Library lib(f.options(), Access::ReadOnly);
  RadioStationOptions o;
  o.min_queue = 3;
  RadioStation station(lib, MusicFolderMap(f.music), o);

  EXPECT_TRUE(station.fill({}).picks.empty());  // stopped: nothing to continue from

  QueueView queue;
  queue.current_uri = f.uris[0];
  const RadioFill first = station.fill(queue);
  EXPECT_EQ(first.seed_uri, f.uris[0]);
  EXPECT_EQ(first.wanted, 3);
  ASSERT_EQ(first.picks.size(), 3u);
  // The same tracks, in the same order, as `playlist --seed` (the one radio of the library).
  RadioRequest request;
  request.seeds = {f.music + "/" + f.uris[0]};
  request.length = 4;
  const Playlist playlist = radio(lib, *lib.snapshot(), request);
  ASSERT_EQ(playlist.tracks.size(), 4u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(first.picks[i].track_id, playlist.tracks[i + 1].id);
    EXPECT_EQ(f.music + "/" + first.picks[i].uri, first.picks[i].path);
    EXPECT_FLOAT_EQ(static_cast<float>(first.picks[i].score), static_cast<float>(playlist.tracks[i + 1].score));
  }

  // Enough songs queued: nothing more.
  queue.upcoming_uris = uris_of(first);
  EXPECT_TRUE(station.fill(queue).picks.empty());

  // The queue advances song by song: one song is appended each time, never one heard, queued
  // or appended before, until the library runs out (8 tracks: the seed, 3, then 4 more).
  std::vector<std::string> all = {f.uris[0]};
  for (const auto& u : queue.upcoming_uris) all.push_back(u);
  for (int step = 0; step < 6; ++step) {
    queue.played_uris.push_back(*queue.current_uri);
    queue.current_uri = queue.upcoming_uris.front();
    queue.upcoming_uris.erase(queue.upcoming_uris.begin());
    const RadioFill next = station.fill(queue);
    EXPECT_EQ(next.wanted, step < 5 ? 1 : 2);  // from step 4 on nothing is added, so the queue shrinks
    if (step < 4) {
      ASSERT_EQ(next.picks.size(), 1u) << "step " << step;
      all.push_back(next.picks[0].uri);
      queue.upcoming_uris.push_back(next.picks[0].uri);
    } else {
      EXPECT_TRUE(next.picks.empty()) << "step " << step << ": " << (next.picks.empty() ? "" : next.picks[0].uri);
    }
  }
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 8u);
}

TEST(RadioStation, TextsSteerItAsTheyDoThePlaylistRadio) {
  RadioLibrary& f = radio_library();
  Library lib(f.options(), Access::ReadOnly);
  RadioStationOptions o;
  o.min_queue = 3;
  o.texts = {"warm lo-fi guitar"};
  o.diversity = 0.6;
  RadioStation station(lib, MusicFolderMap(f.music), o);
  QueueView queue;
  queue.current_uri = f.uris[5];
  const RadioFill fill = station.fill(queue);
  RadioRequest request;
  request.seeds = {f.music + "/" + f.uris[5]};
  request.texts = o.texts;
  request.diversity = 0.6;
  request.length = 4;
  const Playlist playlist = radio(lib, *lib.snapshot(), request);
  ASSERT_EQ(fill.picks.size(), 3u);
  ASSERT_EQ(playlist.tracks.size(), 4u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(fill.picks[i].track_id, playlist.tracks[i + 1].id) << i;
}

TEST(RadioStation, ANewStationKnowsTheSongsAlreadyPlayedAndTheWindowForgets) {
  RadioLibrary& f = radio_library();
  Library lib(f.options(), Access::ReadOnly);
  RadioStationOptions o;
  o.min_queue = 7;  // every other track
  QueueView queue;
  queue.played_uris = {f.uris[1], f.uris[2]};
  queue.current_uri = f.uris[0];
  RadioStation station(lib, MusicFolderMap(f.music), o);
  const RadioFill fill = station.fill(queue);
  EXPECT_EQ(fill.wanted, 7);
  ASSERT_EQ(fill.picks.size(), 5u);  // 8 tracks, less the current one and the two played
  for (const auto& p : fill.picks) EXPECT_TRUE(p.uri != f.uris[1] && p.uri != f.uris[2] && p.uri != f.uris[0]) << p.uri;

  // --no-repeat 0: only the queue itself is left out, so a fresh queue gets tracks heard before.
  o.no_repeat = 0;
  o.min_queue = 1;
  RadioStation forgetful(lib, MusicFolderMap(f.music), o);
  QueueView again;
  again.current_uri = f.uris[0];
  const RadioFill a = forgetful.fill(again);
  const RadioFill b = forgetful.fill(again);
  ASSERT_EQ(a.picks.size(), 1u);
  ASSERT_EQ(b.picks.size(), 1u);
  EXPECT_EQ(a.picks[0].uri, b.picks[0].uri);
  EXPECT_TRUE(forgetful.recent().empty());
}

TEST(RadioStation, TracksOutsideTheMusicFolderAreNotQueued) {
  RadioLibrary& f = radio_library();
  Library lib(f.options(), Access::ReadOnly);
  RadioStationOptions o;
  o.min_queue = 7;
  RadioStation station(lib, MusicFolderMap(f.music + "/two"), o);  // MPD sees only "two/"
  QueueView queue;
  queue.current_uri = "sub/song 4.flac";
  const RadioFill fill = station.fill(queue);
  ASSERT_EQ(fill.picks.size(), 3u);  // the other three under two/
  EXPECT_EQ(fill.outside_folder, 4);
  for (const auto& p : fill.picks) EXPECT_EQ(p.uri.rfind("sub/song ", 0), 0u) << p.uri;
}

TEST(RadioStation, FindsTheMusicFolderFromTheIndexWhenNotGiven) {
  RadioLibrary& f = radio_library();
  Library lib(f.options(), Access::ReadOnly);
  RadioStationOptions o;
  o.min_queue = 2;
  RadioStation station(lib, std::nullopt, o);  // MPD over TCP does not tell its music folder
  EXPECT_FALSE(station.folder());
  QueueView queue;
  queue.current_uri = "two/sub/song 4.flac";  // one indexed file ends with it
  const RadioFill fill = station.fill(queue);
  ASSERT_TRUE(station.folder());
  EXPECT_EQ(station.folder()->folder(), f.music);
  ASSERT_EQ(fill.picks.size(), 2u);
  for (const auto& p : fill.picks) EXPECT_EQ(f.music + "/" + p.uri, p.path);

  RadioStation unknown(lib, std::nullopt, o);
  queue.current_uri = "two/sub/not indexed.flac";
  const std::string e = test::error_of([&] { unknown.fill(queue); });
  EXPECT_NE(e.find("'two/sub/not indexed.flac'"), std::string::npos) << e;
  EXPECT_NE(e.find("not in the index"), std::string::npos) << e;
  EXPECT_FALSE(unknown.folder());
}

TEST(RadioStation, ASongThatIsNotAnIndexedFileIsNamed) {
  RadioLibrary& f = radio_library();
  Library lib(f.options(), Access::ReadOnly);
  RadioStation station(lib, MusicFolderMap(f.music), {});
  QueueView queue;
  queue.current_uri = "one/not indexed.flac";
  const std::string e = test::error_of([&] { station.fill(queue); });
  EXPECT_NE(e.find("'one/not indexed.flac'"), std::string::npos) << e;
  EXPECT_NE(e.find(f.music + "/one/not indexed.flac"), std::string::npos) << e;
  EXPECT_NE(e.find("not in the index"), std::string::npos) << e;
  queue.current_uri = "http://radio.example/stream";
  EXPECT_NE(test::error_of([&] { station.fill(queue); }).find("a stream, or a URI outside it"), std::string::npos);

  RadioStationOptions bad;
  bad.min_queue = 0;
  EXPECT_THROW(RadioStation(lib, MusicFolderMap(f.music), bad), InvalidArgument);
  bad.min_queue = 1;
  bad.diversity = 1.5;
  EXPECT_THROW(RadioStation(lib, MusicFolderMap(f.music), bad), InvalidArgument);
}

}  // namespace
}  // namespace clap::service
