// A PostgreSQL server restarted under a running `clapsearch serve` (hostile pass 21, H21S-2): the
// Subsonic accounts connection (sign-in, every user-data read and write) still held the session
// the restart ended, and the first call after it was refused, code 0 "the connection to the
// PostgreSQL server was lost ... run the command again once the server is back", however long
// after the restart it came (a nightly database restart: every app's first request of the
// morning failed). The connection is found closed before it is used, and opened again.
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

TEST(PostgresRestart, TheFirstSubsonicCallAfterAPostgresqlRestartIsAnswered) {
  const std::string dir = test::temp_dir() + "/postgres_restart", music = dir + "/music";
  fs::remove_all(dir);
  test::ffmpeg(music + "/a.flac", "-f lavfi -i \"sine=f=440:d=4\" -metadata title=A");
  const test_users::BobsIndex index(dir, music, test::PostgresServer::shared().create_database());
  ServerOptions o;
  o.db = index.db();
  RunningServer s(o, index.db(), 60);
  const auto rest = [&](const std::string& call) { return test_users::rest_as_bob(s, call); };
  ASSERT_EQ(rest("getSong?id=1")["status"], "ok");  // the accounts connection is open
  test::PostgresServer::shared().restart();
  const json star = rest("star?id=1");
  EXPECT_EQ(star["status"], "ok") << "the first call after the restart: " << star;
  const json starred = rest("getStarred2?x=1");
  EXPECT_EQ(starred.value("starred2", json::object()).value("song", json::array()).size(), 1u) << starred;
}

// The library's own connection (hostile pass 22, the rest of H21S-2): a text search reads the text
// cache through it, and right after a restart it was answered 503 "index unavailable" ("the
// connection to the PostgreSQL server was lost") until the refresh loop, once a second, opened the
// connection again. Here the loop looks only every 10 minutes, so nothing but the request itself
// can find the session gone.
TEST(PostgresRestart, TheFirstSearchAfterAPostgresqlRestartIsAnswered) {
  const std::string dir = test::temp_dir() + "/postgres_restart_search", music = dir + "/music";
  fs::remove_all(dir);
  const std::string db = test::PostgresServer::shared().create_database();
  test::ffmpeg(music + "/a.flac", "-f lavfi -i \"sine=f=440:d=4\" -metadata title=A");
  std::string err;
  ASSERT_EQ(test::run_cli("index " + test::quoted(music) + " --db " + test::quoted(db) + " --model " +
                              test::quoted(test::case_dir("tiny-unfused")),
                          nullptr, &err),
            0)
      << err;
  ServerOptions o;
  o.db = db;
  o.refresh_ms = 600000;
  RunningServer s(o, db, 60);
  const auto search = [&](const std::string& q) {
    auto r = s.client().Get("/api/search?q=" + q);
    return r ? std::to_string(r->status) + " " + r->body : std::string("no answer");
  };
  ASSERT_EQ(search("calm").substr(0, 3), "200");  // the library's connection is open and in use
  test::PostgresServer::shared().restart();
  const std::string first = search("drums");  // not cached: the cache is read, then written
  EXPECT_EQ(first.substr(0, 3), "200") << "the first search after the restart: " << first;
  EXPECT_EQ(search("calm").substr(0, 3), "200");
}

}  // namespace
}  // namespace clap::server
