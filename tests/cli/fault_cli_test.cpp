// Faults while writing (issue 11), with the real CLI: an LD_PRELOAD injector
// (tests/support/faultfs.c) fails the Nth write/fsync/ftruncate/rename on the files of one path,
// for every N a clean run makes (or a dense stride of them), as a transient I/O error (EIO, that
// call only) or a full disk (ENOSPC, that call and every later one). Each scenario first counts
// the matching calls of a clean run, then for each N checks that the process ends (no hang, no
// signal) with a clear message when it fails, that what it leaves is sound (SQLite's
// integrity_check, only complete tracks, bit for bit equal to a clean index; no partial output
// or vector-index file, a previous file unchanged), and that the next run without faults gives
// exactly the clean result. Then kill -9 at deterministic random moments during a vector-index
// rebuild and while the text cache is written.
//
// Scenarios: `index` (database, WAL, -shm, rollback journal of the first transaction), a search
// rebuilding or updating the vector-index file, `embed --output` (JSON Lines, .npy) and
// `embed > FILE`, a search writing the text cache; kill -9 during a rebuild of a 20,000-window
// index and while 400 texts are cached.
//
// CLAPSEARCH_FAULT_EXHAUSTIVE=1 tries every N of every scenario with both kinds of fault (the
// default tries a seeded, evenly spread subset, alternating the kinds, to stay near a minute).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "hub/hub.h"
#include "index/identity.h"
#include "search/vector_index.h"
#include "store/sqlite_store.h"
#include "support/golden.h"

extern char** environ;

namespace clap {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
std::string q(const std::string& s) { return test::quoted(s); }

std::string model_dir() { return test::case_dir("tiny-unfused"); }

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// --- running the CLI with faults ----------------------------------------------------------------

struct Fault {
  std::string path;                         // FAULTFS_PATH: substring of the files concerned
  std::string ops = "write,fsync,truncate,rename";
  long at = 0;                              // the Nth matching call fails; 0 = a counting run
  bool persist = false;                     // ... and every later one (a full disk)
  std::string err = "ENOSPC";
  bool log = false;                         // one stderr line per matching call
};

struct CliRun {
  int status = -1;  // exit status; 128 + signal; 124 = `timeout` stopped a hang
  std::string out, err;
  long calls = 0, faults = 0;  // matching calls made, faults injected
};

CliRun cli(const std::string& args, const Fault* fault = nullptr) {
  const std::string dir = test::temp_dir();
  std::string env = "HF_HOME=" + q(dir + "/hf-home") + " HF_HUB_OFFLINE=1";
  const std::string count = dir + "/faultfs.count";
  if (fault) {
    fs::remove(count);
    env += " LD_PRELOAD=" + q(CLAPSEARCH_FAULTFS_PATH) + " FAULTFS_PATH=" + q(fault->path) +
           " FAULTFS_OPS=" + fault->ops + " FAULTFS_FAIL_AT=" + std::to_string(fault->at) +
           " FAULTFS_PERSIST=" + (fault->persist ? "1" : "0") + " FAULTFS_ERRNO=" + fault->err +
           " FAULTFS_COUNT=" + q(count) + (fault->log ? " FAULTFS_LOG=1" : "");
  }
  CliRun r;
  r.status = test::run_command("timeout 120 env " + env + " " + test::cli_command() + " " + args, &r.out, &r.err);
  if (fault) std::istringstream(slurp(count)) >> r.calls >> r.faults;
  return r;
}

// Per-call lines of a FAULTFS_LOG run summed as "pwrite64 db-wal 12, fdatasync db 2, ..."
// (file names shortened to what follows `stem`).
std::string call_breakdown(const std::string& err, const std::string& stem) {
  std::map<std::string, int> n;
  std::istringstream in(err);
  std::string line;
  const std::regex re(R"(^faultfs: #\d+ (\S+) (.*) -> \w+$)");
  for (std::smatch m; std::getline(in, line);)
    if (std::regex_match(line, m, re)) {
      std::string file = m[2].str();
      const size_t at = file.find(stem);
      if (at != std::string::npos) file = file.substr(at + stem.size());
      file = std::regex_replace(file, std::regex(R"(\.tmp\.\d+)"), ".tmp.PID");
      ++n[m[1].str() + " " + (file.empty() ? "(file)" : file)];
    }
  std::string s;
  for (const auto& [k, v] : n) s += (s.empty() ? "" : ", ") + k + " " + std::to_string(v);
  return s;
}

// The calls of a FAULTFS_LOG run in order ("pwrite64 /path/library.db-wal"), call N at [N - 1].
std::vector<std::string> call_list(const std::string& err) {
  std::vector<std::string> out;
  std::istringstream in(err);
  std::string line;
  const std::regex re(R"(^faultfs: #\d+ (\S+ .*) -> \w+$)");
  for (std::smatch m; std::getline(in, line);)
    if (std::regex_match(line, m, re)) out.push_back(m[1].str());
  return out;
}

// Messages the CLI gives for a failed write: SQLite's for the database, strerror for files.
bool reports_write_failure(const std::string& err) {
  static const std::regex re(
      R"(clapsearch: error: .*(database or disk is full|disk I/O error|No space left on device|Input/output error))");
  return std::regex_search(err, re);
}

bool exhaustive() {
  const char* e = std::getenv("CLAPSEARCH_FAULT_EXHAUSTIVE");
  return e && *e == '1';
}

// The faults to try among calls 1..count: (N, kind), kind 0 = a full disk (ENOSPC from call N
// on), kind 1 = a transient I/O error (EIO at call N only). With CLAPSEARCH_FAULT_EXHAUSTIVE=1
// every N with both kinds; else every N when there are at most `budget`, or `budget` of them
// spread evenly with a seeded offset (every part of the run is hit, the same calls on every
// run of the test), plus the very last call; the kinds alternate.
std::vector<std::pair<long, int>> plan(long count, long budget, unsigned seed) {
  std::vector<std::pair<long, int>> out;
  if (exhaustive()) {
    for (long n = 1; n <= count; ++n)
      for (int kind = 0; kind < 2; ++kind) out.push_back({n, kind});
    return out;
  }
  std::vector<long> ns;
  if (count <= budget) {
    for (long n = 1; n <= count; ++n) ns.push_back(n);
  } else {
    std::mt19937 rng(seed);
    const double step = double(count) / double(budget);
    for (long i = 0; i < budget; ++i)
      ns.push_back(std::min(count, 1 + long(i * step + std::uniform_real_distribution<double>(0, step)(rng))));
    if (ns.back() != count) ns.push_back(count);
  }
  for (size_t i = 0; i < ns.size(); ++i) out.push_back({ns[i], int(i % 2)});
  return out;
}

// Leftover temporary files ("<name>.tmp.<pid>") in a folder.
std::vector<std::string> temporaries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path().filename().string());
  return out;
}

