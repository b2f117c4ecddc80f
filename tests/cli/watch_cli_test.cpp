// Issue 37, watching: `clapsearch index --watch` and `clapsearch serve --watch` as real
// processes on real files made by ffmpeg, with the tiny golden model. The library is changed
// the ways people change it - a file copied in, one rewritten with other audio, one renamed,
// one deleted, one written slowly through one open descriptor, a partial download renamed when
// done, the whole folder gone and back - and after each change the test waits (polling with a
// generous deadline, never asserting how fast) until the index agrees. SIGTERM ends the watch
// with status 0. `serve --watch` (on a library without an index yet) answers a file copied in
// without a restart. The same on a PostgreSQL store.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

namespace fs = std::filesystem;

std::string q(const std::string& s) { return test::quoted(s); }
std::string model_dir() { return test::case_dir("tiny-unfused"); }

// A few seconds of a tone, 16 kHz mono WAV (the tiny model's rate: quick to index).
std::string tone(const std::string& path, double freq, double seconds) {
  char args[160];
  std::snprintf(args, sizeof args, "-f lavfi -i \"sine=f=%g:d=%g:sample_rate=16000\" -ac 1", freq, seconds);
  return test::ffmpeg(path, args);
}

// The index's live tracks: path -> (id, size). Read the way `status` reads it (read-only).
struct Indexed {
  int64_t id = 0, size = 0;
};
std::map<std::string, Indexed> tracks_of(const std::string& db) {
  std::map<std::string, Indexed> out;
  try {
    const auto store = store::open_store(db, store::OpenMode::ReadOnly);
    for (const auto& s : store->file_states()) out[s.path] = {s.id, s.size};
  } catch (const std::exception&) {  // not created yet
  }
  return out;
}

std::string listing(const std::map<std::string, Indexed>& t) {
  std::string s;
  for (const auto& [p, i] : t) s += "  " + p + " (id " + std::to_string(i.id) + ", " + std::to_string(i.size) + " bytes)\n";
  return s;
}

int64_t file_size(const std::string& path) { return static_cast<int64_t>(fs::file_size(path)); }

