// kill -9 while writing, with the real CLI: the process is killed at deterministic random
// moments during a rebuild of a 20,000-window vector index and while 400 texts are cached; what
// it leaves is all or nothing (no vector-index file that is trusted unless whole, SQLite's
// integrity_check on the database and WAL, whole text-cache rows), and the next run agrees with a
// clean one. Failing writes (faultfs) are in fault_cli_test.cpp; the shared set-up is
// fault_cli.h.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "fault_cli.h"
#include "hub/hub.h"
#include "index/identity.h"
#include "search/vector_index.h"
#include "store/sqlite_store.h"
#include "support/golden.h"

namespace clap {
namespace {

using namespace fault_cli;

// --- kill -9 ------------------------------------------------------------------------------------

using test::Child;

Child start(const std::vector<std::string>& args) { return test::start_cli(args); }

// Kills the child (if it still runs) and reaps it; true when the kill ended it.
bool kill_and_wait(const Child& c) {
  kill(c.pid, SIGKILL);
  int st = 0;
  if (waitpid(c.pid, &st, 0) != c.pid) throw std::runtime_error("waitpid failed");
  return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

std::vector<float> unit_vector(std::mt19937& rng, int dim) {
  std::normal_distribution<float> g;
  std::vector<float> v(static_cast<size_t>(dim));
  double n = 0;
  for (auto& x : v) {
    x = g(rng);
    n += double(x) * x;
  }
  for (auto& x : v) x = float(x / std::sqrt(n));
  return v;
}

// A library of `tracks` × `windows` random windows, recorded as made by the tiny model (the
// vector index of 20,000 windows is a 40 MB file: its rebuild and write take a while).
void synthetic_library(const std::string& db, int tracks, int windows) {
  const index::ModelSpec spec = index::describe_model(hub::resolve_model(model_dir()), 10, 5, -60);
  store::SqliteStore s = store::SqliteStore::open(db);
  s.set_model(spec.identity);
  std::mt19937 rng(5);
  const int dim = spec.identity.dim;
  for (int t = 0; t < tracks; ++t) {
    store::Track tr;
    tr.path = "/synthetic/track" + std::to_string(t) + ".flac";
    tr.size = 1000 + t;
    tr.mtime_ns = 1;
    tr.duration_s = 5.0 * windows + 5;
    std::vector<store::WindowRecord> ws(static_cast<size_t>(windows));
    for (int i = 0; i < windows; ++i) {
      ws[i].idx = i;
      ws[i].start_s = 5.0 * i;
      ws[i].end_s = 5.0 * i + 10;
      ws[i].loudness_dbfs = -20;
      ws[i].embedding = unit_vector(rng, dim);
    }
    s.put_track(tr, ws, unit_vector(rng, dim).data());
  }
}

TEST(FaultCli, KillNineDuringAVectorIndexRebuildNeverLeavesAFileThatIsTrusted) {
  const std::string dir = test::temp_dir() + "/big", db = dir + "/library.db", file = db + ".windows.faiss";
  fs::create_directories(dir);
  synthetic_library(db, 100, 200);
  const std::vector<std::string> args = {"search", "distant thunder", "-q", "a cello", "--aggregate", "max", "--json",
                                         "-k", "5", "--db", db};
  std::string args_line;
  for (const auto& a : args) args_line += " " + q(a);
  const auto t_clean = Clock::now();
  const CliRun ref = cli(args_line + " -v");
  const double clean_s = seconds_since(t_clean);
  ASSERT_EQ(ref.status, 0) << ref.err;
  ASSERT_NE(ref.err.find("rebuilt (missing), exact, 20000 windows"), std::string::npos) << ref.err;
  std::printf("[ kill ] a search that rebuilds the 20,000-window index (%.0f MB) takes %.2f s\n",
              fs::file_size(file) / 1e6, clean_s);

  std::mt19937 rng(20261122);
  int killed = 0, killed_while_writing = 0;
  for (int trial = 0; trial < 8; ++trial) {
    fs::remove(file);
    const Child c = start(args);
    std::string when;
    if (trial < 4) {  // a random moment of the whole run
      const double delay = std::uniform_real_distribution<double>(0.1, 1.0)(rng) * clean_s;
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      when = "after " + std::to_string(delay) + " s";
    } else {  // while the new file is being written
      const auto t0 = Clock::now();
      while (temporaries(dir).empty() && seconds_since(t0) < 60) std::this_thread::sleep_for(std::chrono::microseconds(500));
      const double extra = std::uniform_real_distribution<double>(0, 0.03)(rng);
      std::this_thread::sleep_for(std::chrono::duration<double>(extra));
      when = "while writing, +" + std::to_string(extra) + " s";
    }
    const bool writing = !temporaries(dir).empty();
    const bool was_killed = kill_and_wait(c);
    killed += was_killed;
    killed_while_writing += was_killed && writing;
    const std::string what = "trial " + std::to_string(trial) + " (" + when + (was_killed ? ", killed" : ", had finished") + ")";
    std::printf("[ kill ] %s: index file %s, temporaries %zu\n", what.c_str(),
                fs::exists(file) ? "present" : "absent", temporaries(dir).size());
    // Renamed into place whole, or absent: whatever is there loads.
    if (fs::exists(file)) {
      EXPECT_NO_THROW(search::VectorIndex::load(file)) << what;
    }
    for (const auto& p : sqlite_problems(db, test::temp_dir() + "/check")) ADD_FAILURE() << what << ": " << p;
    const CliRun next = cli(args_line + " -v");
    ASSERT_EQ(next.status, 0) << what << "\n" << next.err;
    EXPECT_EQ(next.out, ref.out) << what;
    EXPECT_EQ(next.err.find("unreadable"), std::string::npos) << what << "\n" << next.err;
    // A killed run's temporary file (up to the index's size) does not stay behind for good.
    EXPECT_EQ(temporaries(dir), std::vector<std::string>{}) << what;
  }
  EXPECT_GE(killed, 6);
  EXPECT_GE(killed_while_writing, 3);
}

// kill -9 at random moments of a search that embeds and caches 400 new texts: the index stays
// sound, the cache holds all of the batch or none of it (one transaction), and the next run
// answers the same and caches them all.
TEST(FaultCli, KillNineAroundTheTextCacheWriteLeavesAllOrNothingAndTheNextRunAgrees) {
  library();
  const std::string base = test::temp_dir(), queries = base + "/queries.txt";
  std::string text;
  const int texts = 400;
  for (int i = 0; i < texts; ++i) text += "sound number " + std::to_string(i) + " with " + std::to_string(i % 7) + " bells\n";
  write_file(queries, text);
  auto args = [&](const std::string& db) {
    return std::vector<std::string>{"search", "--queries", queries, "--json", "-k", "2", "--db", db};
  };
  auto line = [](const std::vector<std::string>& a) {
    std::string s;
    for (const auto& x : a) s.append(" ").append(q(x));
    return s;
  };
  // The query texts cached (the index run cached the speech score's prompts beside them).
  auto cached = [](const std::string& db) {
    sqlite3* raw = nullptr;
    int64_t n = -1;
    if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(raw, "SELECT COUNT(*) FROM text_cache WHERE text LIKE 'sound number %'", -1, &st, nullptr) ==
              SQLITE_OK &&
          sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
      sqlite3_finalize(st);
    }
    sqlite3_close(raw);
    return n;
  };
  copy_reference(base + "/ref/library.db");
  const auto t_clean = Clock::now();
  const CliRun ref = cli(line(args(base + "/ref/library.db")));
  const double clean_s = seconds_since(t_clean);
  ASSERT_EQ(ref.status, 0) << ref.err;
  ASSERT_EQ(cached(base + "/ref/library.db"), texts);
  std::printf("[ kill ] a search that embeds and caches %d texts takes %.2f s\n", texts, clean_s);

  std::mt19937 rng(777);
  int killed_before_commit = 0;
  for (int trial = 0; trial < 8; ++trial) {
    const std::string db = base + "/t" + std::to_string(trial) + "/library.db";
    copy_reference(db);
    const Child c = start(args(db));
    std::string when;
    if (trial < 4) {
      const double delay = std::uniform_real_distribution<double>(0.1, 1.0)(rng) * clean_s;
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      when = "after " + std::to_string(delay) + " s";
    } else {  // once at least k texts are cached
      const int k = std::uniform_int_distribution<int>(1, texts - 1)(rng);
      const auto t0 = Clock::now();
      while (cached(db) < k && seconds_since(t0) < 60) std::this_thread::sleep_for(std::chrono::microseconds(200));
      when = "after " + std::to_string(k) + " cached texts";
    }
    const bool was_killed = kill_and_wait(c);
    const std::string what = "trial " + std::to_string(trial) + " (" + when + (was_killed ? ", killed" : ", had finished") + ")";
    std::vector<std::string> problems = sqlite_problems(db, base + "/check");
    for (const auto& p : problems) ADD_FAILURE() << what << ": " << p;
    const int64_t left = cached(base + "/check/copy.db");
    // The batch is written in one transaction: a kill leaves all of it or none of it.
    EXPECT_TRUE(left == 0 || left == texts) << what << ": " << left << " of " << texts << " texts cached";
    killed_before_commit += was_killed && left == 0;
    std::printf("[ kill ] %s: %lld of %d texts cached\n", what.c_str(), static_cast<long long>(left), texts);
    const CliRun next = cli(line(args(db)));
    ASSERT_EQ(next.status, 0) << what << "\n" << next.err;
    EXPECT_EQ(next.out, ref.out) << what;
    EXPECT_EQ(cached(db), texts) << what;
    fs::remove_all(fs::path(db).parent_path());
  }
  // The first four trials kill the search while it runs (before its one commit).
  EXPECT_GE(killed_before_commit, 2);
}

}  // namespace
}  // namespace clap
