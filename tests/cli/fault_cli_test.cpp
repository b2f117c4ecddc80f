// Faults while writing (issue 11), with the real CLI: an LD_PRELOAD injector
// (tests/support/faultfs.c) fails the Nth write/fsync/ftruncate/rename on the files of one path,
// for every N a clean run makes (or a dense stride of them), as a transient I/O error (EIO, that
// call only) or a full disk (ENOSPC, that call and every later one). Each scenario first counts
// the matching calls of a clean run, then for each N checks that the process ends (no hang, no
// signal) with a clear message when it fails, that what it leaves is sound (SQLite's
// integrity_check, only complete tracks, bit for bit equal to a clean index; no partial output
// or vector-index file, a previous file unchanged), and that the next run without faults gives
// exactly the clean result.
//
// Scenarios: `index` (database, WAL, -shm, rollback journal of the first transaction), a search
// rebuilding or updating the vector-index file, `embed --output` (JSON Lines, .npy) and
// `embed > FILE`, a search writing the text cache. kill -9 at deterministic random moments is in
// fault_kill_cli_test.cpp (split by concern to keep files under ~800 lines); the shared set-up
// (the injector's runs, the index dumps, the test library) is fault_cli.h.
//
// CLAPSEARCH_FAULT_EXHAUSTIVE=1 tries every N of every scenario with both kinds of fault (the
// default tries a seeded, evenly spread subset, alternating the kinds, to stay near a minute).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
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

TEST(FaultCli, IndexingSurvivesEveryFailingWriteAndTheNextRunCompletesTheLibrary) {
  const Library& lib = library();
  const std::string base = test::temp_dir();
  const std::string index_args = "index " + q(lib.dir) + " --model " + q(model_dir()) + " --batch 2 -q --db ";

  // The clean run's calls on the database files (library.db, -wal, -shm, .lock).
  Fault count;
  count.path = "/count/library.db";
  count.log = true;
  fs::create_directories(base + "/count");  // --db makes no folders
  const CliRun clean = cli(index_args + q(base + "/count/library.db"), &count);
  ASSERT_EQ(clean.status, 0) << clean.err;
  ASSERT_GT(clean.calls, 10);
  std::printf("[ faults ] index: %ld calls on the database files: %s\n", clean.calls,
              call_breakdown(clean.err, "library.db").c_str());

  const auto t0 = Clock::now();
  int failed_runs = 0, clean_exits = 0, tried = 0;
  for (const auto& [n, kind] : plan(clean.calls, 24, 11)) {
    ++tried;
    const std::string dir = base + "/n" + std::to_string(n) + "-" + std::to_string(kind);
    const std::string db = dir + "/library.db";
    fs::create_directories(dir);
    Fault f;
    f.path = dir + "/library.db";
    f.at = n;
    f.persist = kind == 0;  // a full disk stays full; an I/O error is one call
    f.err = kind == 0 ? "ENOSPC" : "EIO";
    const std::string what = "fault at call " + std::to_string(n) + " (" + f.err + (f.persist ? ", persisting" : ", once") + ")";
    const CliRun r = cli(index_args + q(db), &f);
    ASSERT_TRUE(r.status == 0 || r.status == 1) << what << ": status " << r.status << "\n" << r.err;
    EXPECT_EQ(r.faults > 0, true) << what << ": no fault was injected (" << r.calls << " calls)";
    if (r.status == 1) {
      ++failed_runs;
      EXPECT_TRUE(reports_write_failure(r.err)) << what << ": unclear message:\n" << r.err;
    } else {
      ++clean_exits;
    }

    // What the run left: sound, and every track in it is the clean index's track, bit for bit.
    std::vector<std::string> problems;
    const auto left = dump(db, &problems);
    for (const auto& p : problems) ADD_FAILURE() << what << ": " << p;
    for (const auto& [path, t] : left) {
      auto it = lib.ref.find(path);
      if (it == lib.ref.end()) ADD_FAILURE() << what << ": unexpected track " << path;
      else if (const std::string d = differs(t, it->second); !d.empty()) ADD_FAILURE() << what << ": " << d;
    }
    // A run that exits 0 has indexed everything.
    if (r.status == 0) {
      EXPECT_EQ(left.size(), lib.ref.size()) << what << "\n" << r.err;
    }

    // The next run without faults completes the library: exactly the clean index.
    const CliRun next = cli(index_args + q(db));
    ASSERT_EQ(next.status, 0) << what << ": the next run failed\n" << next.err;
    problems.clear();
    const auto done = dump(db, &problems);
    for (const auto& p : problems) ADD_FAILURE() << what << ", next run: " << p;
    EXPECT_EQ(done.size(), lib.ref.size()) << what;
    for (const auto& [path, t] : lib.ref) {
      auto it = done.find(path);
      if (it == done.end()) ADD_FAILURE() << what << ", next run: " << path << " missing";
      else if (const std::string d = differs(it->second, t); !d.empty()) ADD_FAILURE() << what << ", next run: " << d;
    }
    fs::remove_all(dir);
  }
  std::printf("[ faults ] index: %d faulted runs (%d failed with a message, %d completed despite the fault) in %.1f s\n",
              tried, failed_runs, clean_exits, seconds_since(t0));
  EXPECT_GT(failed_runs, 0);
}

