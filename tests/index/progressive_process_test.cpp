// Progressive indexing (index/passes.h) through real `clapsearch` processes (the CLI is the
// indexer as users run it; kept beside the indexer's tests): a kill -9 during the
// first pass and during the second, each followed by a run that ends in the index a one-shot
// run makes (bit for bit), and a partly indexed library answering search, like, similar and status.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "store/sqlite_store.h"
#include "support/golden.h"
#include "support/index_state.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string q(const std::string& s) { return test::quoted(s); }
std::string model_dir() { return test::case_dir("tiny-unfused"); }

int cli(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return test::run_cli(args, out, err);
}

// Eight two-minute tones (23 windows each: pass 1 holds 4, pass 2 adds 5, and so on), made once.
const std::string& library() {
  static const std::string dir = test::shared_fixture("progressive-cli-library", [](const std::string& d) {
    for (int i = 0; i < 8; ++i)
      test::ffmpeg(d + "/t" + std::to_string(i) + ".flac",
                   "-f lavfi -i \"sine=f=" + std::to_string(180 + 90 * i) + ":d=120:sample_rate=16000\" -c:a flac");
  });
  return dir;
}
constexpr int kTracks = 8;

// The one-shot index (--first-pass 0) of library(), made by the CLI once per test process.
const std::map<std::string, test::TrackState>& one_shot() {
  static const auto state = [] {
    const std::string db = test::temp_dir() + "/one-shot.db";
    std::string err;
    EXPECT_EQ(cli("index " + q(library()) + " --db " + q(db) + " --model " + q(model_dir()) + " --first-pass 0 -q", nullptr, &err), 0)
        << err;
    return test::index_state(db);
  }();
  return state;
}

store::Counts counts_of(const std::string& db) {
  try {
    if (fs::exists(db)) return store::SqliteStore::open_readonly(db).counts();
  } catch (const std::exception&) {  // not created or migrated yet
  }
  return {};
}