// --- what an index holds ------------------------------------------------------------------------

struct TrackDump {
  store::Track track;  // id, indexed_at and window_count cleared
  std::vector<store::WindowRecord> windows;  // ids cleared
  std::vector<float> embedding;
};

bool same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// "" when equal (embeddings compared bit for bit), else the first difference.
std::string differs(const TrackDump& a, const TrackDump& b) {
  const store::Track &x = a.track, &y = b.track;
  if (x.path != y.path || x.size != y.size || x.mtime_ns != y.mtime_ns || x.content_hash != y.content_hash ||
      x.duration_s != y.duration_s || x.title != y.title || x.status != y.status || x.error != y.error || x.silent != y.silent)
    return x.path + ": track row differs";
  if (!same_floats(a.embedding, b.embedding)) return x.path + ": track embedding differs";
  if (a.windows.size() != b.windows.size())
    return x.path + ": " + std::to_string(a.windows.size()) + " windows instead of " + std::to_string(b.windows.size());
  for (size_t i = 0; i < a.windows.size(); ++i) {
    const auto &v = a.windows[i], &w = b.windows[i];
    if (v.idx != w.idx || v.start_s != w.start_s || v.end_s != w.end_s || v.loudness_dbfs != w.loudness_dbfs ||
        v.silent != w.silent || !same_floats(v.embedding, w.embedding))
      return x.path + ": window " + std::to_string(i) + " differs";
  }
  return "";
}

// Raw SQLite checks on a copy of the database as a failed or killed process left it (database and
// WAL; the copy is opened read-write so the WAL is recovered, as the next process would, without
// touching the original): integrity_check, foreign keys, whole text-cache rows.
std::vector<std::string> sqlite_problems(const std::string& db, const std::string& scratch) {
  std::vector<std::string> problems;
  fs::remove_all(scratch);
  fs::create_directories(scratch);
  const std::string copy = scratch + "/copy.db";
  for (const char* suffix : {"", "-wal"})
    if (fs::exists(db + suffix)) fs::copy_file(db + suffix, copy + suffix);
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(copy.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    problems.push_back(std::string("cannot open: ") + sqlite3_errmsg(raw));
    sqlite3_close(raw);
    return problems;
  }
  auto rows = [&](const char* sql) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(raw, sql, -1, &st, nullptr) != SQLITE_OK) {
      out.push_back(std::string("cannot run ") + sql + ": " + sqlite3_errmsg(raw));
      return out;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      out.push_back(t ? reinterpret_cast<const char*>(t) : "NULL");
    }
    if (rc != SQLITE_DONE) out.push_back(std::string(sql) + ": " + sqlite3_errmsg(raw));
    sqlite3_finalize(st);
    return out;
  };
  const auto integrity = rows("PRAGMA integrity_check");
  if (integrity != std::vector<std::string>{"ok"})
    for (const auto& r : integrity) problems.push_back("integrity_check: " + r);
  for (const auto& r : rows("PRAGMA foreign_key_check")) problems.push_back("foreign key violation in " + r);
  if (!rows("SELECT name FROM sqlite_master WHERE name = 'text_cache'").empty())
    for (const auto& r : rows("SELECT text FROM text_cache WHERE length(embedding) <> 2048"))
      problems.push_back("text cache row '" + r + "' is not 512 floats");
  sqlite3_close(raw);
  return problems;
}

