// The media-server routes of `clapsearch serve` (/api/sonic/, docs/integrations.md) over real
// HTTP on loopback: real files encoded by ffmpeg with the tags media servers match on (MBID,
// ISRC, artist, title, album; Japanese and Cyrillic names; a live version beside the studio one;
// a second encoding of one recording), indexed by the real CLI. Plus the upgrade of an index
// made before the identifiers were stored: the next `index` run reads the tags again and keeps
// every embedding.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "search/filter.h"
#include "server/running_server.h"
#include "service/filters.h"
#include "store/sqlite_store.h"
#include "support/golden.h"

namespace clap::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kQueenMbid = "b1a9c0e9-d987-4042-ae91-78d6a3267d69";
constexpr const char* kYoasobiIsrc = "JPP302000001";

std::string model_dir() { return test::case_dir("tiny-unfused"); }

std::string tags(const std::string& artist, const std::string& title, const std::string& extra = "") {
  return " -metadata " + test::quoted("artist=" + artist) + " -metadata " + test::quoted("title=" + title) + " " + extra;
}

struct Library {
  std::string dir = test::temp_dir() + "/sonic";
  std::string music = dir + "/music";
  std::string db = dir + "/library.db";

  Library() {
    fs::remove_all(dir);
    const std::string mbid = std::string("-metadata MUSICBRAINZ_TRACKID=") + kQueenMbid;
    test::ffmpeg(music + "/Queen/Night/bohemian.flac",
                 "-f lavfi -i \"sine=f=440:d=20\"" +
                     tags("Queen", "Bohemian Rhapsody (Remastered 2011)",
                          mbid + " -metadata ISRC=GBUM71029604 -metadata \"album=A Night at the Opera\" "
                                 "-metadata \"album_artist=Queen\""));
    // The same recording again (another encoding, the same MBID): the seed's duplicate.
    test::ffmpeg(music + "/copies/bohemian.ogg",
                 "-f lavfi -i \"sine=f=440:d=20\"" + tags("Queen", "Bohemian Rhapsody", mbid + " -metadata album=Greatest"));
    test::ffmpeg(music + "/Queen/Live/bohemian.mp3",
                 "-f lavfi -i \"sine=f=460:d=22\"" + tags("Queen", "Bohemian Rhapsody (Live)", "-metadata album=Live"));
    test::ffmpeg(music + "/ru/kino.ogg",
                 "-f lavfi -i \"anoisesrc=color=pink:d=16:seed=3\"" + tags("Кино", "Группа крови"));
    test::ffmpeg(music + "/jp/yoasobi.flac", "-f lavfi -i \"aevalsrc=sin(2*PI*(200+400*t)*t):d=12\"" +
                                                 tags("YOASOBI", "夜に駆ける", std::string("-metadata ISRC=") + kYoasobiIsrc));
    test::ffmpeg(music + "/other/adele-hello.mp3",
                 "-f lavfi -i \"anoisesrc=color=brown:d=14:seed=5\"" + tags("Adele", "Hello"));
    test::ffmpeg(music + "/other/adele-someone.mp3", "-f lavfi -i \"sine=f=300:d=15\"" + tags("Adele", "Someone Like You"));
    test::ffmpeg(music + "/other/lionel-hello.mp3", "-f lavfi -i \"sine=f=880:d=18\"" + tags("Lionel Richie", "Hello"));
    test::index_library(music, db, model_dir());
  }
};

// A small library of its own with a podcast beside the songs (genres Rock, Jazz, Podcast): the
// music-only rule and `where` on the media-server routes. The podcast sounds near the seed
// (a sine 30 Hz off: no copy of it, duplicateCosine), so it is a match whenever the rules let it be one.
struct MusicOnlyLibrary {
  std::string dir = test::temp_dir() + "/sonic-music-only";
  std::string music = dir + "/music";
  std::string db = dir + "/library.db";

  MusicOnlyLibrary() {
    fs::remove_all(dir);
    test::ffmpeg(music + "/rock/seed.flac",
                 "-f lavfi -i \"sine=f=440:d=16\"" + tags("Seed Band", "Seed", "-metadata genre=Rock -metadata album=First"));
    test::ffmpeg(music + "/talk/episode.mp3",
                 "-f lavfi -i \"sine=f=470:d=16\"" +
                     tags("The Hosts", "Episode 1", "-metadata genre=Podcast -metadata album=First"));
    test::ffmpeg(music + "/jazz/blue.mp3", "-f lavfi -i \"sine=f=520:d=16\"" + tags("Blue Trio", "Blue", "-metadata genre=Jazz"));
    test::ffmpeg(music + "/rock/noise.ogg",
                 "-f lavfi -i \"anoisesrc=color=pink:d=16:seed=3\"" + tags("Noise Band", "Noise", "-metadata genre=Rock"));
    test::index_library(music, db, model_dir());
  }
};

