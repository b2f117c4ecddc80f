// Hostile pass 8 on the /rest/ server (issue 53), on a real server (a thread of this process) over
// a real index: a search query of marks only is looked for as written, not answered with the
// whole library; covers are scaled, and long answers built, a few at a time.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "server/running_server.h"
#include "server/subsonic.h"
#include "service/media_files.h"
#include "support/golden.h"

namespace clap::server {
namespace {

using json = nlohmann::json;

class SubsonicHostile8 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = test::temp_dir() + "/subsonic-hostile8", music = dir + "/music";
    db_ = dir + "/library.db";
    test::ffmpeg(music + "/bang.flac", "-f lavfi -i \"sine=f=300:d=3\" -metadata title=Heart -metadata artist=!!! -metadata album=Myth");
    test::ffmpeg(music + "/live.flac",
                 "-f lavfi -i \"sine=f=400:d=3\" -metadata \"title=Song (Live)\" -metadata artist=Band -metadata album=Disc");
    test::ffmpeg(music + "/plain.flac", "-f lavfi -i \"sine=f=500:d=3\" -metadata title=Song -metadata artist=Band -metadata album=Disc");
    test::ffmpeg(music + "/big/song.flac", "-f lavfi -i \"sine=f=600:d=3\" -metadata title=Big -metadata artist=Wide -metadata album=Poster");
    // A 16-megapixel cover beside it, different in every run (the cover cache outlives a run, and
    // a cached size is not scaled again).
    const unsigned mark = std::random_device{}() % 3900;
    test::ffmpeg(music + "/big/cover.jpg", "-f lavfi -i \"testsrc2=s=4000x4000\" -frames:v 1 -vf \"drawbox=x=" + std::to_string(mark) +
                                               ":y=" + std::to_string(mark) + ":w=64:h=64:color=red:t=fill\"");
    test::index_library(music, db_, test::case_dir("tiny-unfused"));
    std::ofstream(dir + "/pw") << "pw\n";
    std::string out, err;
    ASSERT_EQ(test::run_cli("user add alice --db " + test::quoted(db_) + " < " + test::quoted(dir + "/pw"), &out, &err), 0) << err;
  }
  static std::string db_;
};
std::string SubsonicHostile8::db_;

json rest_get(RunningServer& server, const std::string& query) {
  auto r = server.client().Get("/rest/" + query + "&f=json&v=1.16.1&c=test&u=alice&p=pw");
  if (!r) throw std::runtime_error("no response to " + query);
  return json::parse(r->body)["subsonic-response"];
}

std::set<std::string> titles(const json& result) {
  std::set<std::string> out;
  for (const json& s : result.value("song", json::array())) out.insert(s["title"].get<std::string>());
  return out;
}

// H8S-4: a query with no word in it ("!!!", a band's name; "(Live)", a bracketed group the name
// folding drops) was the empty query, and answered every song, album and artist as if they
// matched. Such a query is looked for as written (case-folded) in the names; a NUL is refused.
TEST_F(SubsonicHostile8, ASearchOfMarksOnlyFindsWhatHoldsThem) {
  RunningServer server(ServerOptions{}, db_, 30);
  const json bang = rest_get(server, "search3?query=%21%21%21")["searchResult3"];
  EXPECT_EQ(titles(bang), std::set<std::string>{"Heart"}) << bang.dump();
  ASSERT_EQ(bang["artist"].size(), 1u) << bang.dump();
  EXPECT_EQ(bang["artist"][0]["name"], "!!!");
  EXPECT_EQ(bang["album"].size(), 1u) << bang.dump();  // Myth, by !!!
  EXPECT_EQ(titles(rest_get(server, "search2?query=%28live%29")["searchResult2"]), std::set<std::string>{"Song (Live)"});
  const json none = rest_get(server, "search3?query=%E2%99%AB")["searchResult3"];  // a note sign: in no name
  EXPECT_TRUE(none["song"].empty() && none["album"].empty() && none["artist"].empty()) << none.dump();
  const json nul = rest_get(server, "search3?query=%00");
  EXPECT_EQ(nul["status"], "failed") << nul.dump();
  EXPECT_EQ(nul.value("error", json::object()).value("message", ""), "parameter query: holds a NUL character") << nul.dump();
  // The empty query, as apps send it, is still everything.
  for (const std::string empty : {"", "%22%22", "*", "%20"})
    EXPECT_EQ(rest_get(server, "search3?query=" + empty)["searchResult3"]["song"].size(), 4u) << empty;
  EXPECT_EQ(titles(rest_get(server, "search3?query=song")["searchResult3"]), (std::set<std::string>{"Song", "Song (Live)"}));
}

