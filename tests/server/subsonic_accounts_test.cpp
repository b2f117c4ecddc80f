// The accounts behind /rest/ on a real server (a thread of this process) over a real index: the
// API is off (404) until the index has a user and on as soon as `clapsearch user add` (another
// process) makes one, without a restart; what a user keeps outlives the server; a missing key
// file is said plainly (code 0), never taken for a wrong password. The protocol cases themselves
// are driven by the real client (tests/subsonic/auth.test.mjs, userdata.test.mjs).
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <vector>
#include <nlohmann/json.hpp>

#include "server/running_server.h"
#include "support/golden.h"

namespace clap::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

json rest(RunningServer& server, const std::string& query, int expect_status = 200) {
  auto r = server.client().Get("/rest/" + query + "&f=json&v=1.16.1&c=test");
  if (!r) throw std::runtime_error("no response to " + query);
  EXPECT_EQ(r->status, expect_status) << query << ": " << r->body;
  return json::parse(r->body)["subsonic-response"];
}

TEST(SubsonicAccounts, RestTurnsOnWithTheFirstUserAndUserDataOutlivesTheServer) {
  const std::string dir = test::temp_dir(), music = dir + "/music", db = dir + "/library.db";
  test::ffmpeg(music + "/a.flac", "-f lavfi -i \"sine=f=440:d=4\" -metadata title=A");
  test::ffmpeg(music + "/b.flac", "-f lavfi -i \"sine=f=660:d=4\" -metadata title=B");
  test::index_library(music, db, test::case_dir("tiny-unfused"));
  const std::string auth = "u=alice&p=open%20sesame";
  {
    RunningServer server(ServerOptions{}, db, 30);
    EXPECT_EQ(rest(server, "ping.view?" + auth, 404)["status"], "failed");
    std::ofstream(dir + "/pw") << "open sesame\n";
    std::string out, err;
    ASSERT_EQ(test::run_cli("user add alice --db " + test::quoted(db) + " < " + test::quoted(dir + "/pw"), &out, &err), 0) << err;
    EXPECT_EQ(rest(server, "ping.view?" + auth)["status"], "ok");  // no restart
    EXPECT_EQ(rest(server, "star.view?" + auth + "&id=1")["status"], "ok");
    EXPECT_EQ(rest(server, "createPlaylist.view?" + auth + "&name=kept&songId=2&songId=1")["status"], "ok");
  }
  RunningServer again(ServerOptions{}, db, 30);
  const json starred = rest(again, "getStarred2.view?" + auth);
  ASSERT_EQ(starred["starred2"]["song"].size(), 1u) << starred.dump();
  EXPECT_EQ(starred["starred2"]["song"][0]["title"], "A");
  const json lists = rest(again, "getPlaylists.view?" + auth);
  ASSERT_EQ(lists["playlists"]["playlist"].size(), 1u) << lists.dump();
  EXPECT_EQ(lists["playlists"]["playlist"][0]["name"], "kept");
  EXPECT_EQ(lists["playlists"]["playlist"][0]["songCount"], 2);

  // Without its key file a stored password cannot be read: the server says so (code 0), and
  // does not count it against the user as a wrong password. (On a copy of the index, whose key
  // file is moved away: a server keeps the key it has read.)
  const std::string copy = dir + "/copy.db";
  std::string out, err;
  ASSERT_EQ(test::run_cli("migrate --quiet --from " + test::quoted(db) + " --to " + test::quoted(copy), &out, &err), 0) << err;
  fs::rename(copy + ".key", dir + "/saved.key");
  RunningServer keyless(ServerOptions{}, copy, 30);
  for (int i = 0; i < 6; ++i) {
    const json r = rest(keyless, "ping.view?" + auth);
    EXPECT_EQ(r["error"]["code"], 0) << r.dump();
    EXPECT_NE(r["error"]["message"].get<std::string>().find("key file"), std::string::npos) << r.dump();
  }
  fs::rename(dir + "/saved.key", copy + ".key");
  EXPECT_EQ(rest(keyless, "ping.view?" + auth)["status"], "ok");
}

// Hostile pass 4 (R2, R3): a name is found in any ASCII case, so the wrong-password limit counts
// every spelling of it together; a client that forgets the '?' ("/rest/ping.view&u=..&p=..")
// never gets its password into the access log.
TEST(SubsonicAccounts, NamesMatchInAnyCaseAndTheLogNeverHoldsAPassword) {
  const std::string dir = test::temp_dir(), music = dir + "/music", db = dir + "/library.db";
  test::ffmpeg(music + "/a.flac", "-f lavfi -i \"sine=f=440:d=3\" -metadata title=A");
  test::index_library(music, db, test::case_dir("tiny-unfused"));
  std::ofstream(dir + "/pw") << "open sesame\n";
  std::string out, err;
  ASSERT_EQ(test::run_cli("user add carol --db " + test::quoted(db) + " < " + test::quoted(dir + "/pw"), &out, &err), 0) << err;
  auto lines = std::make_shared<std::vector<std::string>>();
  auto guard = std::make_shared<std::mutex>();
  ServerOptions options;
  options.log = [lines, guard](const std::string& line) {
    std::lock_guard<std::mutex> lock(*guard);
    lines->push_back(line);
  };
  RunningServer server(options, db, 30);
  EXPECT_EQ(rest(server, "ping.view?u=Carol&p=open%20sesame")["status"], "ok");
  server.client().Get("/rest/ping.view&u=carol&p=open%20sesame");
  // Five wrong passwords, each in another spelling, lock every spelling out.
  for (const char* name : {"CAROL", "Carol", "cArol", "caRol", "carOl"})
    EXPECT_EQ(rest(server, std::string("ping.view?u=") + name + "&p=wrong")["error"]["code"], 40);
  const json locked = rest(server, "ping.view?u=carol&p=open%20sesame");
  EXPECT_NE(locked["error"]["message"].get<std::string>().find("too many failed attempts"), std::string::npos) << locked.dump();
  std::lock_guard<std::mutex> lock(*guard);
  ASSERT_FALSE(lines->empty());
  for (const std::string& line : *lines) EXPECT_EQ(line.find("sesame"), std::string::npos) << line;
}

}  // namespace
}  // namespace clap::server
