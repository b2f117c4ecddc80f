// A retried scrobble records one play (hostile pass 16, H16S-5), on both stores: a player that lost
// the answer to `scrobble?id=X&time=T` sends it again, and the history held two plays (two in
// `clapsearch history`, a play count of 2). A real server on a real index, over HTTP.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "server/bobs_index.h"
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
  test::ffmpeg(music + "/a.flac", "-f lavfi -i \"sine=f=440:d=4\" -metadata title=A");
  test::ffmpeg(music + "/b.flac", "-f lavfi -i \"sine=f=660:d=4\" -metadata title=B");
  const test_users::BobsIndex index(dir, music,
                                    GetParam() == "sqlite" ? dir + "/library.db" : test::PostgresServer::shared().create_database());
  const std::string& db = index.db();

  ServerOptions o;
  o.db = db;
  {
    RunningServer s(o, db, 60);
    const auto rest = [&](const std::string& call) { return test_users::rest_as_bob(s, call); };
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
  std::string out, err;
  ASSERT_EQ(test::run_cli("history --json --user bob --db " + test::quoted(db), &out, &err), 0) << err;
  const json h = json::parse(out);
  EXPECT_EQ(h["plays"], 3) << h;
}

INSTANTIATE_TEST_SUITE_P(Backends, ScrobbleOnce, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace clap::server
