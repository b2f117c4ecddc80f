// The listening-history readers (service/history_files.h) on files shaped as the services export
// them: a ListenBrainz export zip (listens/YYYY/M.jsonl, deflated, as Python's zipfile writes it)
// and a single .jsonl; Last.fm CSV with a header row (lastfm.ghan.nl's columns) and without one
// (lastfm-to-csv's artist,album,track,date), and JSON (the API's recenttracks pages); the times they
// write; and the files to refuse whole: empty, truncated, wrong-shaped. Also the MPD watcher's
// plays and skips (service/listening.h).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "service/history_files.h"
#include "service/listening.h"
#include "support/golden.h"

namespace clap::service {
namespace {

namespace fs = std::filesystem;

std::string write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Three listens as ListenBrainz exports them: an MBID the player sent, one only ListenBrainz's
// mapping knows (with an ISRC and duration_ms), and one with neither (listened_at as date text).
const char* const kListens =
    R"({"inserted_at": 1700000100.5, "listened_at": 1700000000, "recording_msid": "1b0c1c2e-0000-4000-8000-000000000001", "user_name": "ann", "track_metadata": {"artist_name": "Queen", "track_name": "Bohemian Rhapsody", "release_name": "A Night at the Opera", "additional_info": {"recording_mbid": "b1a9c0e9-d987-4042-ae91-78d6a3267d69", "duration_ms": 355000, "media_player": "mpv", "submission_client": "x"}, "mbid_mapping": null}})"
    "\n"
    R"({"listened_at": 1700003600, "track_metadata": {"artist_name": "Adele", "track_name": "Hello", "release_name": null, "additional_info": {"isrc": "GBBKS1500214", "duration_ms": 295500}, "mbid_mapping": {"recording_mbid": "0a8e8d55-4b83-4f8a-9732-fbb5ded9f344", "release_mbid": "x", "artist_mbids": ["y"], "recording_name": "Hello"}}})"
    "\n"
    R"({"listened_at": "2023-11-15T01:20:00Z", "track_metadata": {"artist_name": "Nobody", "track_name": "Unknown Song", "additional_info": {"duration": 200}}})"
    "\n";

TEST(HistoryFiles, ListenBrainzJsonLines) {
  const std::string path = write(test::temp_dir() + "/listens.jsonl", kListens);
  const HistoryFile f = read_history_file(path);
  EXPECT_EQ(f.format, HistoryFormat::ListenBrainz);
  ASSERT_EQ(f.listens.size(), 3u);
  EXPECT_EQ(f.listens[0].played_at, 1700000000);
  EXPECT_EQ(f.listens[0].artist, "Queen");
  EXPECT_EQ(f.listens[0].title, "Bohemian Rhapsody");
  EXPECT_EQ(f.listens[0].album, "A Night at the Opera");
  EXPECT_EQ(f.listens[0].mbid, "b1a9c0e9-d987-4042-ae91-78d6a3267d69");
  EXPECT_DOUBLE_EQ(f.listens[0].duration_s, 355);
  EXPECT_EQ(f.listens[1].mbid, "0a8e8d55-4b83-4f8a-9732-fbb5ded9f344");  // from mbid_mapping
  EXPECT_EQ(f.listens[1].isrc, "GBBKS1500214");
  EXPECT_DOUBLE_EQ(f.listens[1].duration_s, 295.5);
  EXPECT_EQ(f.listens[1].album, "");
  EXPECT_EQ(f.listens[2].played_at, 1700011200);
  EXPECT_EQ(f.listens[2].mbid, "");
  EXPECT_DOUBLE_EQ(f.listens[2].duration_s, 200);
  EXPECT_EQ(f.listens[2].where, path + " line 3");
}

// The export as downloaded: a zip of user.json, feedback.jsonl and listens/YEAR/MONTH.jsonl,
// deflated; months in calendar order (10 after 9), other members ignored.
TEST(HistoryFiles, ListenBrainzExportZip) {
  const std::string dir = test::temp_dir();
  const std::string lines = kListens;
  const size_t second = lines.find('\n') + 1;
  write(dir + "/src/listens/2023/9.jsonl", lines.substr(0, second));
  write(dir + "/src/listens/2023/10.jsonl", lines.substr(second));
  write(dir + "/src/user.json", R"({"user_id": 1, "username": "ann"})");
  write(dir + "/src/feedback.jsonl", R"({"recording_mbid": "x", "score": 1})" "\n");
  const std::string zip = dir + "/listenbrainz_ann.zip";
  const std::string py = "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED); "
                         "[z.write(sys.argv[2]+'/'+n, n) for n in ['user.json','feedback.jsonl','listens/2023/10.jsonl','listens/2023/9.jsonl']]; z.close()";
  ASSERT_EQ(std::system(("python3 -c " + test::quoted(py) + " " + test::quoted(zip) + " " + test::quoted(dir + "/src")).c_str()), 0);
  const HistoryFile f = read_history_file(zip);
  EXPECT_EQ(f.format, HistoryFormat::ListenBrainz);
  ASSERT_EQ(f.listens.size(), 3u);
  EXPECT_EQ(f.listens[0].artist, "Queen");  // listens/2023/9.jsonl first
  EXPECT_EQ(f.listens[0].where, zip + ": listens/2023/9.jsonl line 1");
  EXPECT_EQ(f.listens[2].title, "Unknown Song");
  EXPECT_THROW(read_history_file(zip, HistoryFormat::LastFm), Error);

  // Cut short: the deflated data end early (or the directory is gone): an error naming the file.
  std::ifstream in(zip, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), {}};
  for (const size_t keep : {bytes.size() / 2, bytes.size() - 10}) {
    const std::string cut = write(dir + "/cut.zip", bytes.substr(0, keep));
    try {
      read_history_file(cut);
      ADD_FAILURE() << "a zip cut to " << keep << " bytes was read";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(cut), std::string::npos) << e.what();
    }
  }
  // A zip without listens (another service's archive) is not an export.
  const std::string other = dir + "/other.zip";
  const std::string py2 = "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w'); z.writestr('notes.txt','hi'); z.close()";
  ASSERT_EQ(std::system(("python3 -c " + test::quoted(py2) + " " + test::quoted(other)).c_str()), 0);
  try {
    read_history_file(other);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("without listens"), std::string::npos) << e.what();
  }
}

