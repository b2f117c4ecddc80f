// Two `clapsearch serve` processes on one PostgreSQL index (a real PostgreSQL server, two real
// server processes on loopback), written to at once through /rest/. H7S-1 made a playlist's
// read, check and write one step under a lock, but the lock was the process's: two processes'
// adds to one playlist could still each write the playlist as they had read it, and the later
// write dropped the other's song. The same held for every write that replaces what a user keeps
// (a delete, then an insert): a bookmark of one song made at once twice was kept twice, and two
// play queues saved at once met on the queue's key (one answered "failed").
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string q(const std::string& s) { return test::quoted(s); }

// Called from many threads at once: each answer into a file of its own (run_command's captured
// output is one file for every call).
json rest(int port, const std::string& call) {
  static std::atomic<int> calls{0};
  const std::string body = test::temp_dir() + "/two-servers-answer-" + std::to_string(calls++);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/rest/" + call +
                          (call.find('?') == std::string::npos ? "?" : "&") + "u=alice&p=alicepw&v=1.16.1&c=test&f=json";
  const int status = test::run_command("curl -s -m 60 -o " + q(body) + " " + q(url));
  const std::string out = fs::exists(body) ? test::read_file(body) : "";
  if (status != 0) return json{{"curl", status}};
  try {
    return json::parse(out)["subsonic-response"];
  } catch (const std::exception&) {
    return json{{"unparsed", out}};
  }
}

class Servers {
 public:
  explicit Servers(const std::string& db) {
    for (int i = 0; i < 2; ++i) {
      children_.push_back(test::start_cli({"serve", "--db", db, "--port", "0"}));
      ports_.push_back(test::served_port(children_.back()));
    }
  }
  ~Servers() {
    for (const test::Child& c : children_) {
      ::kill(c.pid, SIGTERM);
      test::wait_exit(c.pid);
    }
  }
  int port(int i) const { return ports_[i]; }
  std::string log(int i) const { return test::read_file(children_[i].err_path); }

 private:
  std::vector<test::Child> children_;
  std::vector<int> ports_;
};

TEST(TwoServers, WritesOfOneUserThroughTwoServerProcessesOnOnePostgresIndexAreAllKept) {
  const std::string dir = test::temp_dir() + "/two-servers";
  fs::remove_all(dir);
  for (int i = 0; i < 3; ++i)
    test::ffmpeg(dir + "/music/s" + std::to_string(i) + ".flac", "-f lavfi -i \"sine=f=" + std::to_string(300 + 200 * i) + ":d=4\"");
  const std::string db = test::PostgresServer::shared().create_database();
  // The users' key file of a PostgreSQL index lives in the data folder: the same for the CLI and
  // both servers (set for this test only: other tests read the default index's place from it).
  struct DataHome {
    std::optional<std::string> old;
    explicit DataHome(const std::string& dir) {
      if (const char* v = std::getenv("XDG_DATA_HOME")) old = v;
      ::setenv("XDG_DATA_HOME", dir.c_str(), 1);
    }
    ~DataHome() { old ? ::setenv("XDG_DATA_HOME", old->c_str(), 1) : ::unsetenv("XDG_DATA_HOME"); }
  } data_home(dir + "/data");
  test::index_library(dir + "/music", db, test::case_dir("tiny-unfused"), "--quiet");
  std::ofstream(dir + "/pw") << "alicepw\n";
  std::string out, err;
  ASSERT_EQ(test::run_cli("user add alice --password-file " + q(dir + "/pw") + " --db " + q(db), &out, &err), 0) << err;

  Servers servers(db);
  ASSERT_NE(servers.port(0), 0) << servers.log(0);
  ASSERT_NE(servers.port(1), 0) << servers.log(1);
  const json songs = rest(servers.port(0), "search3?query=&songCount=10");
  ASSERT_EQ(songs["searchResult3"]["song"].size(), 3u) << songs.dump();
  std::vector<std::string> ids;
  for (const json& s : songs["searchResult3"]["song"]) ids.push_back(s["id"]);

  // Both servers, 12 requests each at once; each answered ok.
  const auto at_once = [&](const std::function<std::string(int)>& call) {
    std::vector<std::future<json>> answers;
    for (int i = 0; i < 24; ++i)
      answers.push_back(std::async(std::launch::async, [&, i] { return rest(servers.port(i % 2), call(i)); }));
    int ok = 0;
    for (auto& a : answers) {
      const json r = a.get();
      if (r.value("status", "") == "ok") ++ok;
      else ADD_FAILURE() << r.dump();
    }
    return ok;
  };

  const json made = rest(servers.port(0), "createPlaylist?name=together");
  ASSERT_EQ(made["status"], "ok") << made.dump();
  const std::string playlist = made["playlist"]["id"];
  for (int round = 1; round <= 2; ++round) {
    EXPECT_EQ(at_once([&](int i) { return "updatePlaylist?playlistId=" + playlist + "&songIdToAdd=" + ids[i % 3]; }), 24);
    for (int s = 0; s < 2; ++s)
      EXPECT_EQ(rest(servers.port(s), "getPlaylist?id=" + playlist)["playlist"]["songCount"], 24 * round)
          << "round " << round << ", server " << s;
  }

  // Siblings: a bookmark of one song, made at once from both servers, is one bookmark.
  EXPECT_EQ(at_once([&](int i) { return "createBookmark?id=" + ids[0] + "&position=" + std::to_string(1000 * (i + 1)); }), 24);
  const json marks = rest(servers.port(1), "getBookmarks");
  EXPECT_EQ(marks["bookmarks"].value("bookmark", json::array()).size(), 1u) << marks.dump();
  // The play queue, saved at once from both servers: every save answered ok, one queue kept whole.
  EXPECT_EQ(at_once([&](int i) {
              return "savePlayQueue?id=" + ids[i % 3] + "&id=" + ids[(i + 1) % 3] + "&current=" + ids[i % 3];
            }),
            24);
  const json queue = rest(servers.port(0), "getPlayQueue");
  EXPECT_EQ(queue["playQueue"].value("entry", json::array()).size(), 2u) << queue.dump();
}

}  // namespace
}  // namespace clap