// Kills a child the test did not stop itself (an assertion failed first), so that no watch
// outlives its test.
struct KilledUnlessStopped {
  int pid;
  bool stopped = false;
  ~KilledUnlessStopped() {
    if (!stopped && ::kill(pid, SIGKILL) == 0) test::wait_exit(pid);
  }
};

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(WatchCli, KeepsTheIndexCurrentAsFilesComeAndGo) {
  const std::string dir = test::temp_dir(), lib = dir + "/music", db = dir + "/library.db", src = dir + "/src";
  tone(lib + "/a.wav", 440, 3);
  tone(lib + "/b.wav", 550, 3);
  tone(lib + "/c.wav", 660, 3);
  tone(src + "/d.wav", 770, 3);
  tone(src + "/b-rewritten.wav", 880, 5);
  tone(src + "/slow.wav", 990, 4);
  tone(src + "/download.wav", 1100, 3);
  const test::Child c = test::start_cli({"index", lib, "--db", db, "--model", model_dir(), "--watch", "--quiet-period", "1s"});
  const auto has = [&](std::map<std::string, Indexed> t, std::initializer_list<std::string> names) {
    if (t.size() != names.size()) return false;
    for (const auto& n : names)
      if (!t.count(lib + "/" + n)) return false;
    return true;
  };
  std::map<std::string, Indexed> t;
  ASSERT_TRUE(test::wait_until([&] { return has(t = tracks_of(db), {"a.wav", "b.wav", "c.wav"}); })) << listing(t) << test::read_file(c.err_path);
  // Watching begins only after the first run: wait for it to say so.
  ASSERT_TRUE(test::wait_until([&] { return test::read_file(c.err_path).find("watching for changes") != std::string::npos; }))
      << test::read_file(c.err_path);

  // A file copied in.
  fs::copy_file(src + "/d.wav", lib + "/d.wav");
  ASSERT_TRUE(test::wait_until([&] { return has(t = tracks_of(db), {"a.wav", "b.wav", "c.wav", "d.wav"}); }))
      << listing(t) << test::read_file(c.err_path);

  // A file rewritten with other (longer) audio: embedded again, same track.
  const int64_t b_id = t[lib + "/b.wav"].id;
  fs::copy_file(src + "/b-rewritten.wav", lib + "/b.wav", fs::copy_options::overwrite_existing);
  const int64_t b_size = file_size(lib + "/b.wav");
  ASSERT_TRUE(test::wait_until([&] { return (t = tracks_of(db))[lib + "/b.wav"].size == b_size; })) << listing(t) << test::read_file(c.err_path);
  EXPECT_EQ(t[lib + "/b.wav"].id, b_id);

  // A file renamed: a move (the same track, its embeddings kept).
  const int64_t c_id = t[lib + "/c.wav"].id;
  fs::rename(lib + "/c.wav", lib + "/c-renamed.wav");
  ASSERT_TRUE(test::wait_until([&] { return has(t = tracks_of(db), {"a.wav", "b.wav", "c-renamed.wav", "d.wav"}); }))
      << listing(t) << test::read_file(c.err_path);
  EXPECT_EQ(t[lib + "/c-renamed.wav"].id, c_id);
  EXPECT_NE(test::read_file(c.err_path).find("moved " + lib + "/c.wav -> " + lib + "/c-renamed.wav"), std::string::npos);

  // A file deleted: pruned.
  fs::remove(lib + "/a.wav");
  ASSERT_TRUE(test::wait_until([&] { return has(t = tracks_of(db), {"b.wav", "c-renamed.wav", "d.wav"}); }))
      << listing(t) << test::read_file(c.err_path);

  // A file written slowly through one open descriptor, pausing longer than the quiet period:
  // taken once, when closed, whole.
  const std::string slow = lib + "/slow.wav";
  ASSERT_EQ(test::run_command("(head -c 40000 " + q(src + "/slow.wav") + "; sleep 1.5; tail -c +40001 " + q(src + "/slow.wav") +
                                  " | head -c 40000; sleep 1.5; tail -c +80001 " + q(src + "/slow.wav") + ") > " + q(slow)),
            0);
  const int64_t slow_size = file_size(slow);
  ASSERT_TRUE(test::wait_until([&] { return (t = tracks_of(db))[slow].size == slow_size; })) << listing(t) << test::read_file(c.err_path);
  EXPECT_EQ(count(test::read_file(c.err_path), "indexed " + slow + "\n"), 1u) << test::read_file(c.err_path);

  // A partial download, renamed when complete: only the final name is indexed.
  fs::copy_file(src + "/download.wav", lib + "/download.wav.part");
  fs::rename(lib + "/download.wav.part", lib + "/download.wav");
  ASSERT_TRUE(test::wait_until([&] {
    return has(t = tracks_of(db), {"b.wav", "c-renamed.wav", "d.wav", "slow.wav", "download.wav"});
  })) << listing(t) << test::read_file(c.err_path);
  const std::map<std::string, Indexed> before = t;

  // The whole folder gone (an unmounted drive): nothing pruned. Then an empty folder in its
  // place (the bare mount point): still nothing pruned. Then the files back: the same tracks.
  const std::string away = dir + "/music-away";
  fs::rename(lib, away);
  ASSERT_TRUE(test::wait_until([&] { return test::read_file(c.err_path).find(lib + ": not there") != std::string::npos; }))
      << test::read_file(c.err_path);
  fs::create_directory(lib);
  ASSERT_TRUE(test::wait_until([&] { return test::read_file(c.err_path).find("kept in the index") != std::string::npos; }))
      << test::read_file(c.err_path);
  EXPECT_EQ(tracks_of(db).size(), before.size()) << listing(tracks_of(db)) << test::read_file(c.err_path);
  for (const auto& e : fs::directory_iterator(away)) fs::rename(e.path(), lib + "/" + e.path().filename().string());
  fs::remove(away);
  ASSERT_TRUE(test::wait_until([&] { return test::read_file(c.err_path).find("back") != std::string::npos; })) << test::read_file(c.err_path);
  t = tracks_of(db);
  ASSERT_EQ(t.size(), before.size()) << listing(t);
  for (const auto& [path, i] : before) EXPECT_EQ(t[path].id, i.id) << path;
  EXPECT_EQ(test::read_file(c.err_path).find("pruned " + lib + "/b.wav"), std::string::npos) << test::read_file(c.err_path);

  // SIGTERM: a clean stop.
  ASSERT_EQ(kill(c.pid, SIGTERM), 0);
  EXPECT_EQ(test::wait_exit(c.pid), 0) << test::read_file(c.err_path);
  EXPECT_NE(test::read_file(c.err_path).find("stopped"), std::string::npos);
  // And a plain run afterwards finds nothing to do: the watch left the index current.
  std::string out, err;
  ASSERT_EQ(test::run_command(test::cli_command() + " index " + q(lib) + " --db " + q(db) + " --json", &out, &err), 0) << err;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["indexed"], 0) << out;
  EXPECT_EQ(j["unchanged"], 5) << out;
}