// Each refusal names the file, where in it, and why.
TEST(HistoryFiles, BadFilesAreRefusedWhole) {
  const std::string dir = test::temp_dir();
  auto reason = [](const std::string& path, HistoryFormat format = HistoryFormat::Auto) -> std::string {
    try {
      read_history_file(path, format);
    } catch (const Error& e) {
      return e.what();
    }
    return "(read without an error)";
  };
  const std::string lines = kListens;
  struct Case {
    const char* name;
    std::string text;
    const char* expected;
  };
  const Case cases[] = {
      {"empty.jsonl", "", "empty"},
      {"blank.jsonl", "\n  \n", "empty"},
      {"truncated.jsonl", lines.substr(0, lines.size() - 30), "line 3: cut short"},
      {"no_time.jsonl", R"({"track_metadata": {"artist_name": "A", "track_name": "B"}})" "\n", "line 1: a listen without \"listened_at\""},
      {"bad_time.jsonl", R"({"listened_at": "yesterday", "track_metadata": {"artist_name": "A", "track_name": "B"}})" "\n", "not a time"},
      {"no_title.jsonl", R"({"listened_at": 5, "track_metadata": {"artist_name": "A"}})" "\n", "without \"track_name\""},
      {"array.json", "[1, 2]", "scrobble 1: not a scrobble"},
      {"csv_short.csv", "artist,album,track,uts\nA,B,C,1700000000\nA,B\n", "row 3: 2 columns"},
      {"csv_bad_time.csv", "A,B,C,31 Foo 2021 12:34\n", "row 1: '31 Foo 2021 12:34' is not a time"},
      {"csv_header_only.csv", "artist,album,track,date\n", "only a header row"},
      {"csv_no_time_column.csv", "artist,album,track\nA,B,C\n", "names no time column"},
      {"lastfm_truncated.json", R"([{"artist": {"#text": "A"}, "name": "B", "date": {"uts": "1700000000"}}, {"artist)", "truncated"},
      {"lastfm_object.json", R"({"hello": 1})", "not a Last.fm export"},
  };
  for (const Case& c : cases) {
    const std::string path = write(dir + "/" + c.name, c.text);
    const std::string why = reason(path);
    EXPECT_NE(why.find(path), std::string::npos) << c.name << ": " << why;
    EXPECT_NE(why.find(c.expected), std::string::npos) << c.name << ": " << why;
  }
  EXPECT_NE(reason(dir + "/absent.jsonl").find("absent.jsonl"), std::string::npos);
  EXPECT_THROW(parse_history_format("spotify"), InvalidArgument);
}

TEST(HistoryFiles, LastFmCsvWithAndWithoutHeader) {
  const std::string dir = test::temp_dir();
  // lastfm.ghan.nl: a header row, unix seconds and UTC text, MBIDs; quoted fields with commas.
  const std::string with = write(dir + "/scrobbles-ann.csv",
                                 "\xEF\xBB\xBFuts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid\r\n"
                                 "1700000000,\"14 Nov 2023, 22:13\",Queen,x,A Night at the Opera,y,Bohemian Rhapsody,"
                                 "b1a9c0e9-d987-4042-ae91-78d6a3267d69\r\n"
                                 "1700003600,\"15 Nov 2023, 00:13\",\"Crosby, Stills & Nash\",,,,Helplessly Hoping,\r\n");
  HistoryFile f = read_history_file(with);
  EXPECT_EQ(f.format, HistoryFormat::LastFm);
  ASSERT_EQ(f.listens.size(), 2u);
  EXPECT_EQ(f.listens[0].played_at, 1700000000);
  EXPECT_EQ(f.listens[0].artist, "Queen");
  EXPECT_EQ(f.listens[0].album, "A Night at the Opera");
  EXPECT_EQ(f.listens[0].title, "Bohemian Rhapsody");
  EXPECT_EQ(f.listens[0].mbid, "b1a9c0e9-d987-4042-ae91-78d6a3267d69");
  EXPECT_EQ(f.listens[1].artist, "Crosby, Stills & Nash");
  EXPECT_EQ(f.listens[1].where, with + " row 3");
  // lastfm-to-csv: no header, artist,album,track,date with the date as text.
  const std::string without = write(dir + "/lastfm.csv",
                                    "Queen,A Night at the Opera,Bohemian Rhapsody,14 Nov 2023 22:13\n"
                                    "Adele,25,Hello,\"15 Nov 2023, 00:13\"\n");
  f = read_history_file(without);
  ASSERT_EQ(f.listens.size(), 2u);
  EXPECT_EQ(f.listens[0].played_at, 1700000000 - 20);  // 22:13:00, not 22:13:20
  EXPECT_EQ(f.listens[1].title, "Hello");
  EXPECT_EQ(f.listens[1].played_at, 1700007180);
}

TEST(HistoryFiles, LastFmJson) {
  // The API's pages as export tools save them: fields as {"#text": ...}, date {"uts": ...}, the
  // "now playing" entry (no date) left out; and a plain array of scrobbles.
  const std::string pages = write(test::temp_dir() + "/scrobbles.json", R"([
    {"track": [
      {"artist": {"mbid": "", "#text": "Adele"}, "album": {"#text": "25"}, "name": "Hello", "mbid": "", "@attr": {"nowplaying": "true"}},
      {"artist": {"#text": "Queen"}, "album": {"#text": "A Night at the Opera"}, "name": "Bohemian Rhapsody",
       "mbid": "b1a9c0e9-d987-4042-ae91-78d6a3267d69", "date": {"uts": "1700000000", "#text": "14 Nov 2023, 22:13"}}
    ]},
    {"track": [{"artist": {"#text": "Adele"}, "album": {"#text": "25"}, "name": "Hello", "date": {"uts": "1699990000"}}]}
  ])");
  HistoryFile f = read_history_file(pages);
  EXPECT_EQ(f.format, HistoryFormat::LastFm);
  ASSERT_EQ(f.listens.size(), 2u);
  EXPECT_EQ(f.listens[0].artist, "Queen");
  EXPECT_EQ(f.listens[0].mbid, "b1a9c0e9-d987-4042-ae91-78d6a3267d69");
  EXPECT_EQ(f.listens[0].played_at, 1700000000);
  EXPECT_EQ(f.listens[1].played_at, 1699990000);
  const std::string flat = write(test::temp_dir() + "/flat.json",
                                 R"([{"artist": "Adele", "album": "25", "track": "Hello", "timestamp": 1699990000000}])");
  f = read_history_file(flat, HistoryFormat::LastFm);
  ASSERT_EQ(f.listens.size(), 1u);
  EXPECT_EQ(f.listens[0].played_at, 1699990000);  // milliseconds
}

