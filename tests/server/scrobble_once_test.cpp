// A retried scrobble records one play (hostile pass 16, H16S-5), on both stores: a player that lost
// the answer to `scrobble?id=X&time=T` sends it again, and the history held two plays (two in
// `clapsearch history`, a play count of 2). A real server on a real index, over HTTP.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "server/running_server.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class ScrobbleOnce : public ::testing::TestWithParam<std::string> {};

TEST_P(ScrobbleOnce, ARetriedScrobbleRecordsOnePlay) {
  const std::string dir = test::temp_dir() + "/scrobble_once_" + GetParam(), music = dir + "/music";
  fs::remove_all(dir);
  const std::string db = GetParam() == "sqlite" ? dir + "/library.db" : test::PostgresServer::shared().create_database();
  // A PostgreSQL index's password key file is under $XDG_DATA_HOME: the CLI's and this process's.
  const std::string env = "XDG_DATA_HOME=" + test::quoted(dir + "/data");
  ASSERT_EQ(setenv("XDG_DATA_HOME", (dir + "/data").c_str(), 1), 0);
  test::ffmpeg(music + "/a.flac", "-f lavfi -i \"sine=f=440:d=4\" -metadata title=A");
  test::ffmpeg(music + "/b.flac", "-f lavfi -i \"sine=f=660:d=4\" -metadata title=B");
  std::string out, err;
  ASSERT_EQ(test::run_cli("index " + test::quoted(music) + " --db " + test::quoted(db) + " --model " +
                              test::quoted(test::case_dir("tiny-unfused")),
                          nullptr, &err, env),
            0)
      << err;
  std::ofstream(dir + "/pw") << "secret\n";
  ASSERT_EQ(test::run_cli("user add bob --db " + test::quoted(db) + " < " + test::quoted(dir + "/pw"), nullptr, &err, env), 0)
      << err;

  ServerOptions o;
  o.db = db;
  {
    RunningServer s(o, db, 60);
    const auto rest = [&](const std::string& call) {
      auto r = s.client().Get("/rest/" + call + "&u=bob&p=secret&f=json&v=1.16.1&c=t");
      return r ? json::parse(r->body)["subsonic-response"] : json{{"status", "no answer"}};
    };
    // The index numbers its tracks in path order.
    const std::string song_a = "id=1", song_b = "id=2";
    ASSERT_EQ(rest("getSong?" + song_a)["song"]["title"], "A");
    EXPECT_EQ(rest("scrobble?" + song_a + "&time=1700000000000")["status"], "ok");
    EXPECT_EQ(rest("scrobble?" + song_a + "&time=1700000000000")["status"], "ok");  // the retry
    EXPECT_EQ(rest("scrobble?" + song_a + "&time=1700000000999")["status"], "ok");  // the same second
    EXPECT_EQ(rest("scrobble?" + song_a + "&" + song_a + "&time=1700000000000&time=1700000000000")["status"], "ok");
    EXPECT_EQ(rest("scrobble?" + song_a + "&time=1700000060000")["status"], "ok");  // a minute later: a play
    EXPECT_EQ(rest("scrobble?" + song_b + "&time=1700000000000")["status"], "ok");  // another song: a play
    const json song = rest("getSong?" + song_a);
    EXPECT_EQ(song["song"]["playCount"], 2) << song;
  }
  const int rc = test::run_cli("history --json --user bob --db " + test::quoted(db), &out, &err, env);
  unsetenv("XDG_DATA_HOME");
  ASSERT_EQ(rc, 0) << err;
  const json h = json::parse(out);
  EXPECT_EQ(h["plays"], 3) << h;
}

INSTANTIATE_TEST_SUITE_P(Backends, ScrobbleOnce, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace clap::server