// A PostgreSQL store: each rescan plans the changed files as jobs and this process works them
// (the way `clapsearch index` runs on a store with a job queue).
TEST(WatchCli, APostgresqlStoreIsKeptCurrentToo) {
  const std::string dir = test::temp_dir(), lib = dir + "/music";
  tone(lib + "/a.wav", 440, 3);
  tone(dir + "/src/b.wav", 660, 3);
  const std::string db = test::PostgresServer::shared().create_database();
  const test::Child c = test::start_cli({"index", lib, "--db", db, "--model", model_dir(), "--watch", "--quiet-period", "1s"});
  std::map<std::string, Indexed> t;
  ASSERT_TRUE(test::wait_until([&] { return test::read_file(c.err_path).find("watching for changes") != std::string::npos; }))
      << test::read_file(c.err_path);
  ASSERT_EQ((t = tracks_of(db)).size(), 1u) << listing(t);
  fs::copy_file(dir + "/src/b.wav", lib + "/b.wav");
  ASSERT_TRUE(test::wait_until([&] { return (t = tracks_of(db)).size() == 2 && t.count(lib + "/b.wav"); }))
      << listing(t) << test::read_file(c.err_path);
  const int64_t b_id = t[lib + "/b.wav"].id;
  fs::rename(lib + "/b.wav", lib + "/b-moved.wav");
  ASSERT_TRUE(test::wait_until([&] { return (t = tracks_of(db)).size() == 2 && t.count(lib + "/b-moved.wav"); }))
      << listing(t) << test::read_file(c.err_path);
  EXPECT_EQ(t[lib + "/b-moved.wav"].id, b_id);
  ASSERT_EQ(kill(c.pid, SIGTERM), 0);
  EXPECT_EQ(test::wait_exit(c.pid), 0) << test::read_file(c.err_path);
}