Library& library() {
  static Library lib;
  return lib;
}

RunningServer& server() {
  static RunningServer s(ServerOptions{}, library().db, 60);
  return s;
}

std::string url_encode(const std::string& s) {
  std::string out;
  const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out.push_back(static_cast<char>(c));
    else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

// An entry is OpenSubsonic's Child (id a string, isDir, title, musicBrainzId, isrc an array,
// duration in whole seconds) with durationMs; every identifier is there.
void check_entry(const json& e) {
  for (const char* key : {"id", "isDir", "path", "title", "artist", "album", "displayAlbumArtist", "musicBrainzId", "isrc",
                          "duration", "durationMs"})
    EXPECT_TRUE(e.contains(key)) << key << " in " << e.dump();
  for (const char* old : {"trackId", "name", "mbid", "albumArtist"}) EXPECT_FALSE(e.contains(old)) << old << " in " << e.dump();
  EXPECT_TRUE(e["id"].is_string()) << e.dump();
  EXPECT_EQ(e["isDir"], false);
  EXPECT_TRUE(e["isrc"].is_array()) << e.dump();
  EXPECT_TRUE(e["duration"].is_number_integer()) << e.dump();
  EXPECT_TRUE(e["durationMs"].is_number_integer()) << e.dump();
}

// Every identifier, and a similarity in [0, 1], best first.
void check_matches(const json& matches) {
  double last = 2;
  for (const json& m : matches) {
    check_entry(m["entry"]);
    const double s = m["similarity"].get<double>();
    EXPECT_GE(s, 0.0);
    EXPECT_LE(s, 1.0);
    EXPECT_LE(s, last + 1e-9);
    last = s;
  }
}

TEST(Sonic, ResolvesEachKindOfReferenceAndSaysWhichRule) {
  RunningServer& s = server();
  json got = s.get_json("/api/sonic/resolve?path=" + url_encode("Queen/Night/bohemian.flac"));
  EXPECT_EQ(got["rule"], "path");
  EXPECT_EQ(got["entry"]["path"], "Queen/Night/bohemian.flac");
  check_entry(got["entry"]);
  EXPECT_EQ(got["entry"]["musicBrainzId"], kQueenMbid);
  EXPECT_EQ(got["entry"]["isrc"], json::array({"GBUM71029604"}));
  EXPECT_EQ(got["entry"]["album"], "A Night at the Opera");
  EXPECT_EQ(got["entry"]["displayAlbumArtist"], "Queen");
  EXPECT_EQ(got["entry"]["duration"], 20);
  EXPECT_EQ(got["entry"]["durationMs"], 20000);
  const int64_t studio = std::stoll(got["entry"]["id"].get<std::string>());
  const json track = s.get_json("/api/tracks/" + std::to_string(studio));  // the track record carries them too
  EXPECT_EQ(track["mbid"], kQueenMbid);
  EXPECT_EQ(track["isrc"], "GBUM71029604");
  EXPECT_EQ(track["album_artist"], "Queen");

  // The MBID names two files (one recording): the album decides, then the smallest id.
  got = s.get_json(std::string("/api/sonic/resolve?mbid=") + kQueenMbid + "&album=Greatest");
  EXPECT_EQ(got["rule"], "mbid");
  EXPECT_EQ(got["entry"]["path"], "copies/bohemian.ogg");
  got = s.get_json(std::string("/api/sonic/resolve?isrc=") + kYoasobiIsrc);
  EXPECT_EQ(got["rule"], "isrc");
  EXPECT_EQ(got["entry"]["title"], "夜に駆ける");

  // Tags: an edition suffix on either side, the live version kept apart, other scripts.
  got = s.get_json("/api/sonic/resolve?artist=QUEEN&title=" + url_encode("Bohemian Rhapsody") + "&album=" +
                   url_encode("A Night at the Opera") + "&durationMs=20300");
  EXPECT_EQ(got["rule"], "tags");
  EXPECT_EQ(got["entry"]["id"], std::to_string(studio));
  got = s.get_json("/api/sonic/resolve?artist=Queen&name=" + url_encode("Bohemian Rhapsody (Live)"));
  EXPECT_EQ(got["entry"]["path"], "Queen/Live/bohemian.mp3");
  got = s.get_json("/api/sonic/resolve?artist=" + url_encode("кино") + "&title=" + url_encode("ГРУППА КРОВИ") + "&duration=16");
  EXPECT_EQ(got["entry"]["path"], "ru/kino.ogg");
  got = s.get_json("/api/sonic/resolve?artist=" + url_encode("Lionel Richie") + "&title=Hello");
  EXPECT_EQ(got["entry"]["path"], "other/lionel-hello.mp3");

  // No match: 404 with what was tried; nothing to match on: 400; bad values: 400.
  got = s.get_json("/api/sonic/resolve?mbid=00000000-0000-0000-0000-000000000000&artist=Adele&title=Hello&duration=100", 404);
  EXPECT_EQ(got["error"], "unknown song");
  EXPECT_NE(got["detail"].get<std::string>().find("no track has MBID"), std::string::npos) << got.dump();
  EXPECT_NE(got["detail"].get<std::string>().find("no copy lasts within"), std::string::npos) << got.dump();
  got = s.get_json("/api/sonic/resolve?artist=Adele&title=" + url_encode("Hello (Live)"), 404);
  got = s.get_json("/api/sonic/resolve", 400);
  EXPECT_EQ(got["error"], "missing parameter");
  got = s.get_json("/api/sonic/resolve?artist=Adele&title=Hello&duration=-3", 400);
  EXPECT_EQ(got["error"], "bad parameter");
  // strtod reads a hexadecimal float (0x10 was 16 s, and matched a 16 s track); numbers are decimal.
  got = s.get_json("/api/sonic/resolve?artist=" + url_encode("кино") + "&title=" + url_encode("ГРУППА КРОВИ") + "&duration=0x10", 400);
  EXPECT_EQ(got["detail"], "duration: not a decimal number");
  got = s.get_json("/api/sonic/resolve?track=999999", 404);
  EXPECT_EQ(got["error"], "unknown track");
}

TEST(Sonic, SimilarTracksLeaveOutTheSeedAndItsDuplicatesAndCapArtists) {
  RunningServer& s = server();
  const std::string seed = std::string("/api/sonic/getSonicSimilarTracks?mbid=") + kQueenMbid + "&album=" +
                           url_encode("A Night at the Opera");
  json got = s.get_json(seed + "&count=20");
  EXPECT_EQ(got["seed"]["rule"], "mbid");
  EXPECT_EQ(got["seed"]["entry"]["path"], "Queen/Night/bohemian.flac");
  const json& matches = got["sonicMatch"];
  check_matches(matches);
  std::set<std::string> paths;
  for (const json& m : matches) paths.insert(m["entry"]["path"].get<std::string>());
  EXPECT_FALSE(paths.count("Queen/Night/bohemian.flac"));  // the seed
  EXPECT_FALSE(paths.count("copies/bohemian.ogg"));        // its other encoding (same MBID)
  EXPECT_EQ(matches.size(), 6u) << s.get_json(seed + "&count=20&excludeDuplicates=false").dump();  // everything else
  // A lower duplicateCosine takes the live recording (a sine 20 Hz higher: 0.995 with the test model) for a copy too.
  got = s.get_json(seed + "&count=20&duplicateCosine=0.99");
  for (const json& m : got["sonicMatch"]) EXPECT_NE(m["entry"]["path"], "Queen/Live/bohemian.mp3");
  EXPECT_EQ(got["sonicMatch"].size(), 5u);

  // Duplicates kept on request: the copy is there, near 1.
  got = s.get_json(seed + "&count=20&excludeDuplicates=false");
  ASSERT_EQ(got["sonicMatch"].size(), 7u);
  bool copy_seen = false;
  for (const json& m : got["sonicMatch"])
    if (m["entry"]["path"] == "copies/bohemian.ogg") {
      copy_seen = true;
      EXPECT_GT(m["similarity"].get<double>(), 0.99);
    }
  EXPECT_TRUE(copy_seen);

  // count honoured; at most one per artist.
  EXPECT_EQ(s.get_json(seed + "&count=2")["sonicMatch"].size(), 2u);
  got = s.get_json(seed + "&count=20&perArtist=1");
  std::set<std::string> artists;
  for (const json& m : got["sonicMatch"]) EXPECT_TRUE(artists.insert(m["entry"]["artist"].get<std::string>()).second) << got.dump();
  EXPECT_EQ(artists.size(), 5u);  // Queen (the live one), Кино, YOASOBI, Adele, Lionel Richie

  // The same question, the same bytes.
  auto a = s.client().Get(seed + "&count=5"), b = s.client().Get(seed + "&count=5");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->body, b->body);

  // count=0 is a question with an empty answer (OpenSubsonic's minimum is 0), not a bad request.
  EXPECT_EQ(s.get_json(seed + "&count=0")["sonicMatch"], json::array());
  EXPECT_EQ(s.get_json(seed + "&count=-1", 400)["error"], "bad parameter");
  EXPECT_EQ(s.get_json(seed + "&perArtist=x", 400)["error"], "bad parameter");
  EXPECT_EQ(s.get_json("/api/sonic/getSonicSimilarTracks?isrc=XX0000000000", 404)["error"], "unknown song");
}