TEST(HistoryFiles, Times) {
  int64_t t = 0;
  ASSERT_TRUE(parse_history_time("1700000000", t));
  EXPECT_EQ(t, 1700000000);
  ASSERT_TRUE(parse_history_time("2023-11-14T22:13:20Z", t));
  EXPECT_EQ(t, 1700000000);
  ASSERT_TRUE(parse_history_time("2023-11-14T23:13:20+01:00", t));
  EXPECT_EQ(t, 1700000000);
  ASSERT_TRUE(parse_history_time("2023-11-14 22:13:20", t));
  EXPECT_EQ(t, 1700000000);
  ASSERT_TRUE(parse_history_time("2024-02-29", t));
  EXPECT_EQ(t, 1709164800);
  ASSERT_TRUE(parse_history_time("14 Nov 2023, 22:13", t));
  EXPECT_EQ(t, 1699999980);
  for (const char* bad : {"", "yesterday", "2023-13-01", "14 Nov", "2023-11-14T25:00", "12:30", "1e400"})
    EXPECT_FALSE(parse_history_time(bad, t)) << bad;
}

// MPD's moments into plays: a song heard to its end is a play, one left early a skip (before 30 s,
// or half its length for a short one); pauses do not count as heard.
TEST(Listening, PlaysAndSkips) {
  EXPECT_TRUE(is_skip(29, 300));
  EXPECT_FALSE(is_skip(31, 300));
  EXPECT_FALSE(is_skip(11, 20));  // half of a 20 s song
  EXPECT_TRUE(is_skip(9, 20));
  EXPECT_TRUE(is_skip(29, 0));  // length unknown
  PlayWatcher w;
  auto moment = [](int64_t entry, const std::string& uri, bool playing, double elapsed, double now) {
    PlayerMoment m;
    m.stopped = false;
    m.playing = playing;
    m.entry_id = entry;
    m.uri = uri;
    m.elapsed_s = elapsed;
    m.duration_s = 200;
    m.now_s = now;
    return m;
  };
  EXPECT_FALSE(w.observe(moment(1, "a.flac", true, 0, 1000)));
  EXPECT_FALSE(w.observe(moment(1, "a.flac", false, 100, 1100)));  // paused after 100 s
  EXPECT_FALSE(w.observe(moment(1, "a.flac", true, 100, 1500)));   // resumed: the pause is not heard
  auto heard = w.observe(moment(2, "b.flac", true, 0, 1600));      // a ended (100 + 100 s)
  ASSERT_TRUE(heard);
  EXPECT_EQ(heard->uri, "a.flac");
  EXPECT_DOUBLE_EQ(heard->seconds_played, 200);
  EXPECT_FALSE(heard->skipped);
  EXPECT_DOUBLE_EQ(heard->started_s, 1000);
  heard = w.observe(moment(3, "b.flac", true, 0, 1610));  // the same file queued again: another entry
  ASSERT_TRUE(heard);
  EXPECT_EQ(heard->uri, "b.flac");
  EXPECT_TRUE(heard->skipped);
  PlayerMoment stop;
  stop.now_s = 1700;
  heard = w.observe(stop);
  ASSERT_TRUE(heard);
  EXPECT_DOUBLE_EQ(heard->seconds_played, 90);
  EXPECT_FALSE(heard->skipped);
  EXPECT_FALSE(w.finish(1800));
}

}  // namespace
}  // namespace clap::service