// H8S-5: every getCoverArt request decoded and scaled its cover at once, each holding the whole
// picture: 16 requests for sizes of one 35-megapixel cover took the server from 70 MB to 950 MB
// (a signed-in user, or a phone's grid). At most kCoverScalingsAtOnce covers are scaled at once;
// the other requests wait their turn and are answered.
TEST_F(SubsonicHostile8, CoversAreScaledAFewAtATime) {
  RunningServer server(ServerOptions{}, db_, 60);
  const json found = rest_get(server, "search3?query=big");
  ASSERT_EQ(found["searchResult3"]["song"].size(), 1u) << found.dump();
  const std::string id = found["searchResult3"]["song"][0]["id"];
  std::vector<std::future<std::pair<int, std::string>>> asks;
  for (int i = 0; i < 8; ++i)
    asks.push_back(std::async(std::launch::async, [&, i] {
      httplib::Client client("127.0.0.1", server.port());
      client.set_read_timeout(60, 0);
      auto r = client.Get("/rest/getCoverArt?v=1.16.1&c=test&u=alice&p=pw&id=" + id + "&size=" + std::to_string(300 + i));
      return r ? std::make_pair(r->status, r->get_header_value("Content-Type")) : std::make_pair(0, std::string());
    }));
  for (auto& a : asks) EXPECT_EQ(a.get(), std::make_pair(200, std::string("image/jpeg")));
  EXPECT_GE(service::cover_scalings_peak(), 1);
  EXPECT_LE(service::cover_scalings_peak(), service::kCoverScalingsAtOnce);
}

// H8S-6: a long answer holds about 10 times its size while it is built: 16 requests at once for
// a playlist of 20,000 songs (each 12 MB of XML) took the server from 190 MB to 2.3 GB. At most
// subsonic::kLongAnswersAtOnce answers of more than kLongAnswerItems items are built at once;
// the other requests wait their turn and are answered in full.
TEST_F(SubsonicHostile8, LongAnswersAreBuiltAFewAtATime) {
  RunningServer server(ServerOptions{}, db_, 60);
  std::string form = "u=alice&p=pw&v=1.16.1&c=test&f=json&name=long";
  constexpr int kSongs = 3000;
  for (int i = 0; i < kSongs; ++i) form += "&songId=" + std::to_string(1 + i % 4);
  auto made = server.client().Post("/rest/createPlaylist", form, "application/x-www-form-urlencoded");
  ASSERT_TRUE(made);
  const json playlist = json::parse(made->body)["subsonic-response"];
  ASSERT_EQ(playlist["status"], "ok") << made->body.substr(0, 300);
  const std::string id = playlist["playlist"]["id"];
  std::vector<std::future<std::string>> asks;
  for (int i = 0; i < 6; ++i)
    asks.push_back(std::async(std::launch::async, [&, i] {
      httplib::Client client("127.0.0.1", server.port());
      client.set_read_timeout(60, 0);
      auto r = client.Get("/rest/getPlaylist?v=1.16.1&c=test&u=alice&p=pw&id=" + id + (i % 2 ? "&f=json" : ""));
      return r ? r->body : std::string();
    }));
  for (auto& a : asks) {
    const std::string body = a.get();
    EXPECT_TRUE(body.find("songCount=\"3000\"") != std::string::npos || body.find("\"songCount\":3000") != std::string::npos)
        << body.substr(0, 300);
  }
  EXPECT_GE(subsonic::long_answers_peak(), 1);
  EXPECT_LE(subsonic::long_answers_peak(), subsonic::kLongAnswersAtOnce);
}

}  // namespace
}  // namespace clap::server