TEST(Sonic, PathRunsFromTheStartSongToTheEndSong) {
  RunningServer& s = server();
  json got = s.get_json(std::string("/api/sonic/findSonicPath?startMbid=") + kQueenMbid +
                        "&startAlbum=" + url_encode("A Night at the Opera") + "&endIsrc=" + kYoasobiIsrc + "&count=4");
  EXPECT_EQ(got["start"]["rule"], "mbid");
  EXPECT_EQ(got["end"]["rule"], "isrc");
  const json& path = got["sonicMatch"];
  ASSERT_EQ(path.size(), 4u);
  EXPECT_EQ(path.front()["entry"]["path"], "Queen/Night/bohemian.flac");
  EXPECT_EQ(path.back()["entry"]["path"], "jp/yoasobi.flac");
  for (const json& m : path) {
    EXPECT_GE(m["similarity"].get<double>(), 0.0);
    EXPECT_LE(m["similarity"].get<double>(), 1.0);
  }
  // The path's default length is Navidrome's (25), capped by the library.
  got = s.get_json("/api/sonic/findSonicPath?startPath=ru/kino.ogg&endArtist=Adele&endTitle=Hello");
  EXPECT_EQ(got["sonicMatch"].size(), 8u) << got.dump();  // every track of the library

  got = s.get_json("/api/sonic/findSonicPath?startPath=ru/kino.ogg", 400);
  EXPECT_EQ(got["error"], "missing parameter");
  EXPECT_NE(got["detail"].get<std::string>().find("endTrack (or endSongId), endPath, endMbid"), std::string::npos) << got.dump();
  got = s.get_json("/api/sonic/findSonicPath?startPath=ru/kino.ogg&endTitle=" + url_encode("Группа крови") + "&endArtist=" +
                       url_encode("Кино"),
                   400);
  EXPECT_NE(got["detail"].get<std::string>().find("the same indexed track"), std::string::npos) << got.dump();
  EXPECT_EQ(s.get_json("/api/sonic/findSonicPath?startPath=ru/kino.ogg&endPath=jp/yoasobi.flac&count=1", 400)["error"],
            "bad parameter");
  EXPECT_EQ(s.get_json("/api/sonic/findSonicPath?startPath=ru/kino.ogg&endPath=jp/yoasobi.flac&count=0")["sonicMatch"],
            json::array());
}