// Issue 53, M7: a folder not there when the watch starts (a disk mounted later, a share not up
// at boot) is waited for - looked for every second - and indexed when it appears, by
// `index --watch` and by `serve --watch` alike; neither gives up.
TEST(WatchCli, AFolderNotThereAtTheStartIsWaitedForAndIndexed) {
  const std::string dir = test::temp_dir();
  tone(dir + "/src/a.wav", 440, 3);
  for (const bool serve : {false, true}) {
    const std::string lib = dir + (serve ? "/served-later" : "/later"), db = dir + (serve ? "/served.db" : "/later.db");
    const test::Child c =
        serve ? test::start_cli({"serve", "--db", db, "--port", "0", "--watch", lib, "--quiet-period", "1s", "--model", model_dir()})
              : test::start_cli({"index", lib, "--db", db, "--model", model_dir(), "--watch", "--quiet-period", "1s"});
    KilledUnlessStopped guard{c.pid};
    ASSERT_TRUE(test::wait_until([&] { return test::read_file(c.err_path).find(lib + ": not there") != std::string::npos; }))
        << test::read_file(c.err_path);
    fs::create_directories(lib);
    fs::copy_file(dir + "/src/a.wav", lib + "/a.wav");
    std::map<std::string, Indexed> t;
    EXPECT_TRUE(test::wait_until([&] { return (t = tracks_of(db)).count(lib + "/a.wav") == 1; }))
        << listing(t) << test::read_file(c.err_path);
    EXPECT_EQ(test::read_file(c.err_path).find("stopped, the index is no longer kept current"), std::string::npos)
        << test::read_file(c.err_path);
    ASSERT_EQ(kill(c.pid, SIGTERM), 0);
    guard.stopped = true;
    EXPECT_EQ(test::wait_exit(c.pid), 0) << test::read_file(c.err_path);
  }
}

// H11S-4: `serve --watch` started while another indexer held the index's lock (a `clapsearch
// index` run, another server's watch) logged "watch: stopped, the index is no longer kept
// current" and went on serving a library it never updated again: the first run was the one run
// not tried again. It now waits as a rescan does, and indexes once the lock is free.
TEST(WatchCli, ServeWatchStartedWhileAnotherIndexerRunsWaitsForIt) {
  const std::string dir = test::temp_dir(), lib = dir + "/music", db = dir + "/library.db";
  tone(lib + "/first.wav", 440, 3);
  std::string err;
  ASSERT_EQ(test::run_cli("index " + q(lib) + " --db " + q(db) + " --model " + q(model_dir()) + " --quiet", nullptr, &err), 0) << err;
  auto other = store::open_store(db, store::OpenMode::ReadWrite);
  auto lock = other->lock_indexer();  // another indexer, running
  tone(lib + "/second.wav", 880, 3);
  const test::Child s = test::start_cli({"serve", "--db", db, "--port", "0", "--watch", lib, "--quiet-period", "1s"});
  KilledUnlessStopped guard{s.pid};
  ASSERT_TRUE(test::wait_until([&] { return test::read_file(s.err_path).find("another `clapsearch index`") != std::string::npos; }))
      << test::read_file(s.err_path);
  lock.reset();  // the other indexer is done
  other.reset();
  std::map<std::string, Indexed> t;
  EXPECT_TRUE(test::wait_until([&] { return (t = tracks_of(db)).count(lib + "/second.wav") == 1; }))
      << listing(t) << test::read_file(s.err_path);
  EXPECT_TRUE(test::wait_until([&] { return test::read_file(s.err_path).find("watching for changes") != std::string::npos; }))
      << test::read_file(s.err_path);
  EXPECT_EQ(test::read_file(s.err_path).find("no longer kept current"), std::string::npos) << test::read_file(s.err_path);
  ASSERT_EQ(kill(s.pid, SIGTERM), 0);
  guard.stopped = true;
  EXPECT_EQ(test::wait_exit(s.pid), 0) << test::read_file(s.err_path);
}

