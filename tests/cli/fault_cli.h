// The shared set-up of the write-fault tests (fault_cli_test.cpp: failing writes, fsyncs,
// truncates and renames; fault_kill_cli_test.cpp: kill -9): the CLI run under the LD_PRELOAD
// injector (tests/support/faultfs.c), the plan of which calls fail, what an index holds (its
// tracks bit for bit, SQLite's own checks on a copy), and the four-track test library with its
// clean reference index, made once per test process.
#pragma once
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite_store.h"
#include "support/golden.h"

namespace clap::fault_cli {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
inline std::string q(const std::string& s) { return test::quoted(s); }

inline std::string model_dir() { return test::case_dir("tiny-unfused"); }

inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
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

inline CliRun cli(const std::string& args, const Fault* fault = nullptr) {
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
inline std::string call_breakdown(const std::string& err, const std::string& stem) {
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
inline std::vector<std::string> call_list(const std::string& err) {
  std::vector<std::string> out;
  std::istringstream in(err);
  std::string line;
  const std::regex re(R"(^faultfs: #\d+ (\S+ .*) -> \w+$)");
  for (std::smatch m; std::getline(in, line);)
    if (std::regex_match(line, m, re)) out.push_back(m[1].str());
  return out;
}

// Messages the CLI gives for a failed write: SQLite's for the database, strerror for files.
inline bool reports_write_failure(const std::string& err) {
  static const std::regex re(
      R"(clapsearch: error: .*(database or disk is full|disk I/O error|No space left on device|Input/output error))");
  return std::regex_search(err, re);
}

inline bool exhaustive() {
  const char* e = std::getenv("CLAPSEARCH_FAULT_EXHAUSTIVE");
  return e && *e == '1';
}

// The faults to try among calls 1..count: (N, kind), kind 0 = a full disk (ENOSPC from call N
// on), kind 1 = a transient I/O error (EIO at call N only). With CLAPSEARCH_FAULT_EXHAUSTIVE=1
// every N with both kinds; else every N when there are at most `budget`, or `budget` of them
// spread evenly with a seeded offset (every part of the run is hit, the same calls on every
// run of the test), plus the very last call; the kinds alternate.
inline std::vector<std::pair<long, int>> plan(long count, long budget, unsigned seed) {
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
inline std::vector<std::string> temporaries(const std::string& dir) {
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

inline bool same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// "" when equal (embeddings compared bit for bit), else the first difference.
inline std::string differs(const TrackDump& a, const TrackDump& b) {
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
inline std::vector<std::string> sqlite_problems(const std::string& db, const std::string& scratch) {
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
inline std::map<std::string, TrackDump> dump(const std::string& db, std::vector<std::string>* problems) {
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

inline const Library& library() {
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
inline void copy_reference(const std::string& db) {
  fs::remove_all(fs::path(db).parent_path());
  fs::create_directories(fs::path(db).parent_path());
  fs::copy_file(library().ref_db, db);
}

}  // namespace clap::fault_cli