// The similarity of every step of a path is to the START song (OpenSubsonic's findSonicPath):
// 1.0 for the start itself, and for every other song the value getSonicSimilarTracks gives it
// with the start as the seed (ranked by the search layer, not by the path code). It was each
// step's cosine to the step's own target: the end song read 0.99999994.
TEST(Sonic, PathSimilarityIsToTheStartSong) {
  RunningServer& s = server();
  const json start = s.get_json("/api/sonic/resolve?path=ru/kino.ogg");
  const std::string id = start["entry"]["id"];
  std::map<std::string, double> to_start;  // song id -> similarity with the start song
  const json similar = s.get_json("/api/sonic/getSonicSimilarTracks?id=" + id + "&count=100&excludeDuplicates=false");
  for (const json& m : similar["sonicMatch"]) to_start[m["entry"]["id"].get<std::string>()] = m["similarity"].get<double>();
  ASSERT_EQ(to_start.size(), 7u) << similar.dump();  // every other track
  const json path = s.get_json("/api/sonic/findSonicPath?startSongId=" + id + "&endPath=jp/yoasobi.flac&count=5")["sonicMatch"];
  ASSERT_EQ(path.size(), 5u);
  EXPECT_EQ(path.front()["entry"]["id"], id);
  EXPECT_EQ(path.front()["similarity"].get<double>(), 1.0);
  EXPECT_EQ(path.back()["entry"]["path"], "jp/yoasobi.flac");
  for (size_t i = 1; i < path.size(); ++i) {
    const std::string song = path[i]["entry"]["id"];
    ASSERT_TRUE(to_start.count(song)) << song;
    EXPECT_NEAR(path[i]["similarity"].get<double>(), to_start[song], 1e-6) << path.dump();
  }
  EXPECT_LT(path.back()["similarity"].get<double>(), 0.999) << "the end song measured against itself, not the start";
}