// The window vector index (<db>.windows.faiss) written by a search that rebuilds it (file missing)
// or updates it (file stale): a failed write leaves no file, or the previous one unchanged, never
// a partial one; the search still answers, warns, and the next run gives the same results.
TEST(FaultCli, AFailedVectorIndexWriteLeavesNoPartialFileAndTheNextRunAgrees) {
  const Library& lib = library();
  const std::string base = test::temp_dir();
  const std::string search = "search 'warm guitar' -q 'white noise' --aggregate max --json -k 4 --db ";

  // Reference results, and a stale index file: built while one track was missing.
  copy_reference(base + "/ref/library.db");
  const CliRun ref = cli(search + q(base + "/ref/library.db"));
  ASSERT_EQ(ref.status, 0) << ref.err;
  ASSERT_TRUE(fs::exists(base + "/ref/library.db.windows.faiss"));
  copy_reference(base + "/stale/library.db");
  {
    store::SqliteStore s = store::SqliteStore::open(base + "/stale/library.db");
    s.remove_tracks({s.track_by_path(lib.dir + "/sub/d.flac")->id});
  }
  ASSERT_EQ(cli(search + q(base + "/stale/library.db")).status, 0);
  const std::string stale_file = slurp(base + "/stale/library.db.windows.faiss");
  ASSERT_FALSE(stale_file.empty());

  const auto t0 = Clock::now();
  int runs = 0;
  for (const bool stale : {false, true}) {
    const std::string mode = stale ? "update of a stale index" : "rebuild of a missing index";
    auto prepare = [&](const std::string& dir) {
      copy_reference(dir + "/library.db");
      if (stale) write_file(dir + "/library.db.windows.faiss", stale_file);
      return dir + "/library.db";
    };
    Fault count;
    count.path = "library.db.windows.faiss";
    count.log = true;
    const std::string count_db = prepare(base + "/count");
    const CliRun clean = cli(search + q(count_db), &count);
    ASSERT_EQ(clean.status, 0) << clean.err;
    ASSERT_EQ(clean.out, ref.out);
    ASSERT_GT(clean.calls, 3);
    std::printf("[ faults ] %s: %ld calls on the index file: %s\n", mode.c_str(), clean.calls,
                call_breakdown(clean.err, "library.db.windows.faiss").c_str());
    for (const auto& [n, kind] : plan(clean.calls, 9, stale ? 3 : 2)) {
      ++runs;
      const std::string dir = base + "/n" + std::to_string(n) + "-" + std::to_string(kind) + (stale ? "-stale" : "");
      const std::string db = prepare(dir), file = db + ".windows.faiss";
      Fault f;
      f.path = "library.db.windows.faiss";
      f.at = n;
      f.persist = kind == 0;
      f.err = kind == 0 ? "ENOSPC" : "EIO";
      const std::string what = mode + ", fault at call " + std::to_string(n) + " (" + f.err + ")";
      const CliRun r = cli(search + q(db), &f);
      // The index file is a cache: the search answers from the index it built in memory...
      ASSERT_EQ(r.status, 0) << what << "\n" << r.err;
      EXPECT_GT(r.faults, 0) << what;
      EXPECT_EQ(r.out, ref.out) << what;
      // ... and says that it could not keep it.
      EXPECT_NE(r.err.find("warning: window index not saved (the next run builds it again): " + file + ": write failed (" +
                           (f.err == "EIO" ? "Input/output error" : "No space left on device") + ")"),
                std::string::npos)
          << what << "\n" << r.err;
      // No partial file: none at all, or the previous one unchanged.
      if (stale) {
        EXPECT_EQ(slurp(file), stale_file) << what;
      } else {
        EXPECT_FALSE(fs::exists(file)) << what;
      }
      EXPECT_EQ(temporaries(dir), std::vector<std::string>{}) << what;
      std::vector<std::string> problems = sqlite_problems(db, base + "/check");
      for (const auto& p : problems) ADD_FAILURE() << what << ": " << p;

      const CliRun next = cli(search + q(db) + " -v");
      ASSERT_EQ(next.status, 0) << what << "\n" << next.err;
      EXPECT_EQ(next.out, ref.out) << what;
      EXPECT_NE(next.err.find(stale ? ": updated (" : ": rebuilt (missing)"), std::string::npos) << what << "\n" << next.err;
      EXPECT_EQ(next.err.find("not saved"), std::string::npos) << what << "\n" << next.err;
      if (n == 1) {  // the file it saved is the one the run after it uses
        const CliRun again = cli(search + q(db) + " -v");
        EXPECT_EQ(again.out, ref.out) << what;
        EXPECT_NE(again.err.find(": loaded, exact"), std::string::npos) << what << "\n" << again.err;
      }
      fs::remove_all(dir);
    }
  }
  std::printf("[ faults ] vector index: %d faulted runs in %.1f s\n", runs, seconds_since(t0));
}

