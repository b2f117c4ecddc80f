// Stopping a server (serve's Ctrl-C / SIGTERM thread calls Server::stop) whenever the stop comes.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "server/server.h"
#include "support/golden.h"

namespace clap::server {
namespace {

const std::string& library_db() {
  static const std::string db = [] {
    const std::string shared = test::shared_fixture("server-stop", [](const std::string& dir) {
      test::ffmpeg(dir + "/music/a.flac", "-f lavfi -i \"sine=f=440:d=4\"");
      test::index_library(dir + "/music", dir + "/library.db", test::case_dir("tiny-unfused"));
    });
    return shared + "/library.db";
  }();
  return db;
}

// H16S-3: cpp-httplib's stop() ends its listen loop only while the loop runs, so a stop asked after
// bind() and before run() reached the loop (SIGTERM just after serve printed "listening", a window a
// loaded machine stretched: pass 15's race15.sh waited on such a server for minutes) was lost, and
// the server served on until killed. Here the stop comes before run(), the widest form of that
// window: run() must return. The 60 s are not a time the test measures, only how long it waits for
// a run() that would otherwise never return (then a second stop, to the running loop, ends it).
TEST(ServerStop, AStopAskedBeforeTheServerRunsEndsIt) {
  ServerOptions o;
  o.db = library_db();
  o.port = 0;
  Server server(o);
  server.bind();
  server.stop();
  auto run = std::async(std::launch::async, [&server] { server.run(); });
  const bool ended = run.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  if (!ended) server.stop();
  run.wait();
  EXPECT_TRUE(ended) << "run() went on serving after a stop asked before it";
}

}  // namespace
}  // namespace clap::server