// The spec's parameter names beside the routes' own: id for track, startSongId/endSongId for
// startTrack/endTrack; both given must agree.
TEST(Sonic, TheSpecsParameterNamesAreTaken) {
  RunningServer& s = server();
  const std::string kino = s.get_json("/api/sonic/resolve?path=ru/kino.ogg")["entry"]["id"];
  const std::string yoasobi = s.get_json("/api/sonic/resolve?path=jp/yoasobi.flac")["entry"]["id"];
  json got = s.get_json("/api/sonic/getSonicSimilarTracks?id=" + kino + "&count=3");
  EXPECT_EQ(got["seed"]["entry"]["path"], "ru/kino.ogg");
  EXPECT_EQ(got["seed"]["rule"], "track");
  EXPECT_EQ(got["sonicMatch"].size(), 3u);
  EXPECT_EQ(s.get_json("/api/sonic/resolve?id=" + yoasobi)["entry"]["path"], "jp/yoasobi.flac");
  EXPECT_EQ(s.get_json("/api/sonic/getSonicSimilarTracks?id=" + kino + "&track=" + kino + "&count=3")["sonicMatch"].size(), 3u);
  got = s.get_json("/api/sonic/getSonicSimilarTracks?id=" + kino + "&track=" + yoasobi, 400);
  EXPECT_EQ(got["error"], "bad parameter");
  EXPECT_NE(got["detail"].get<std::string>().find("track and id name different songs"), std::string::npos) << got.dump();
  got = s.get_json("/api/sonic/findSonicPath?startSongId=" + kino + "&endSongId=" + yoasobi + "&count=3");
  ASSERT_EQ(got["sonicMatch"].size(), 3u);
  EXPECT_EQ(got["sonicMatch"].front()["entry"]["id"], kino);
  EXPECT_EQ(got["sonicMatch"].back()["entry"]["id"], yoasobi);
  got = s.get_json("/api/sonic/findSonicPath?startSongId=" + kino + "&startTrack=" + yoasobi + "&endSongId=" + yoasobi, 400);
  EXPECT_NE(got["detail"].get<std::string>().find("startTrack and startSongId name different songs"), std::string::npos) << got.dump();
  EXPECT_EQ(s.get_json("/api/sonic/getSonicSimilarTracks?id=999999", 404)["error"], "unknown track");
  EXPECT_EQ(s.get_json("/api/sonic/getSonicSimilarTracks?id=al-1", 400)["error"], "bad parameter");
}

TEST(Sonic, TextSearchAnswersInTheSameShape) {
  RunningServer& s = server();
  json got = s.get_json("/api/sonic/search?q=" + url_encode("a pure tone") + "&count=3");
  EXPECT_EQ(got["query"], "a pure tone");
  ASSERT_EQ(got["sonicMatch"].size(), 3u);
  check_matches(got["sonicMatch"]);
  got = s.get_json("/api/sonic/search?q=" + url_encode("a pure tone") + "&count=20&perArtist=1");
  std::set<std::string> artists;
  for (const json& m : got["sonicMatch"]) EXPECT_TRUE(artists.insert(m["entry"]["artist"].get<std::string>()).second);
  EXPECT_EQ(s.get_json("/api/sonic/search", 400)["error"], "missing parameter");
}

TEST(Sonic, SongsLikeAnArtistOrAnAlbumLeaveTheGroupOut) {
  RunningServer& s = server();
  json got = s.get_json("/api/sonic/similarToArtist?artist=QUEEN&count=20");
  EXPECT_EQ(got["artist"], "QUEEN");
  check_matches(got["sonicMatch"]);
  EXPECT_EQ(got["sonicMatch"].size(), 5u);  // 8 tracks, 3 of them Queen's
  for (const json& m : got["sonicMatch"]) EXPECT_NE(m["entry"]["artist"], "Queen");
  EXPECT_EQ(s.get_json("/api/sonic/similarToArtist?artist=Adele&count=2")["sonicMatch"].size(), 2u);
  got = s.get_json("/api/sonic/similarToAlbum?album=" + url_encode("a night at the opera") + "&artist=Queen&count=20");
  check_matches(got["sonicMatch"]);
  // The album's one track left out, and its copy on "Greatest" with it: the same recording
  // (copies13; it was listed, a copy of the group's own song).
  EXPECT_EQ(got["sonicMatch"].size(), 6u);
  for (const json& m : got["sonicMatch"]) EXPECT_NE(m["entry"]["path"], "Queen/Night/bohemian.flac");
  EXPECT_EQ(s.get_json("/api/sonic/similarToAlbum?album=Live&artist=Adele", 404)["error"], "unknown album");
  EXPECT_EQ(s.get_json("/api/sonic/similarToArtist?artist=Nobody", 404)["error"], "unknown artist");
  EXPECT_EQ(s.get_json("/api/sonic/similarToArtist", 400)["error"], "missing parameter");
  EXPECT_EQ(s.get_json("/api/sonic/similarToAlbum?album=%3F%21", 400)["error"], "bad parameter");
}

// Two albums named "Hits" (by X and by Y) and a compilation (album artist Various Artists, tracks
// by Z and W): an album is its name and its album artist, as /api/albums?like= takes it (L8).
struct AlbumsLibrary {
  std::string dir = test::temp_dir() + "/sonic-albums";
  std::string music = dir + "/music";
  std::string db = dir + "/library.db";