// `embed --output FILE` (JSON Lines and .npy) and `embed > FILE`: a failed write, sync or rename
// exits 1 with the reason, leaves no partial file and no temporary, and keeps a previous FILE.
TEST(FaultCli, EmbedOutputIsWholeOrAbsentAndAPreviousFileSurvives) {
  const Library& lib = library();
  const std::string base = test::temp_dir();
  const std::string inputs = "embed --model " + q(model_dir()) + " --text 'warm guitar' --audio " +
                             q(lib.dir + "/a.flac") + " --text 'rain on a roof' ";
  struct Case {
    std::string name, args;  // args take the output path at the end
    bool to_stdout;
  };
  const std::vector<Case> cases = {{"out.jsonl", "--output ", false},
                                   {"out.npy", "--format npy --output ", false},
                                   {"out.txt", "> ", true}};
  const auto t0 = Clock::now();
  int runs = 0;
  for (const Case& c : cases) {
    const std::string dir = base + "/" + c.name + ".d", out = dir + "/" + c.name;
    fs::create_directories(dir);
    const CliRun ref = cli(inputs + c.args + q(base + "/ref-" + c.name));
    ASSERT_EQ(ref.status, 0) << ref.err;
    const std::string expected = slurp(base + "/ref-" + c.name);
    ASSERT_GT(expected.size(), 1000u);
    Fault count;
    count.path = "/" + c.name;
    count.log = true;
    const CliRun clean = cli(inputs + c.args + q(out), &count);
    ASSERT_EQ(clean.status, 0) << clean.err;
    ASSERT_EQ(slurp(out), expected);
    std::printf("[ faults ] embed %s%s: %ld calls: %s\n", c.args.c_str(), c.name.c_str(), clean.calls,
                call_breakdown(clean.err, c.name).c_str());
    ASSERT_GE(clean.calls, 3);
    for (const auto& [n, kind] : plan(clean.calls, 8, 4)) {
      ++runs;
      const bool previous = !c.to_stdout && (n / 2) % 2 == 0;  // some runs replace an existing file
      fs::remove(out);
      if (previous) write_file(out, "previous contents\n");
      Fault f;
      f.path = "/" + c.name;
      f.at = n;
      f.persist = kind == 0;
      f.err = kind == 0 ? "ENOSPC" : "EIO";
      const std::string what = c.args + c.name + ", fault at call " + std::to_string(n) + " (" + f.err + ")";
      const CliRun r = cli(inputs + c.args + q(out), &f);
      EXPECT_EQ(r.status, 1) << what << "\n" << r.err;
      EXPECT_GT(r.faults, 0) << what;
      EXPECT_TRUE(reports_write_failure(r.err)) << what << "\n" << r.err;
      if (!c.to_stdout) {
        if (previous) {
          EXPECT_EQ(slurp(out), "previous contents\n") << what;
        } else {
          EXPECT_FALSE(fs::exists(out)) << what;
        }
      }
      EXPECT_EQ(temporaries(dir), std::vector<std::string>{}) << what;
      const CliRun next = cli(inputs + c.args + q(out));
      ASSERT_EQ(next.status, 0) << what << "\n" << next.err;
      EXPECT_EQ(slurp(out), expected) << what;
    }
  }
  std::printf("[ faults ] embed: %d faulted runs in %.1f s\n", runs, seconds_since(t0));
}

