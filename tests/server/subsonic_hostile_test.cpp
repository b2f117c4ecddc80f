// What a hostile client may send /rest/ on a real server (a thread of this process) over a real
// index: text a user stores (playlist names and comments) is bounded and printable; a search
// query is bounded. Issue 53's
// fourth hostile pass; the protocol cases a real client sends are in tests/subsonic/.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "server/running_server.h"
#include "support/golden.h"

namespace clap::server {
namespace {

using json = nlohmann::json;

// ドライフラワー and ずっと真夜中でいいのに。 composed (NFC), 봄날 as its jamo (NFD), and the other forms.
const std::string kDoraiFurawa = "\u30c9\u30e9\u30a4\u30d5\u30e9\u30ef\u30fc";
const std::string kDoraiFurawaNfd = "\u30c8\u3099\u30e9\u30a4\u30d5\u30e9\u30ef\u30fc";
const std::string kZutomayo = "\u305a\u3063\u3068\u771f\u591c\u4e2d\u3067\u3044\u3044\u306e\u306b\u3002";
const std::string kZutomayoNfd = "\u3059\u3099\u3063\u3068\u771f\u591c\u4e2d\u3066\u3099\u3044\u3044\u306e\u306b\u3002";
const std::string kSpringDay = "\ubd04\ub0a0";
const std::string kSpringDayNfd = "\u1107\u1169\u11b7\u1102\u1161\u11af";

// One index with a user for every case here (indexing is the slow part).
class SubsonicHostile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = test::temp_dir() + "/subsonic-hostile", music = dir + "/music";
    db_ = dir + "/library.db";
    test::ffmpeg(music + "/a.flac", "-f lavfi -i \"sine=f=440:d=3\" -metadata title=Alpha -metadata artist=Band");
    test::index_library(music, db_, test::case_dir("tiny-unfused"));
    std::ofstream(dir + "/pw") << "pw\n";
    std::string out, err;
    ASSERT_EQ(test::run_cli("user add alice --db " + test::quoted(db_) + " < " + test::quoted(dir + "/pw"), &out, &err), 0) << err;
  }
  static std::string db_;
};
std::string SubsonicHostile::db_;

json rest_get(RunningServer& server, const std::string& query) {
  auto r = server.client().Get("/rest/" + query + "&f=json&v=1.16.1&c=test&u=alice&p=pw");
  if (!r) throw std::runtime_error("no response to " + query);
  const json body = json::parse(r->body, nullptr, false);
  if (!body.contains("subsonic-response")) throw std::runtime_error(query.substr(0, 60) + ": " + r->body.substr(0, 300));
  return body["subsonic-response"];
}

json rest_post(RunningServer& server, const std::string& endpoint, const std::string& form) {
  auto r = server.client().Post("/rest/" + endpoint, form + "&f=json&v=1.16.1&c=test&u=alice&p=pw",
                                "application/x-www-form-urlencoded");
  if (!r) throw std::runtime_error("no response to " + endpoint);
  return json::parse(r->body)["subsonic-response"];
}

TEST_F(SubsonicHostile, SearchQueriesAreBounded) {
  RunningServer server(ServerOptions{}, db_, 30);
  // Before: a form POST's 1 MB query of 200,000 words was matched word by word against every
  // song (1.2 s over 411 songs, minutes over a large library). Now at most 2,000 bytes, each
  // word looked for once.
  std::string many;
  for (int i = 0; i < 1001; ++i) many += "al+";
  const json refused = rest_post(server, "search3", "query=" + many);
  EXPECT_EQ(refused["status"], "failed") << refused.dump().substr(0, 300);
  EXPECT_NE(refused.value("error", json::object()).value("message", "").find("at most 2000 bytes"), std::string::npos);
  const json repeated = rest_post(server, "search3", "query=" + many.substr(0, 1999));
  ASSERT_EQ(repeated["status"], "ok") << repeated.dump().substr(0, 300);
  ASSERT_EQ(repeated["searchResult3"]["song"].size(), 1u);
  EXPECT_EQ(repeated["searchResult3"]["song"][0]["title"], "Alpha");
  EXPECT_EQ(rest_get(server, "search2?query=al+band+al")["searchResult2"]["song"].size(), 1u);
}