  AlbumsLibrary() {
    fs::remove_all(dir);
    const auto song = [&](const std::string& path, const std::string& source, const std::string& artist,
                          const std::string& album, const std::string& album_artist = "") {
      std::string extra = "-metadata " + test::quoted("album=" + album);
      if (!album_artist.empty()) extra += " -metadata " + test::quoted("album_artist=" + album_artist);
      test::ffmpeg(music + "/" + path, "-f lavfi -i \"" + source + "\"" + tags(artist, path, extra));
    };
    song("x/hits1.flac", "sine=f=300:d=12", "X", "Hits");
    song("x/hits2.flac", "sine=f=350:d=12", "X", "Hits");
    song("y/hits.flac", "anoisesrc=color=pink:d=12:seed=2", "Y", "Hits");
    song("comp/z.flac", "sine=f=900:d=12", "Z", "Comp", "Various Artists");
    song("comp/w.flac", "aevalsrc=sin(2*PI*(200+400*t)*t):d=12", "W", "Comp", "Various Artists");
    song("other/v.flac", "anoisesrc=color=brown:d=12:seed=4", "V", "Elsewhere");
    test::index_library(music, db, model_dir());
  }
};

// H11P-2: two files of one recording (the Queen FLAC and its Ogg copy, one MBID) were both
// listed among the matches of another seed, and Navidrome, matching each back by MBID, showed
// one song twice. One recording is one match (content hash, MBID or ISRC) on every route that
// lists matches; excludeDuplicates=false lists every file, as before.
TEST(Sonic, OneRecordingIsListedOnceAmongTheMatches) {
  RunningServer& s = server();
  const auto copies = [](const json& got) {
    int n = 0;
    for (const json& m : got["sonicMatch"]) n += m["entry"]["musicBrainzId"] == kQueenMbid;
    return n;
  };
  json got = s.get_json("/api/sonic/getSonicSimilarTracks?artist=Adele&title=Hello&count=20");
  EXPECT_EQ(copies(got), 1) << got.dump();
  EXPECT_EQ(got["sonicMatch"].size(), 6u);  // 8 tracks: not the seed, not the second copy
  got = s.get_json("/api/sonic/getSonicSimilarTracks?artist=Adele&title=Hello&count=20&excludeDuplicates=false");
  EXPECT_EQ(copies(got), 2);
  EXPECT_EQ(got["sonicMatch"].size(), 7u);
  got = s.get_json("/api/sonic/similarToArtist?artist=Adele&count=20");
  EXPECT_EQ(copies(got), 1) << got.dump();
  EXPECT_EQ(got["sonicMatch"].size(), 5u);
  got = s.get_json("/api/sonic/similarToAlbum?album=Live&count=20");
  EXPECT_EQ(copies(got), 1) << got.dump();
  EXPECT_EQ(got["sonicMatch"].size(), 6u);
  got = s.get_json("/api/sonic/search?q=" + url_encode("a pure tone") + "&count=20");
  EXPECT_EQ(copies(got), 1) << got.dump();
  EXPECT_EQ(got["sonicMatch"].size(), 7u);
}

TEST(Sonic, AnAlbumIsItsNameAndItsAlbumArtist) {
  static AlbumsLibrary lib;
  RunningServer s(ServerOptions{}, lib.db, 60);
  auto paths = [](const json& answer) {
    std::set<std::string> out;
    for (const json& m : answer["sonicMatch"]) out.insert(m["entry"]["path"].get<std::string>());
    return out;
  };
  // Two albums of the name: refused, naming both, as /api/albums?like= refuses.
  json got = s.get_json("/api/sonic/similarToAlbum?album=Hits&count=20", 400);
  EXPECT_NE(got["detail"].get<std::string>().find("several albums have this name (by X, Y)"), std::string::npos) << got.dump();
  EXPECT_NE(s.get_json("/api/albums?like=Hits", 400)["detail"].get<std::string>().find("several albums"), std::string::npos);
  // Named by its album artist: that album only, its two tracks left out; Y's "Hits" is a match.
  got = s.get_json("/api/sonic/similarToAlbum?album=Hits&artist=X&count=20");
  EXPECT_EQ(paths(got), (std::set<std::string>{"y/hits.flac", "comp/z.flac", "comp/w.flac", "other/v.flac"})) << got.dump();
  // A compilation named by one of its track artists is the whole album: its other track is
  // not a match of itself.
  got = s.get_json("/api/sonic/similarToAlbum?album=Comp&artist=Z&count=20");
  EXPECT_EQ(paths(got), (std::set<std::string>{"x/hits1.flac", "x/hits2.flac", "y/hits.flac", "other/v.flac"})) << got.dump();
  EXPECT_EQ(paths(s.get_json("/api/sonic/similarToAlbum?album=Comp&artist=" + url_encode("various artists") + "&count=20")),
            paths(got));
  EXPECT_EQ(s.get_json("/api/sonic/similarToAlbum?album=Comp&artist=X", 404)["error"], "unknown album");
}