// The text cache: a search whose cache writes fail (or whose database cannot be opened for
// writing) still answers, with the same results, warns, and leaves a sound database; the next
// run caches every text.
// R13C-2 (hostile pass 13): a full disk met by the first write of a command said "database error:
// disk I/O error [No space left on device] (PRAGMA application_id)": the statement, not the way
// out. Now the file and the reason, and nothing is written.
TEST(FaultCli, AFullDiskIsNamedWithTheFileAndTheReasonNotTheStatement) {
  const std::string db = test::temp_dir() + "/full/library.db";
  copy_reference(db);
  write_file(test::temp_dir() + "/full/pw", "a password\n");
  Fault f;
  f.path = db;
  f.ops = "write";  // ENOSPC as a full disk gives it (faultfs's ftruncate fails with EIO)
  f.at = 1;
  f.persist = true;
  for (const std::string& args : {"user add ann --password-file " + q(test::temp_dir() + "/full/pw"),
                                  "user add ann --new-key --password-file " + q(test::temp_dir() + "/full/pw")}) {
    const CliRun r = cli(args + " --db " + q(db), &f);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.err;
    EXPECT_GT(r.faults, 0) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(db + ": cannot write the index: the disk is full (No space left on device); free some space"),
              std::string::npos)
        << args << "\n" << r.err;
    for (const char* statement : {"PRAGMA", "INSERT", "UPDATE", "BEGIN", "CREATE", "database error"})
      EXPECT_EQ(r.err.find(statement), std::string::npos) << args << ": " << statement << "\n" << r.err;
  }
  std::vector<std::string> problems;
  const auto left = dump(db, &problems);  // the index is as it was
  EXPECT_TRUE(problems.empty()) << (problems.empty() ? "" : problems.front());
  EXPECT_EQ(left.size(), library().ref.size());
  for (const auto& [path, t] : left) {
    if (const auto it = library().ref.find(path); it != library().ref.end()) {
      EXPECT_EQ(differs(t, it->second), "") << path;
    }
  }
}