// The tracks of an index by path, after the store's own check (integrity_check plus every ok track
// complete). An index the failed run never finished creating (no schema yet) holds nothing.
std::map<std::string, TrackDump> dump(const std::string& db, std::vector<std::string>* problems) {
  std::map<std::string, TrackDump> out;
  if (!fs::exists(db)) return out;  // a first run that failed removes the file it created (issue 33)
  const auto extra = sqlite_problems(db, test::temp_dir() + "/check");
  problems->insert(problems->end(), extra.begin(), extra.end());
  const std::string copy = test::temp_dir() + "/check/copy.db";
  std::unique_ptr<store::SqliteStore> s;
  try {
    s = std::make_unique<store::SqliteStore>(store::SqliteStore::open_readonly(copy));
  } catch (const std::exception& e) {
    if (std::string(e.what()).find("no schema version") == std::string::npos &&
        std::string(e.what()).find("not a clapsearch index") == std::string::npos)
      problems->push_back(std::string("cannot open the index: ") + e.what());
    return out;
  }
  for (const auto& p : s->check()) problems->push_back(p);
  const Embeddings te = s->track_embeddings();
  std::map<int64_t, std::vector<float>> emb;
  for (size_t i = 0; i < te.ids.size(); ++i)
    emb[te.ids[i]].assign(te.data.begin() + long(i * te.dim), te.data.begin() + long((i + 1) * te.dim));
  for (store::Track t : s->tracks()) {
    TrackDump d;
    d.windows = s->windows(t.id);
    for (auto& w : d.windows) w.id = w.track_id = 0;
    d.embedding = emb[t.id];
    t.id = 0;
    t.indexed_at = 0;
    t.window_count = 0;
    d.track = t;
    out[t.path] = std::move(d);
  }
  return out;
}

// --- the test library ---------------------------------------------------------------------------

// Four short tracks (1, 2, 1 and 3 windows; tags on two) and a clean index of them.
struct Library {
  std::string dir, ref_db;
  std::map<std::string, TrackDump> ref;
};

const Library& library() {
  static Library lib = [] {
    Library l;
    const std::string root = fs::path(test::temp_dir()).parent_path().string() + "/fault-library";
    l.dir = root + "/music";
    l.ref_db = root + "/ref/library.db";
    fs::create_directories(root + "/ref");  // --db makes no folders
    test::ffmpeg(l.dir + "/a.flac", "-f lavfi -i sine=f=440:d=3:sample_rate=44100 -c:a flac -metadata title=Alpha");
    test::ffmpeg(l.dir + "/b.wav", "-f lavfi -i sine=f=660:d=12:sample_rate=22050");
    test::ffmpeg(l.dir + "/sub/c.mp3", "-f lavfi -i sine=f=880:d=7:sample_rate=44100 -c:a libmp3lame -metadata artist=Cee");
    test::ffmpeg(l.dir + "/sub/d.flac", "-f lavfi -i \"sine=f=220:d=17:sample_rate=16000\" -c:a flac");
    const CliRun r = cli("index " + q(l.dir) + " --db " + q(l.ref_db) + " --model " + q(model_dir()) + " -q");
    if (r.status != 0) throw std::runtime_error("reference index failed: " + r.err);
    std::vector<std::string> problems;
    l.ref = dump(l.ref_db, &problems);
    if (!problems.empty() || l.ref.size() != 4) throw std::runtime_error("reference index is not sound");
    return l;
  }();
  return lib;
}

// A copy of the reference index (database only: it was closed cleanly) at `db`.
void copy_reference(const std::string& db) {
  fs::remove_all(fs::path(db).parent_path());
  fs::create_directories(fs::path(db).parent_path());
  fs::copy_file(library().ref_db, db);
}

// ---------------------------------------------------------------------------------------------

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