// A request's work stops at the server's time budget (serve --request-budget) with 503 and the
// reason, instead of holding an HTTP thread for minutes (M9); the next request is answered.
TEST(Sonic, ARouteStopsAtTheRequestBudget) {
  ServerOptions o;
  o.request_budget_s = 1e-9;
  RunningServer s(o, library().db, 60);
  const json got = s.get_json("/api/sonic/findSonicPath?startPath=ru/kino.ogg&endPath=jp/yoasobi.flac&count=5", 503);
  EXPECT_EQ(got["error"], "request budget exceeded");
  EXPECT_NE(got["detail"].get<std::string>().find("time budget"), std::string::npos) << got.dump();
  EXPECT_EQ(s.get_json("/api/similar?track=1&k=3&diversity=0.5", 503)["error"], "request budget exceeded");
  s.get_json("/api/status");  // what does no such work is answered
  // The default budget (30 s) lets the same request through.
  EXPECT_EQ(server().get_json("/api/sonic/findSonicPath?startPath=ru/kino.ogg&endPath=jp/yoasobi.flac&count=5")["sonicMatch"].size(), 5u);
}

// A seed weight beyond float range is a 400, as any bad weight (L2).
TEST(Sonic, AWeightBeyondFloatRangeIsABadRequest) {
  const json got = server().get_json("/api/search?q=tone&seed=1:1e308", 400);
  EXPECT_NE(got["detail"].get<std::string>().find("at most 3.4e38"), std::string::npos) << got.dump();
  EXPECT_EQ(server().get_json("/api/similar?seed=1:3e38&seed=2:3e38&k=2")["results"].size(), 2u);
}

// The music-only rule (a fresh install's: genres Podcast, Audiobook, Speech) keeps the podcast out
// of every media-server route unless exclude=false, and `where` restricts the matches, as on every
// other query route; the songs a request names are used whatever the rules say.
TEST(Sonic, TheMusicOnlyRuleAndWhereApplyToEveryRoute) {
  static MusicOnlyLibrary lib;
  ServerOptions o;
  o.exclude = search::Filter::parse(service::kDefaultExclude);
  RunningServer s(o, lib.db, 60);
  auto paths = [](const json& answer) {
    std::set<std::string> out;
    for (const json& m : answer["sonicMatch"]) out.insert(m["entry"]["path"].get<std::string>());
    return out;
  };
  const std::string episode = "talk/episode.mp3";
  const std::string similar = "/api/sonic/getSonicSimilarTracks?path=rock/seed.flac&count=10";
  EXPECT_EQ(paths(s.get_json(similar)), (std::set<std::string>{"jazz/blue.mp3", "rock/noise.ogg"}));
  EXPECT_EQ(paths(s.get_json(similar + "&exclude=false")), (std::set<std::string>{episode, "jazz/blue.mp3", "rock/noise.ogg"}));
  EXPECT_EQ(paths(s.get_json(similar + "&where=" + url_encode("genre = \"jazz\""))), (std::set<std::string>{"jazz/blue.mp3"}));
  // The filter and the rule together: exclude=false lifts the rule only.
  EXPECT_EQ(paths(s.get_json(similar + "&exclude=false&where=" + url_encode("album = \"First\""))), (std::set<std::string>{episode}));

  const std::string search = "/api/sonic/search?q=" + url_encode("a pure tone") + "&count=10";
  EXPECT_EQ(paths(s.get_json(search)).count(episode), 0u);
  EXPECT_EQ(paths(s.get_json(search)).size(), 3u);
  EXPECT_EQ(paths(s.get_json(search + "&exclude=false")).size(), 4u);
  EXPECT_EQ(paths(s.get_json(search + "&where=" + url_encode("genre = \"Rock\""))),
            (std::set<std::string>{"rock/seed.flac", "rock/noise.ogg"}));

  // A path: its ends as named (the seed), its steps from the allowed tracks only.
  const std::string path = "/api/sonic/findSonicPath?startPath=rock/seed.flac&endPath=rock/noise.ogg&count=10";
  EXPECT_EQ(paths(s.get_json(path)), (std::set<std::string>{"rock/seed.flac", "jazz/blue.mp3", "rock/noise.ogg"}));
  EXPECT_EQ(paths(s.get_json(path + "&exclude=false")).size(), 4u);
  EXPECT_EQ(paths(s.get_json(path + "&where=" + url_encode("genre != \"jazz\""))),
            (std::set<std::string>{"rock/seed.flac", "rock/noise.ogg"}));
  // A podcast named as an end is still an end: only the steps are filtered.
  EXPECT_EQ(paths(s.get_json("/api/sonic/findSonicPath?startPath=" + episode + "&endPath=rock/noise.ogg&count=10")).count(episode), 1u);

  const std::string artist = "/api/sonic/similarToArtist?artist=" + url_encode("Seed Band") + "&count=10";
  EXPECT_EQ(paths(s.get_json(artist)), (std::set<std::string>{"jazz/blue.mp3", "rock/noise.ogg"}));
  EXPECT_EQ(paths(s.get_json(artist + "&exclude=false")).count(episode), 1u);
  EXPECT_EQ(paths(s.get_json(artist + "&where=" + url_encode("artist ~ \"noise\""))), (std::set<std::string>{"rock/noise.ogg"}));
  const std::string album = "/api/sonic/similarToAlbum?album=First&artist=" + url_encode("Seed Band") + "&count=10";
  EXPECT_EQ(paths(s.get_json(album)), (std::set<std::string>{"jazz/blue.mp3", "rock/noise.ogg"}));
  EXPECT_EQ(paths(s.get_json(album + "&exclude=false")).count(episode), 1u);

  const json bad = s.get_json(similar + "&where=" + url_encode("yaer > 1970"), 400);
  EXPECT_EQ(bad["detail"].get<std::string>().rfind("where: unknown field \"yaer\" at column 1", 0), 0u) << bad.dump();
  EXPECT_EQ(s.get_json(search + "&exclude=maybe", 400)["detail"], "exclude: true or false");
}