TEST(FaultCli, AFailedTextCacheWriteStillAnswersAndTheNextRunCaches) {
  library();
  const std::string base = test::temp_dir();
  const std::string search = "search 'warm guitar' -q 'white noise' -q 'a dog barking' -q 'piano' --json -k 4 --db ";
  copy_reference(base + "/ref/library.db");
  const CliRun ref = cli(search + q(base + "/ref/library.db"));
  ASSERT_EQ(ref.status, 0) << ref.err;
  copy_reference(base + "/count/library.db");
  Fault count;
  count.path = "/count/library.db";
  count.ops = "write,fsync,truncate";
  count.log = true;
  const CliRun clean = cli(search + q(base + "/count/library.db"), &count);
  ASSERT_EQ(clean.status, 0) << clean.err;
  ASSERT_EQ(clean.out, ref.out);
  std::printf("[ faults ] search caching 4 texts: %ld calls on the database files: %s\n", clean.calls,
              call_breakdown(clean.err, "library.db").c_str());
  const std::vector<std::string> calls = call_list(clean.err);
  ASSERT_EQ(calls.size(), size_t(clean.calls));
  int unreadable = 0, unwarned = 0;
  auto cached_texts = [](const std::string& db) {
    store::SqliteStore s = store::SqliteStore::open_readonly(db);
    int n = 0;
    for (const char* t : {"warm guitar", "white noise", "a dog barking", "piano"})
      n += s.cached_text(s.model()->model_key(), t).has_value();
    return n;
  };
  const auto t0 = Clock::now();
  int runs = 0;
  for (const auto& [n, kind] : plan(clean.calls, 16, 5)) {
    ++runs;
    const std::string dir = base + "/n" + std::to_string(n) + "-" + std::to_string(kind), db = dir + "/library.db";
    copy_reference(db);
    Fault f;
    f.path = dir + "/library.db";
    f.ops = count.ops;
    f.at = n;
    f.persist = kind == 0;
    f.err = kind == 0 ? "ENOSPC" : "EIO";
    const std::string what = "fault at call " + std::to_string(n) + " (" + f.err + (f.persist ? ", persisting" : ", once") + ")";
    const CliRun r = cli(search + q(db), &f);
    EXPECT_GT(r.faults, 0) << what;
    // SQLite's shared-memory file (-shm) is made by every connection to a WAL database, readers
    // included: when it cannot be allocated (a full disk, after the last connection removed it)
    // the index cannot be read at all. That fails with the reason; every other fault leaves the
    // search answering, with a warning that the cache was not written.
    if (calls[n - 1].find("-shm") != std::string::npos && r.status == 1) {
      EXPECT_TRUE(reports_write_failure(r.err)) << what << "\n" << r.err;
      ++unreadable;
    } else {
      ASSERT_EQ(r.status, 0) << what << " (" << calls[n - 1] << ")\n" << r.err;
      EXPECT_EQ(r.out, ref.out) << what;
    }
    for (const auto& p : sqlite_problems(db, base + "/check")) ADD_FAILURE() << what << ": " << p;
    // Either every text was cached (a failed checkpoint at close loses nothing: the WAL keeps
    // the commits, and the copy checked above recovered them) or the user was warned.
    static const std::regex warned(
        R"(warning: (text cache not written|the index could not be opened for writing, so it is read without caching anything): .*(database or disk is full|disk I/O error))");
    if (r.status == 0 && !std::regex_search(r.err, warned)) {
      EXPECT_EQ(cached_texts(base + "/check/copy.db"), 4) << what << " (" << calls[n - 1] << "): unreported loss\n" << r.err;
      ++unwarned;
    }
    const CliRun next = cli(search + q(db));
    ASSERT_EQ(next.status, 0) << what << "\n" << next.err;
    EXPECT_EQ(next.out, ref.out) << what;
    EXPECT_EQ(cached_texts(db), 4) << what;
    fs::remove_all(dir);
  }
  std::printf("[ faults ] text cache: %d faulted runs in %.1f s (%d could not open the index: -shm; %d hit only the "
              "checkpoint at close and lost nothing)\n",
              runs, seconds_since(t0), unreadable, unwarned);
}

}  // namespace
}  // namespace clap