// Hostile pass 10 (server slice): macOS and SMB clients send names decomposed (NFD); only
// U+0300-U+036F were dropped, so NFD kana (voicing mark U+3099) and Hangul jamo found nothing.
// Names are compared composed (NFC) now, whichever way the query or the tag is written.
TEST(SubsonicUnicode, Search3FindsJapaneseAndKoreanNamesComposedOrDecomposed) {
  // One tagged composed, one decomposed (its own index: the suite's queries count their songs).
  const std::string dir = test::temp_dir() + "/subsonic-unicode", music = dir + "/music", db = dir + "/library.db";
  test::ffmpeg(music + "/jp.flac", "-f lavfi -i \"sine=f=550:d=3\" -metadata title=" + test::quoted(kDoraiFurawa) +
                                       " -metadata artist=" + test::quoted(kZutomayo));
  test::ffmpeg(music + "/kr.flac", "-f lavfi -i \"sine=f=660:d=3\" -metadata title=" + test::quoted(kSpringDayNfd));
  test::index_library(music, db, test::case_dir("tiny-unfused"));
  std::ofstream(dir + "/pw") << "pw\n";
  std::string out, err;
  ASSERT_EQ(test::run_cli("user add alice --db " + test::quoted(db) + " < " + test::quoted(dir + "/pw"), &out, &err), 0) << err;
  RunningServer server(ServerOptions{}, db, 30);
  const auto url = [](const std::string& text) {
    std::string out;
    for (const unsigned char c : text) {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
    return out;
  };
  const auto titles = [&](const std::string& query) {
    const json r = rest_get(server, "search3?query=" + url(query));
    std::vector<std::string> out;
    for (const json& song : r["searchResult3"].value("song", json::array())) out.push_back(song["title"]);
    return out;
  };
  using Titles = std::vector<std::string>;
  EXPECT_EQ(titles(kDoraiFurawaNfd), Titles{kDoraiFurawa});  // the tag composed, the query not
  EXPECT_EQ(titles(kDoraiFurawa), Titles{kDoraiFurawa});
  EXPECT_EQ(titles(kZutomayoNfd), Titles{kDoraiFurawa});  // by its artist
  EXPECT_EQ(titles(kSpringDay), Titles{kSpringDayNfd});  // the tag decomposed, the query not
  EXPECT_EQ(titles(kSpringDayNfd), Titles{kSpringDayNfd});
  // Artists are found by their names too.
  const json artists = rest_get(server, "search3?query=" + url(kZutomayoNfd))["searchResult3"].value("artist", json::array());
  ASSERT_EQ(artists.size(), 1u) << artists.dump();
  EXPECT_EQ(artists[0]["name"], kZutomayo);
}

TEST_F(SubsonicHostile, StarAndScrobbleTakeABoundedNumberOfIds) {
  RunningServer server(ServerOptions{}, db_, 30);
  // Before: a form POST of 100,000 ids starred for 15 s, and one scrobble call added 100,000
  // plays. Now at most 1,000 ids a call, refused whole beyond.
  std::string ids;
  for (int i = 0; i < 1001; ++i) ids += "id=1&";
  for (const std::string endpoint : {"star", "unstar", "scrobble"}) {
    const json r = rest_post(server, endpoint, ids + "submission=true");
    EXPECT_EQ(r["status"], "failed") << endpoint;
    EXPECT_NE(r.value("error", json::object()).value("message", "").find("at most 1000 ids"), std::string::npos) << r.dump();
  }
  const json plays = rest_get(server, "getSong?id=1");
  EXPECT_FALSE(plays["song"].contains("playCount") && plays["song"]["playCount"] != 0) << plays.dump();
  // 1,000 plays a call are taken: each at its own second (one play of a song at one second is
  // kept once, H16S-5).
  std::string timed;
  for (int i = 0; i < 1000; ++i) timed += "id=1&time=" + std::to_string(1700000000000LL + 1000LL * i) + "&";
  EXPECT_EQ(rest_post(server, "scrobble", timed + "submission=true")["status"], "ok");
  EXPECT_EQ(rest_get(server, "getSong?id=1")["song"]["playCount"], 1000);
}

TEST_F(SubsonicHostile, AWholeNumberPastItsRangeIsSaidToBe) {
  RunningServer server(ServerOptions{}, db_, 30);
  // Before: "parameter count must be a whole number" for count=100000000000000000000.
  const json r = rest_get(server, "getSimilarSongs?id=1&count=100000000000000000000");
  EXPECT_EQ(r["error"]["message"], "parameter count must be between 0 and 9223372036854775807") << r.dump();
  EXPECT_EQ(rest_get(server, "getSimilarSongs?id=1&count=-100000000000000000000")["error"]["message"],
            "parameter count must be between 0 and 9223372036854775807");
  EXPECT_EQ(rest_get(server, "getSimilarSongs?id=1&count=1e3")["error"]["message"],
            "parameter count must be a whole number (got \"1e3\")");
}

TEST_F(SubsonicHostile, OpenSubsonicExtensionsAreAnsweredWithoutSigningIn) {
  RunningServer server(ServerOptions{}, db_, 30);
  // The spec: "Unlike all other APIs getOpenSubsonicExtensions must be publicly accessible" (an
  // app asks it before signing in). Before: code 10, "required parameter is missing: u".
  for (const std::string query : {"getOpenSubsonicExtensions.view?f=json", "getOpenSubsonicExtensions?f=json&u=alice&p=wrong"}) {
    auto r = server.client().Get("/rest/" + query);
    ASSERT_TRUE(r);
    const json body = json::parse(r->body)["subsonic-response"];
    EXPECT_EQ(body["status"], "ok") << query << ": " << r->body;
    EXPECT_TRUE(body["openSubsonicExtensions"].is_array()) << r->body;
  }
  // Every other endpoint still needs a user.
  auto ping = server.client().Get("/rest/ping?f=json");
  ASSERT_TRUE(ping);
  EXPECT_EQ(json::parse(ping->body)["subsonic-response"]["error"]["code"], 10) << ping->body;
}

TEST_F(SubsonicHostile, PlaylistNamesAndCommentsAreBoundedAndPrintable) {
  RunningServer server(ServerOptions{}, db_, 30);

  // Before: a 900 KB name was stored and sent in every getPlaylists answer; a NUL or a line
  // break was stored as it came (and a PostgreSQL index cannot hold a NUL or invalid UTF-8).
  const auto refused = [&](const std::string& query, const std::string& why) {
    const json r = rest_get(server, query);
    EXPECT_EQ(r["status"], "failed") << query;
    EXPECT_EQ(r["error"]["code"], 10) << query;  // a value that cannot be used (subsonic.h: kBadParameter)
    EXPECT_NE(r["error"]["message"].get<std::string>().find(why), std::string::npos) << r.dump();
  };
  refused("createPlaylist?name=" + std::string(1001, 'n'), "at most 1000 bytes");
  refused("createPlaylist?name=a%0Ab", "control character");
  refused("createPlaylist?name=a%00b", "control character");
  refused("createPlaylist?name=a%FFb", "not valid UTF-8");
  const json made = rest_get(server, "createPlaylist?name=" + std::string(1000, 'n') + "&songId=1");
  ASSERT_EQ(made["status"], "ok") << made.dump();
  const std::string id = made["playlist"]["id"];
  refused("updatePlaylist?playlistId=" + id + "&name=x%1B", "control character");
  const json long_comment = rest_post(server, "updatePlaylist", "playlistId=" + id + "&comment=" + std::string(10001, 'c'));
  EXPECT_EQ(long_comment["status"], "failed");
  EXPECT_NE(long_comment["error"]["message"].get<std::string>().find("at most 10000 bytes"), std::string::npos);
  EXPECT_EQ(rest_post(server, "updatePlaylist", "playlistId=" + id + "&comment=" + std::string(10000, 'c'))["status"], "ok");
  refused("updatePlaylist?playlistId=" + id + "&comment=a%00", "control character");
  refused("createPlaylist?playlistId=" + id + "&name=x%7F", "control character");
  EXPECT_EQ(rest_get(server, "updatePlaylist?playlistId=" + id + "&comment=line%0Aanother%09tab")["status"], "ok");
  const json p = rest_get(server, "getPlaylist?id=" + id);
  EXPECT_EQ(p["playlist"]["comment"], "line\nanother\ttab");
  EXPECT_EQ(p["playlist"]["name"], std::string(1000, 'n'));
}

TEST_F(SubsonicHostile, ABadValueIsCode10AndAMissingParameterIsSaidFirst) {
  RunningServer server(ServerOptions{}, db_, 30);
  const auto fails = [&](const std::string& query, int code, const std::string& says) {
    const json r = rest_get(server, query);
    EXPECT_EQ(r["status"], "failed") << query;
    EXPECT_EQ(r["error"]["code"], code) << query << ": " << r.dump();
    EXPECT_NE(r["error"].value("message", "").find(says), std::string::npos) << query << ": " << r.dump();
  };
  // R6-1. Before: a value that cannot be used answered 0 (generic). The spec's one rule for it
  // (savePlayQueueByIndex: currentIndex outside the queue "must" be 10) and Subsonic's own server
  // (an unparseable value is its MISSING_PARAMETER) say 10.
  fails("savePlayQueue?id=1&current=1&position=-5", 10, "parameter position must be between 0 and");
  fails("savePlayQueue?id=1&current=1&position=soon", 10, "parameter position must be a whole number");
  fails("createBookmark?id=1&position=-1", 10, "parameter position must be between 0 and");
  fails("setRating?id=1&rating=6", 10, "parameter rating must be between 0 and 5");
  fails("getSong?id=1&id=1", 10, "parameter id given 2 times");
  fails("getAlbumList2?type=loudest", 10, "unknown list type loudest");
  fails("getRandomSongs?size=ten", 10, "parameter size must be a whole number");
  fails("scrobble?id=1&time=soon", 10, "parameter time must be milliseconds");
  fails("stream?id=1&estimateContentLength=maybe", 10, "parameter estimateContentLength must be true or false");
  // A music folder id that is no number names no folder (70), as a song id does.
  fails("findSonicPath?startSongId=1&endSongId=1&count=1", 10, "parameter count: a path holds its two ends");
  fails("getArtists?musicFolderId=many", 70, "music folder not found: many");
  fails("getStarred2?musicFolderId=many", 70, "music folder not found: many");
  // R6-6. Before: timeOffset was accepted up to 2^31 (2147483648, one past a 32-bit int) and the
  // error named that bound; past the song's end was code 0.
  fails("stream?id=1&timeOffset=2147483648", 10, "parameter timeOffset must be between 0 and 2147483647");
  fails("stream?id=1&format=mp3&timeOffset=2147483647", 10, "parameter timeOffset: 2147483647 is past the song's end (3 s)");
  // The order: a missing required parameter first (10), then a value that cannot be used (10),
  // then an id that names nothing (70). Before: savePlayQueue with position=1e30 and no current
  // said "current is missing" only by luck of order, and an unknown song id (70) hid a missing
  // current; createBookmark, findSonicPath, createPlaylist and byYear likewise.
  fails("savePlayQueue?id=999", 10, "required parameter is missing: current");
  fails("savePlayQueue?id=1&current=1&position=1e30", 10, "parameter position must be a whole number");
  fails("savePlayQueue?id=999&current=999&position=-1", 10, "parameter position must be between");
  fails("savePlayQueue?id=999&current=999", 70, "song not found: 999");
  fails("savePlayQueueByIndex?id=999", 10, "required parameter is missing: currentIndex");
  fails("createBookmark?id=999", 10, "required parameter is missing: position");
  fails("findSonicPath?startSongId=999", 10, "required parameter is missing: endSongId");
  fails("getSonicSimilarTracks?id=999&count=-1", 10, "parameter count must be between");
  fails("createPlaylist?songId=999", 10, "required parameter is missing: name");
  fails("getAlbumList2?type=byYear&toYear=abc", 10, "required parameter is missing: fromYear");
  fails("stream?id=999&timeOffset=-1", 10, "parameter timeOffset must be between");
  fails("stream?id=999", 70, "song not found: 999");
}

}  // namespace
}  // namespace clap::server