TEST(Sonic, TheTokenRuleCoversTheRoutes) {
  ServerOptions o;
  o.token = "a-long-secret";
  RunningServer s(o, library().db, 60);
  auto r = s.client().Get("/api/sonic/resolve?path=ru/kino.ogg");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->body.find("\"error\""), std::string::npos);
  r = s.client().Get("/api/sonic/resolve?path=ru/kino.ogg", {{"Authorization", "Bearer a-long-secret"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // Without a token, only loopback Host names (docs/security.md).
  RunningServer& open = server();
  r = open.client().Get("/api/sonic/getSonicSimilarTracks?path=ru/kino.ogg", {{"Host", "evil.example"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 421);
}

void sql(const std::string& db, const std::string& text) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(h, text.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(h);
}

std::string query_one(const std::string& db, const std::string& text) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h, text.c_str(), -1, &st, nullptr), SQLITE_OK) << text;
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const void* p = sqlite3_column_blob(st, 0);
    out.assign(static_cast<const char*>(p ? p : ""), static_cast<size_t>(sqlite3_column_bytes(st, 0)));
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

TEST(SonicTags, AnIndexFromBeforeTheIdentifiersGetsThemOnTheNextIndexRunWithoutEmbedding) {
  const std::string dir = test::temp_dir() + "/sonic-upgrade";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string db = dir + "/library.db";
  fs::copy_file(library().db, db);
  const std::string embeddings = "SELECT group_concat(hex(embedding)) FROM (SELECT embedding FROM windows ORDER BY id)";
  const std::string before = query_one(db, embeddings);
  ASSERT_FALSE(before.empty());
  // Back to schema version 2 as an older clapsearch left it: no identifier columns (and no
  // fingerprints, progressive indexing, embedding sets or speech scores, which came later).
  sql(db, "DROP TABLE set_windows; DROP TABLE set_tracks; DROP TABLE embedding_sets; ALTER TABLE tracks DROP COLUMN speech; "
          "DROP TABLE fingerprints; ALTER TABLE tracks DROP COLUMN mbid; ALTER TABLE tracks DROP COLUMN isrc; "
          "ALTER TABLE tracks DROP COLUMN album_artist; ALTER TABLE tracks DROP COLUMN tags_version; "
          "ALTER TABLE tracks DROP COLUMN window_total; "
          "DROP TABLE packet_hashes; DROP TABLE kept_track_ids; DROP TABLE bookmarks; DROP TABLE play_queue_entries; DROP TABLE play_queues; DROP TABLE playlist_entries; DROP TABLE playlists; DROP TABLE plays; DROP TABLE ratings; DROP TABLE stars; DROP TABLE api_keys; DROP TABLE users; UPDATE schema_version SET version = 2");
  std::string out, err;
  ASSERT_EQ(test::run_command(test::cli_command() + " index '" + library().music + "' --db '" + db + "' --model '" +
                                  model_dir() + "' --json",
                              &out, &err),
            0)
      << err;
  const json summary = json::parse(out);
  EXPECT_EQ(summary["indexed"], 0);
  EXPECT_EQ(summary["unchanged"], 8);
  EXPECT_EQ(summary["tags_refreshed"], 8);
  EXPECT_EQ(summary["embedded_windows"], 0);
  EXPECT_EQ(summary["fingerprints_added"], 8);
  EXPECT_EQ(query_one(db, "SELECT version FROM schema_version"), std::to_string(store::SqliteStore::current_schema_version()));
  EXPECT_EQ(query_one(db, "SELECT mbid FROM tracks WHERE path LIKE '%Night/bohemian.flac'"), kQueenMbid);
  EXPECT_EQ(query_one(db, "SELECT isrc FROM tracks WHERE path LIKE '%yoasobi.flac'"), kYoasobiIsrc);
  EXPECT_EQ(query_one(db, embeddings), before);
  // And once is enough: the next run reads no tags.
  ASSERT_EQ(test::run_command(test::cli_command() + " index '" + library().music + "' --db '" + db + "' --json", &out, &err),
            0)
      << err;
  EXPECT_EQ(json::parse(out)["tags_refreshed"], 0);
}

}  // namespace
}  // namespace clap::server