// Issue 53: a symbolic link loop is warned about once per watch, not again at every rescan
// (rough edge 4); and a file replaced by a folder of the same name is pruned (M4).
TEST(WatchCli, ALoopIsWarnedAboutOnceAndAFileTurnedFolderIsPruned) {
  const std::string dir = test::temp_dir(), lib = dir + "/looped", db = dir + "/looped.db";
  tone(lib + "/a.wav", 440, 3);
  tone(dir + "/src/b.wav", 550, 3);
  tone(dir + "/src/c.wav", 660, 3);
  tone(dir + "/src/part.wav", 770, 3);
  fs::create_directory_symlink(lib, lib + "/loop");
  const test::Child c = test::start_cli({"index", lib, "--db", db, "--model", model_dir(), "--watch", "--quiet-period", "1s"});
  KilledUnlessStopped guard{c.pid};
  ASSERT_TRUE(test::wait_until([&] { return test::read_file(c.err_path).find("watching for changes") != std::string::npos; }))
      << test::read_file(c.err_path);
  std::map<std::string, Indexed> t;
  for (const std::string name : {"b.wav", "c.wav"}) {
    fs::copy_file(dir + "/src/" + name, lib + "/" + name);
    ASSERT_TRUE(test::wait_until([&] { return (t = tracks_of(db)).count(lib + "/" + name) == 1; }))
        << listing(t) << test::read_file(c.err_path);
  }
  fs::remove(lib + "/a.wav");
  fs::create_directory(lib + "/a.wav");
  fs::copy_file(dir + "/src/part.wav", lib + "/a.wav/part.wav");
  ASSERT_TRUE(test::wait_until([&] {
    t = tracks_of(db);
    return t.count(lib + "/a.wav/part.wav") == 1 && t.count(lib + "/a.wav") == 0;
  })) << listing(t) << test::read_file(c.err_path);
  ASSERT_EQ(kill(c.pid, SIGTERM), 0);
  guard.stopped = true;
  EXPECT_EQ(test::wait_exit(c.pid), 0) << test::read_file(c.err_path);
  EXPECT_EQ(count(test::read_file(c.err_path), "symbolic link loop"), 1u) << test::read_file(c.err_path);
}

TEST(WatchCli, UsageErrors) {
  std::string out, err;
  const std::string dir = test::temp_dir();
  fs::create_directories(dir + "/m");
  EXPECT_EQ(test::run_command(test::cli_command() + " index " + q(dir + "/m") + " --db " + q(dir + "/x.db") +
                                  " --watch --quiet-period soon",
                              &out, &err),
            2);
  EXPECT_NE(err.find("--quiet-period soon: not a duration"), std::string::npos) << err;
}

TEST(WatchCli, ServeWatchAnswersNewFilesWithoutARestart) {
  const std::string dir = test::temp_dir(), lib = dir + "/music", db = dir + "/library.db";
  tone(lib + "/first.wav", 440, 3);
  tone(dir + "/src/second.wav", 880, 3);
  // No index yet: the server makes an empty one with the model and starts at once; the watch's
  // first run fills it while it serves.
  const test::Child s = test::start_cli(
      {"serve", "--db", db, "--port", "0", "--watch", lib, "--quiet-period", "1s", "--model", model_dir()});
  const int port = test::served_port(s);
  ASSERT_NE(port, 0) << test::read_file(s.err_path);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  const auto answered = [&](const std::string& name) {
    const auto r = client.Get("/api/search?q=a%20tone&k=10");
    if (!r || r->status != 200) return false;
    return r->body.find(name) != std::string::npos;
  };
  ASSERT_TRUE(test::wait_until([&] { return answered("first.wav"); })) << test::read_file(s.err_path);
  // Wait for the watch to begin, then copy a file in.
  ASSERT_TRUE(test::wait_until([&] { return test::read_file(s.err_path).find("watching for changes") != std::string::npos; }))
      << test::read_file(s.err_path);
  fs::copy_file(dir + "/src/second.wav", lib + "/second.wav");
  EXPECT_TRUE(test::wait_until([&] { return answered("second.wav"); })) << test::read_file(s.err_path);
  const auto tracks = client.Get("/api/tracks?limit=100");
  ASSERT_TRUE(tracks);
  EXPECT_NE(tracks->body.find("second.wav"), std::string::npos) << tracks->body;
  ASSERT_EQ(kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(test::wait_exit(s.pid), 0) << test::read_file(s.err_path);
}

}  // namespace
}  // namespace clap