// Starts a slow index run (one window per model call), kills it with SIGKILL once `ready` holds
// for the index's counts, and returns the counts after the kill.
store::Counts kill_when(const std::string& db, const std::function<bool(const store::Counts&)>& ready) {
  test::Child c = test::start_cli({"index", library(), "--db", db, "--model", model_dir(), "--batch", "1", "--threads", "1", "--quiet"});
  const auto t0 = Clock::now();
  bool seen = false;
  while (!seen && Clock::now() - t0 < std::chrono::seconds(300)) {
    seen = ready(counts_of(db));
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_TRUE(seen) << "the state to kill in never came";
  EXPECT_EQ(kill(c.pid, SIGKILL), 0);
  int st = 0;
  EXPECT_EQ(waitpid(c.pid, &st, 0), c.pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << "the run ended before it could be killed";
  store::SqliteStore s = store::SqliteStore::open(db);
  for (const auto& p : s.check()) ADD_FAILURE() << "after kill -9: " << p;
  return s.counts();
}

void resume_and_compare(const std::string& db) {
  std::string out, err;
  ASSERT_EQ(cli("index " + q(library()) + " --db " + q(db) + " --json -q", &out, &err), 0) << err;
  EXPECT_EQ(test::index_state_diff(test::index_state(db), one_shot()), "");
  const store::Counts c = store::SqliteStore::open_readonly(db).counts();
  EXPECT_EQ(c.complete_tracks, kTracks);
  EXPECT_EQ(c.ok_windows, c.window_total);
}

TEST(ProgressiveCli, KillNineDuringTheFirstPassThenResume) {
  const std::string db = test::temp_dir() + "/library.db";
  one_shot();
  const store::Counts c = kill_when(db, [](const store::Counts& c) { return c.tracks >= 1; });
  std::printf("[ killed ] in pass 1 with %lld of %d tracks in\n", static_cast<long long>(c.tracks), kTracks);
  EXPECT_LT(c.tracks, kTracks) << "killed after the first pass";
  EXPECT_EQ(c.ok_windows, 3 * c.tracks);  // each track in holds its first pass (3 windows), whole
  resume_and_compare(db);
}

TEST(ProgressiveCli, KillNineDuringTheSecondPassThenResume) {
  const std::string db = test::temp_dir() + "/library.db";
  one_shot();
  const store::Counts c =
      kill_when(db, [](const store::Counts& c) { return c.tracks == kTracks && c.ok_windows > 3 * kTracks; });
  std::printf("[ killed ] in pass 2 with %lld of %lld windows in\n", static_cast<long long>(c.ok_windows),
              static_cast<long long>(c.window_total));
  EXPECT_EQ(c.tracks, kTracks);
  EXPECT_LT(c.ok_windows, c.window_total) << "killed after the second (the last) pass";
  resume_and_compare(db);
}

TEST(ProgressiveCli, APartlyIndexedLibraryAnswersEveryQuery) {
  const std::string db = test::temp_dir() + "/library.db";
  std::string out, err;
  ASSERT_EQ(cli("index " + q(library()) + " --db " + q(db) + " --model " + q(model_dir()) + " --passes 1 --json -q", &out, &err), 0)
      << err;
  EXPECT_EQ(nlohmann::json::parse(out)["indexed"], kTracks);
  // The first pass decodes each track's 3 windows as spans, and nothing whole (issue 56: the
  // decodes a run made, in its report).
  EXPECT_EQ(nlohmann::json::parse(out)["decodes"], (nlohmann::json{{"whole", 0}, {"spans", kTracks}})) << out;

  ASSERT_EQ(cli("status --db " + q(db) + " --json", &out, &err), 0) << err;
  const auto st = nlohmann::json::parse(out)["coverage"];
  EXPECT_EQ(st["windows"], 3 * kTracks);
  EXPECT_EQ(st["window_total"], 23 * kTracks);
  EXPECT_EQ(st["complete_tracks"], 0);
  EXPECT_EQ(st["first_pass_tracks"], kTracks);
  ASSERT_EQ(cli("status --db " + q(db), &out, &err), 0) << err;
  EXPECT_NE(out.find("coverage  24 of 184 windows embedded (13.0%); 0 tracks complete, 8 first pass only"), std::string::npos)
      << out;

  const double coverage = 3.0 / 23.0;
  auto expect_every_track = [&](const nlohmann::json& results, size_t n) {
    ASSERT_EQ(results.size(), n) << results.dump();
    for (const auto& r : results) {
      EXPECT_NEAR(r["coverage"].get<double>(), coverage, 1e-6) << r.dump();
      EXPECT_EQ(r["window_count"], 3) << r.dump();  // "3 of 23 windows"
      EXPECT_EQ(r["window_total"], 23) << r.dump();
    }
  };
  ASSERT_EQ(cli("search 'a pure tone' -k 0 --json --db " + q(db), &out, &err), 0) << err;
  {
    auto j = nlohmann::json::parse(out);
    expect_every_track(j.is_array() && !j.empty() && j[0].contains("results") ? j[0]["results"] : j, kTracks);
  }
  const std::string query = library() + "/t3.flac";
  ASSERT_EQ(cli("similar " + q(query) + " -k 0 --json --db " + q(db), &out, &err), 0) << err;
  expect_every_track(nlohmann::json::parse(out), kTracks - 1);  // the query track left out
  ASSERT_EQ(cli("like " + q(query) + " -k 3 --json --db " + q(db), &out, &err), 0) << err;
  {
    auto j = nlohmann::json::parse(out);
    const auto& results = j.is_object() && j.contains("results") ? j["results"] : j;
    ASSERT_FALSE(results.empty()) << out;
    EXPECT_EQ(results[0]["path"], query) << "the track itself is the best match even from 4 of its windows";
    EXPECT_NEAR(results[0]["coverage"].get<double>(), coverage, 1e-6);
  }
}

}  // namespace
}  // namespace clap
