// `clapsearch index` and `clapsearch status` run as real processes: summary and exit status,
// bad files, settings refused / --rebuild, kill -9 in the middle of a run and resume, status
// JSON, a 3-hour silent file in bounded memory, a no-change re-index of 1,000 files, symlink
// loops and FIFOs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "hub/hub.h"
#include "index/identity.h"
#include "store/sqlite_store.h"
#include "support/golden.h"

extern char** environ;

namespace clap {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string q(const std::string& s) { return "'" + s + "'"; }

std::string model_dir() { return test::case_dir("tiny-unfused"); }

// Runs the CLI through the shell (no hub access: local model folders, offline).
int cli(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return test::run_cli(args, out, err);
}

void ffmpeg(const std::string& path, const std::string& args) {
  fs::create_directories(fs::path(path).parent_path());
  std::string err;
  ASSERT_EQ(test::run_command("ffmpeg -nostdin -hide_banner -loglevel error -y " + args + " " + q(path), nullptr, &err), 0)
      << err;
}

std::string tone(double freq, double seconds, int rate) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "-f lavfi -i \"sine=f=%g:d=%g:sample_rate=%d\"", freq, seconds, rate);
  return buf;
}

void write_file(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

using test::Child;

Child start(const std::vector<std::string>& args) { return test::start_cli(args); }

struct Finished {
  int status = -1;    // exit status, or 128 + signal
  long max_rss_kb = 0;
  std::string out, err;
};

Finished wait_for(const Child& c) {
  Finished f;
  int st = 0;
  rusage ru{};
  if (wait4(c.pid, &st, 0, &ru) != c.pid) throw std::runtime_error("wait4 failed");
  f.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  f.max_rss_kb = ru.ru_maxrss;
  f.out = slurp(c.out_path);
  f.err = slurp(c.err_path);
  return f;
}

// A minimal 16-bit PCM WAV.
std::string wav_bytes(const std::vector<int16_t>& samples, int rate) {
  auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [](uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); };
  const uint32_t data = uint32_t(samples.size() * 2);
  std::string s = "RIFF" + u32(36 + data) + "WAVEfmt " + u32(16) + u16(1) + u16(1) + u32(rate) + u32(rate * 2) + u16(2) +
                  u16(16) + "data" + u32(data);
  s.append(reinterpret_cast<const char*>(samples.data()), data);
  return s;
}

// ---------------------------------------------------------------------------------------------

TEST(IndexCli, SummaryJsonStatusAndBadFiles) {
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/db/library.db";
  fs::create_directories(test::temp_dir() + "/db");  // --db makes no folders
  ffmpeg(lib + "/a.flac", tone(440, 3, 44100) + " -c:a flac -metadata title=Alpha");
  ffmpeg(lib + "/b.mp3", tone(660, 12, 22050) + " -c:a libmp3lame");
  ffmpeg(lib + "/quiet.wav", "-f lavfi -i anullsrc=r=8000:cl=mono -t 2");
  write_file(lib + "/junk.mp3", std::string(5000, 'x'));
  write_file(lib + "/empty.wav", "");
  std::string out, err;
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --model " + q(model_dir()) + " --json", &out, &err), 0) << err;
  const auto j = nlohmann::json::parse(out);
  for (const char* k : {"indexed", "unchanged", "moved", "pruned", "errors", "audio_seconds", "wall_seconds", "model_seconds",
                        "realtime_factor", "outside_model_fraction"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["indexed"], 2);
  EXPECT_EQ(j["errors"], 3);
  EXPECT_EQ(j["silent"], 1);
  EXPECT_EQ(j["failed"].size(), 3u);
  EXPECT_GT(j["model_seconds"].get<double>(), 0);
  EXPECT_GT(j["realtime_factor"].get<double>(), 0);
  const double outside = j["outside_model_fraction"];
  EXPECT_GE(outside, 0);
  EXPECT_LE(outside, 1);
  EXPECT_NE(err.find("indexed 2, unchanged 0, moved 0, pruned 0, errors 3"), std::string::npos) << err;
  EXPECT_NE(err.find("skipped " + lib + "/junk.mp3"), std::string::npos) << err;

  // status --json
  ASSERT_EQ(cli("status --db " + q(db) + " --json", &out, &err), 0) << err;
  const auto s = nlohmann::json::parse(out);
  EXPECT_EQ(s["tracks"], 5);
  EXPECT_EQ(s["ok"], 2);
  EXPECT_EQ(s["windows"], 4);  // a (3 s): 1, b (12 s): 2, quiet: 1 (silent), bad files: none
  EXPECT_EQ(s["silent_windows"], 1);
  EXPECT_NEAR(s["audio_seconds"].get<double>(), 15.0, 0.2);
  ASSERT_TRUE(s["errors"].is_array());
  EXPECT_EQ(s["errors"].size(), 3u);
  for (const auto& e : s["errors"]) {
    EXPECT_TRUE(e.contains("path"));
    EXPECT_FALSE(e["reason"].get<std::string>().empty());
  }
  EXPECT_EQ(s["model"]["id"], fs::canonical(model_dir()).string());  // the real path of the folder
  EXPECT_EQ(s["model"]["window_s"], 10.0);
  EXPECT_EQ(s["model"]["hop_s"], 5.0);
  EXPECT_EQ(s["model"]["dim"], 512);
  EXPECT_GT(s["db_bytes"].get<int64_t>(), 0);
  // status (text) and --errors
  ASSERT_EQ(cli("status --db " + q(db) + " --errors", &out, &err), 0) << err;
  EXPECT_NE(out.find("tracks    5 (2 ok, 3 errors, of which 1 silent)"), std::string::npos) << out;
  EXPECT_NE(out.find(lib + "/empty.wav: empty file"), std::string::npos) << out;
  EXPECT_NE(out.find(lib + "/quiet.wav: silent"), std::string::npos) << out;

  // Re-run: nothing to do, settings taken from the index (no --model needed).
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --json --quiet", &out, &err), 0) << err;
  const auto again = nlohmann::json::parse(out);
  EXPECT_EQ(again["unchanged"], 5);
  EXPECT_EQ(again["indexed"], 0);
  EXPECT_EQ(again["model_seconds"], 0.0);
  EXPECT_EQ(err, "");  // --quiet

  ASSERT_NE(cli("status --db " + q(test::temp_dir() + "/none.db"), &out, &err), 0);
  EXPECT_NE(err.find("no index here"), std::string::npos) << err;
}

TEST(IndexCli, OnlyBadFilesIsAFailureAndDefaultDbFollowsEnvironment) {
  const std::string bad = test::temp_dir() + "/bad", data = test::temp_dir() + "/xdg";
  write_file(bad + "/noise.mp3", std::string(3000, '\x55'));
  write_file(bad + "/text.ogg", "hello, not audio\n");
  write_file(bad + "/empty.wav", "");
  std::string out, err;
  // No --db: $XDG_DATA_HOME/clapsearch/library.db
  const std::string env = "env -u CLAPSEARCH_DB XDG_DATA_HOME=" + q(data) + " ";
  const std::string home = test::temp_dir() + "/hf-home";
  const int rc = test::run_command(env + "HF_HOME=" + q(home) + " HF_HUB_OFFLINE=1 " + test::cli_command() + " index " +
                                       q(bad) + " --model " + q(model_dir()),
                                   &out, &err);
  EXPECT_EQ(rc, 1) << err;
  EXPECT_NE(err.find("none of the 3 files found could be indexed"), std::string::npos) << err;
  EXPECT_TRUE(fs::exists(data + "/clapsearch/library.db"));
  // $CLAPSEARCH_DB wins.
  const std::string db = test::temp_dir() + "/env.db";
  EXPECT_EQ(test::run_command("CLAPSEARCH_DB=" + q(db) + " HF_HUB_OFFLINE=1 " + test::cli_command() + " index " + q(bad) +
                                  " --quiet --model " + q(model_dir()),
                              &out, &err),
            1);
  EXPECT_TRUE(fs::exists(db));
  // An empty folder is not a failure.
  fs::create_directories(test::temp_dir() + "/empty");
  EXPECT_EQ(cli("index " + q(test::temp_dir() + "/empty") + " --db " + q(db), &out, &err), 0) << err;
  EXPECT_NE(err.find("no audio files found"), std::string::npos) << err;
  // A folder that does not exist is.
  EXPECT_EQ(cli("index " + q(test::temp_dir() + "/nope") + " --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("nope"), std::string::npos) << err;
}

TEST(IndexCli, OtherSettingsRefusedWithClearMessageThenRebuild) {
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/library.db";
  ffmpeg(lib + "/a.wav", tone(440, 12, 16000));
  std::string out, err;
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --model " + q(model_dir()) + " -q", &out, &err), 0) << err;
  EXPECT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --window 6 --hop 3", &out, &err), 1);
  EXPECT_NE(err.find("window 10 s vs 6 s"), std::string::npos) << err;
  EXPECT_NE(err.find("--rebuild"), std::string::npos) << err;
  // (Another model over the same windows is built beside the index's: embedding_sets_cli_test.cpp.)
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --window 6 --hop 3 --rebuild --json -q", &out, &err), 0) << err;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["indexed"], 1);
  EXPECT_EQ(j["windows"], 3);  // 12 s: starts 0, 3, 6 (6 + 6 reaches the end)
  ASSERT_EQ(cli("status --db " + q(db) + " --json", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["model"]["window_s"], 6.0);
}

// A run refused for a usage mistake creates nothing at a new --db path: no index, no lock file,
// no journal (hostile pass 12, R12C-1: each of these left an empty 180 kB index, "model (none
// yet)", and its lock file, found only after the index was opened; `serve --watch` too).
TEST(IndexCli, ARefusedRunLeavesNothingAtANewDb) {
  const std::string lib = test::temp_dir() + "/lib", dbs = test::temp_dir() + "/dbs", db = dbs + "/new.db";
  ffmpeg(lib + "/a.wav", tone(440, 12, 16000));
  fs::create_directories(dbs);
  const std::string run = "index --db " + q(db) + " ";
  const std::string with_model = run + q(lib) + " --model " + q(model_dir()) + " ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {with_model + "--hop 0.1", "--hop 0.1 s: at least 0.5 s"},
      {with_model + "--window 11", "--window 11 s is longer than the model's input"},
      {with_model + "--window 0.5", "--window 0.5 s: at least 1 s"},
      {with_model + "--window 4 --hop 5", "--hop 5 s is longer than --window 4 s"},
      {with_model + "--silence-db 3", "--silence-db 3"},
      {run + q(lib) + " --model " + q(test::temp_dir() + "/no model"), "no model: no such model folder"},
      {run + q(lib + "/typo") + " --model " + q(model_dir()), "typo: No such file or directory"},
      {run + q(lib) + " " + q(lib + "/typo") + " --model " + q(model_dir()), "typo: No such file or directory"},
      // serve --watch makes the index it serves: not when the server is refused after that.
      {"serve --watch " + q(lib) + " --db " + q(db) + " --model " + q(model_dir()) + " --host 192.0.2.1 --port 0",
       "serving on 192.0.2.1 (not loopback) needs a token"},
      {"serve --watch " + q(lib) + " --db " + q(db) + " --model " + q(test::temp_dir() + "/no model") + " --port 0",
       "no model: no such model folder"},
  };
  for (const auto& [args, message] : cases) {
    std::string out, err;
    EXPECT_NE(cli(args, &out, &err), 0) << args;
    EXPECT_NE(err.find(message), std::string::npos) << args << "\n" << err;
    std::vector<std::string> left;
    for (const auto& entry : fs::directory_iterator(dbs)) left.push_back(entry.path().filename().string());
    EXPECT_TRUE(left.empty()) << args << ": left " << left.front();
    for (const auto& entry : fs::directory_iterator(dbs)) fs::remove_all(entry.path());
  }
  // The same run, once it starts, makes the index.
  std::string out, err;
  ASSERT_EQ(cli(with_model + "-q --json", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["indexed"], 1);
  ASSERT_EQ(cli("status --db " + q(db) + " --json", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["model"]["window_s"], 10.0);
}

TEST(IndexCli, KillNineMidRunLeavesAConsistentIndexAndTheNextRunResumes) {
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/library.db";
  const int files = 10;
  for (int i = 0; i < files; ++i)  // 20 s each: 3 windows per track
    ffmpeg(lib + "/t" + std::to_string(i) + ".flac", tone(200 + 70 * i, 20, 22050) + " -c:a flac");
  // One window per model call so the run takes a while; killed as soon as one track is in.
  Child c = start({"index", lib, "--db", db, "--model", model_dir(), "--batch", "1", "--threads", "1", "--quiet"});
  int64_t seen = 0;
  const auto t0 = Clock::now();
  while (Clock::now() - t0 < std::chrono::seconds(120)) {
    if (fs::exists(db)) {
      try {
        store::SqliteStore s = store::SqliteStore::open_readonly(db);
        seen = s.counts().tracks;
      } catch (const std::exception&) {  // not created / migrated yet
      }
    }
    if (seen >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(kill(c.pid, SIGKILL), 0);
  const Finished f = wait_for(c);
  ASSERT_EQ(f.status, 128 + SIGKILL) << "the run ended before it could be killed: " << f.err;
  ASSERT_GE(seen, 1);

  int64_t committed = 0;
  {
    store::SqliteStore s = store::SqliteStore::open(db);
    const auto problems = s.check();  // integrity_check + every track complete
    for (const auto& p : problems) ADD_FAILURE() << p;
    committed = s.counts().tracks;
    std::printf("[ killed ] after %lld of %d tracks were committed\n", static_cast<long long>(committed), files);
    EXPECT_LT(committed, files) << "killed too late to test anything";
    for (const auto& t : s.tracks()) {
      EXPECT_EQ(t.status, store::TrackStatus::Ok) << t.path;
      EXPECT_EQ(t.window_count, 3) << t.path;
      EXPECT_EQ(s.windows(t.id).size(), 3u);
    }
    EXPECT_EQ(s.counts().windows, 3 * committed);
  }
  std::string out, err;
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --json -q", &out, &err), 0) << err;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["unchanged"], committed);
  EXPECT_EQ(j["indexed"], files - committed);
  store::SqliteStore s = store::SqliteStore::open_readonly(db);
  EXPECT_TRUE(s.check().empty());
  EXPECT_EQ(s.counts().tracks, files);
  EXPECT_EQ(s.counts().windows, 3 * files);
  sqlite3* raw = nullptr;  // the store hides its handle: look at the file directly
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(raw, "SELECT COUNT(DISTINCT path), COUNT(*) FROM tracks", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
  sqlite3_finalize(st);
  sqlite3_close(raw);
}

// R10C-1 (hostile pass 10): a library of one long file showed no progress line until the file was
// done (5 minutes of nothing for a 4 GiB sparse WAV). Each decode now tells how far it is, so the
// progress line (one every ~5 s off a terminal) counts the file's audio as it decodes. The file's
// header claims 2 GiB of 16-bit zeros at 8 kHz (37 h, resampled to 48 kHz), sparse on disk: the
// line comes while the file is in progress (0/1 files), long before its decode could end.
TEST(IndexCli, ProgressShowsWhileOneLongFileDecodes) {
  const std::string lib = test::temp_dir() + "/long", db = test::temp_dir() + "/long.db";
  std::string header = wav_bytes({}, 8000);
  const uint32_t data = 0x80000000u;
  std::memcpy(header.data() + 40, &data, 4);
  const uint32_t riff = data + 36;
  std::memcpy(header.data() + 4, &riff, 4);
  write_file(lib + "/night.wav", header);
  fs::resize_file(lib + "/night.wav", header.size() + data);
  Child c = start({"index", lib, "--db", db, "--model", model_dir(), "--json"});
  // Seconds of audio decoded of the one file, on a line that has not finished it.
  const std::regex in_progress(R"(indexing \(pass 1\): 0/1 files, ([0-9.]+) (s|min|h) of audio)");
  std::string err;
  const bool shown = test::wait_until([&] {
    err = slurp(c.err_path);
    for (auto it = std::sregex_iterator(err.begin(), err.end(), in_progress); it != std::sregex_iterator(); ++it)
      if (std::stod((*it)[1]) > 0) return true;
    return false;
  }, 600);  // the hang guard (a loaded machine hashes and decodes slowly): before the fix no such line came
  kill(c.pid, SIGTERM);
  wait_for(c);
  EXPECT_TRUE(shown) << err;
}

// A query file is embedded as it is decoded (hostile pass 22, H22C-6): `like` held every sample of
// its file first, 6.1 GB resident for a 10-hour one and growing (2 hours at 48 kHz: 1.4 GB). This one
// is 10 s of the indexed tone, then 2 hours of silence.
TEST(QueryFile, ATwoHourQueryFileIsEmbeddedInBoundedMemory) {
  const std::string lib = test::temp_dir() + "/query_file_lib", db = test::temp_dir() + "/query_file.db";
  const std::string query = test::temp_dir() + "/query_file/long.flac";
  ffmpeg(lib + "/tone.flac", "-f lavfi -i \"sine=f=440:d=10:sample_rate=8000\" -c:a flac");
  ffmpeg(query, "-f lavfi -i \"sine=f=440:d=10:sample_rate=8000\" -f lavfi -i anullsrc=r=8000:cl=mono -t 7200 "
                "-filter_complex \"[0][1]concat=n=2:v=0:a=1\" -c:a flac");
  std::string err;
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --model " + q(model_dir()) + " --quiet", nullptr, &err), 0) << err;
  Child c = start({"like", query, "--db", db, "--json"});
  const Finished f = wait_for(c);
  ASSERT_EQ(f.status, 0) << f.err;
  const auto j = nlohmann::json::parse(f.out);
  ASSERT_EQ(j.size(), 1u) << j;
  EXPECT_EQ(j[0]["path"], lib + "/tone.flac");
  ASSERT_FALSE(j[0]["matches"].empty()) << j;
  EXPECT_EQ(j[0]["matches"][0]["query_start"], 0.0) << j;  // the tone, at the start of the query
  std::printf("[ memory ] peak RSS %.0f MB for a 2-hour query file\n", f.max_rss_kb / 1024.0);
  EXPECT_LT(f.max_rss_kb, 400 * 1024);
}

TEST(IndexCli, ThreeHourSilentFileInBoundedMemory) {
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/library.db";
  ffmpeg(lib + "/silence.flac", "-f lavfi -i anullsrc=r=8000:cl=mono -t 10800 -c:a flac");
  ffmpeg(lib + "/short.wav", tone(440, 2, 16000));
  Child c = start({"index", lib, "--db", db, "--model", model_dir(), "--json", "--quiet"});
  const Finished f = wait_for(c);
  ASSERT_EQ(f.status, 0) << f.err;
  const auto j = nlohmann::json::parse(f.out);
  EXPECT_EQ(j["indexed"], 1);
  EXPECT_EQ(j["errors"], 1);
  EXPECT_EQ(j["silent_windows"], 2159);
  // 3 h at 48 kHz is 2 GB of floats; the pipeline holds one window plus a chunk.
  std::printf("[ memory ] peak RSS %.0f MB for a 3-hour file\n", f.max_rss_kb / 1024.0);
  EXPECT_LT(f.max_rss_kb, 400 * 1024);
  store::SqliteStore s = store::SqliteStore::open_readonly(db);
  const auto t = s.track_by_path(lib + "/silence.flac");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->silent);
  EXPECT_NEAR(t->duration_s, 10800, 0.01);
}

// Hostile pass 12, H12C-2: a 12 s Matroska file whose Segment Info says it lasts 10^12 s (its
// Duration element rewritten; the packets are the 12 s). The first pass laid out the windows of
// the claimed length (2*10^11 of them) and the whole run stopped "out of memory". It is indexed
// by its audio now. Under a 4 GB address-space limit, so that the run before the fix fails soon
// and takes nothing from the machine.
TEST(IndexCli, AContainerLyingAboutItsDurationIsIndexedByItsAudio) {
  const std::string lib = test::temp_dir() + "/liar", db = test::temp_dir() + "/liar.db";
  ffmpeg(lib + "/tone.mka", tone(440, 12, 48000) + " -c:a flac");
  ffmpeg(lib + "/other.flac", tone(660, 12, 48000));
  std::string bytes = slurp(lib + "/tone.mka");
  const size_t at = bytes.find("\x44\x89");  // Segment Info's Duration (EBML id 0x4489), a float
  ASSERT_NE(at, std::string::npos);
  const unsigned char size = static_cast<unsigned char>(bytes[at + 2]);
  ASSERT_TRUE(size == 0x84 || size == 0x88) << int(size);
  const double claimed_ms = 1e15;  // in the default TimecodeScale's milliseconds: 10^12 s
  if (size == 0x88) {
    uint64_t u;
    std::memcpy(&u, &claimed_ms, 8);
    for (int i = 0; i < 8; ++i) bytes[at + 3 + size_t(i)] = char(u >> (56 - 8 * i));
  } else {
    const float f = static_cast<float>(claimed_ms);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int i = 0; i < 4; ++i) bytes[at + 3 + size_t(i)] = char(u >> (24 - 8 * i));
  }
  write_file(lib + "/tone.mka", bytes);
  std::string out, err;
  const int rc = test::run_command("ulimit -v 4000000 && HF_HUB_OFFLINE=1 " + test::cli_command() + " index " + q(lib) + " --db " +
                                       q(db) + " --model " + q(model_dir()) + " --json --quiet",
                                   &out, &err);
  ASSERT_EQ(rc, 0) << err;  // before the fix: 1, "out of memory"
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["indexed"], 2);
  EXPECT_EQ(j["errors"], 0);
  store::SqliteStore s = store::SqliteStore::open_readonly(db);
  const auto t = s.track_by_path(lib + "/tone.mka");
  ASSERT_TRUE(t);
  EXPECT_NEAR(t->duration_s, 12, 0.05);
}

TEST(IndexCli, NoChangeReindexOfAThousandFilesTakesUnderTwoSeconds) {
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/library.db";
  // 1,000 half-second WAVs in 20 folders, recorded in the index as the indexer records them
  // (size, mtime, one window each): only the no-change path is under test here.
  const index::ModelSpec spec =
      index::describe_model(hub::resolve_model(model_dir()), 10, 5, -60);
  {
    store::SqliteStore s = store::SqliteStore::open(db);
    s.set_model(spec.identity);
    s.add_roots({lib});
    std::mt19937 rng(3);
    std::normal_distribution<float> g;
    std::vector<int16_t> pcm(8000);
    for (int i = 0; i < 1000; ++i) {
      for (auto& v : pcm) v = int16_t(rng() % 2000);
      char name[64];
      std::snprintf(name, sizeof name, "/d%02d/f%04d.wav", i % 20, i);
      const std::string path = lib + name;
      write_file(path, wav_bytes(pcm, 16000));
      struct stat st{};
      ASSERT_EQ(stat(path.c_str(), &st), 0);
      store::Track t;
      t.path = path;
      t.size = st.st_size;
      t.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      t.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
      t.duration_s = 0.5;
      t.tags_version = store::kTagsVersion;  // the indexer's reading of the tags (an older one is read again)
      t.fingerprint = {uint32_t(i), uint32_t(i) * 7u};  // has one (a track without one is fingerprinted)
      store::WindowRecord w;
      w.end_s = 0.5;
      w.loudness_dbfs = -30;
      w.embedding.resize(512);
      for (auto& x : w.embedding) x = g(rng) / 22.6f;
      s.put_track(t, {w}, w.embedding.data());
    }
  }
  const auto t0 = Clock::now();
  std::string out, err;
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --json", &out, &err), 0) << err;
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["found"], 1000);
  EXPECT_EQ(j["unchanged"], 1000);
  EXPECT_EQ(j["indexed"], 0);
  EXPECT_EQ(j["model_seconds"], 0.0);
  std::printf("[ timing ] no-change re-index of 1,000 files: %.3f s (process), %.3f s (reported)\n", wall,
              j["wall_seconds"].get<double>());
  EXPECT_LT(wall, 2.0);
}

// Issue 53, M4: a file whose name now holds a folder (a single turned into a folder of parts),
// a FIFO or a socket is no track any more: pruned like a deleted file, not kept as a ghost in
// every result. The folder's own files are indexed beside.
TEST(IndexCli, AFileReplacedByAFolderOrAFifoIsPruned) {
  const std::string lib = test::temp_dir() + "/replaced", db = test::temp_dir() + "/replaced.db";
  for (int i = 0; i < 6; ++i) ffmpeg(lib + "/f" + std::to_string(i) + ".wav", tone(300 + 50 * i, 2, 16000));
  std::string out, err;
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --model " + q(model_dir()) + " -q", &out, &err), 0) << err;
  fs::remove(lib + "/f1.wav");
  ffmpeg(lib + "/f1.wav/part1.wav", tone(900, 2, 16000));
  fs::remove(lib + "/f2.wav");
  ASSERT_EQ(mkfifo((lib + "/f2.wav").c_str(), 0644), 0);
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --json -q", &out, &err), 0) << err;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["pruned"], 2) << out;
  EXPECT_EQ(j["indexed"], 1) << out;
  ASSERT_EQ(cli("search --db " + q(db) + " --json -k 0 'a tone'", &out, &err), 0) << err;
  EXPECT_EQ(out.find("/f1.wav\""), std::string::npos) << out;
  EXPECT_EQ(out.find("/f2.wav\""), std::string::npos) << out;
  EXPECT_NE(out.find("/f1.wav/part1.wav"), std::string::npos) << out;
  ASSERT_EQ(cli("status --db " + q(db) + " --json", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["tracks"], 5) << out;
}

// Hostile pass 7 (H7C-1): a file's tags went into the index whatever their length. Three MP3s with
// a 20 MB title made a 160 MB index and a 60 MB `search --json`, and every answer of the server
// naming them carried the titles. Each tag now keeps its first 4096 bytes, cut at the start of a
// character (here a 3-byte euro sign); the usual tags are kept as they are.
TEST(IndexCli, AHugeTagIsCutAtACharacter) {
  const std::string lib = test::temp_dir() + "/hugetag", db = test::temp_dir() + "/hugetag.db";
  std::string euros;
  for (int i = 0; i < 40000; ++i) euros += "\u20ac";  // 120,000 bytes
  const std::string meta = test::temp_dir() + "/hugetag.txt";
  write_file(meta, ";FFMETADATA1\ntitle=" + euros + "\nartist=  Somebody  \ngenre=" + std::string(200000, 'g') + "\n");
  ffmpeg(lib + "/a.flac", tone(440, 2, 16000) + " -i " + q(meta) + " -map_metadata 1 -c:a flac");
  std::string out, err;
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --model " + q(model_dir()) + " -q", &out, &err), 0) << err;
  ASSERT_EQ(cli("search --db " + q(db) + " --json -k 0 'a tone'", &out, &err), 0) << err;
  const auto j = nlohmann::json::parse(out);  // throws on a title cut inside a character
  ASSERT_EQ(j.size(), 1u) << out.substr(0, 500);
  EXPECT_EQ(j[0]["title"], euros.substr(0, 4095)) << j[0]["title"].get<std::string>().size();
  EXPECT_EQ(j[0]["artist"], "Somebody");
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT genre FROM tracks", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))), std::string(4096, 'g'));
  sqlite3_finalize(st);
  sqlite3_close(raw);
}

// Issue 11, defect 6: an emptied mount point must not empty the library, and files that come
// back are restored with their embeddings instead of being embedded again.
TEST(IndexCli, AVanishedFolderIsKeptAndReturningFilesAreRestored) {
  const std::string lib = test::temp_dir() + "/drive", db = test::temp_dir() + "/library.db";
  const std::string away = test::temp_dir() + "/away";
  for (int i = 0; i < 3; ++i) ffmpeg(lib + "/t" + std::to_string(i) + ".wav", tone(300 + 100 * i, 3, 16000));
  std::string out, err;
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --model " + q(model_dir()) + " -q", &out, &err), 0) << err;
  ASSERT_EQ(cli("search --db " + q(db) + " --json 'a tone'", &out, &err), 0) << err;
  const auto scores_before = nlohmann::json::parse(out);

  // The drive is "unmounted": the folder is there, empty.
  fs::rename(lib, away);
  fs::create_directories(lib);
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --json", &out, &err), 0) << err;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["pruned"], 0);
  EXPECT_EQ(j["held"], 3);
  EXPECT_NE(err.find("3 of its 3 indexed tracks are missing"), std::string::npos) << err;
  EXPECT_NE(err.find("--prune-missing"), std::string::npos) << err;
  ASSERT_EQ(cli("status --db " + q(db) + " --json", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["ok"], 3);

  // Back again, one file deleted for real: a minority, pruned (and kept restorable).
  fs::remove(lib);
  fs::rename(away, lib);
  fs::rename(lib + "/t2.wav", test::temp_dir() + "/t2.wav");
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --json -q", &out, &err), 0) << err;
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["pruned"], 1);
  EXPECT_EQ(j["held"], 0);

  // It comes back under another name: restored, not decoded or embedded again.
  fs::rename(test::temp_dir() + "/t2.wav", lib + "/renamed.wav");
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --json", &out, &err), 0) << err;
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["restored"], 1);
  EXPECT_EQ(j["indexed"], 0);
  EXPECT_EQ(j["model_seconds"], 0.0);
  EXPECT_NE(err.find("restored 1"), std::string::npos) << err;
  ASSERT_EQ(cli("search --db " + q(db) + " --json 'a tone'", &out, &err), 0) << err;
  const auto scores_after = nlohmann::json::parse(out);
  ASSERT_EQ(scores_after.size(), scores_before.size());
  for (size_t i = 0; i < scores_after.size(); ++i)  // the same embeddings, bit for bit
    EXPECT_EQ(scores_after[i]["score"].get<double>(), scores_before[i]["score"].get<double>()) << i;

  // --prune-missing says they were deleted: pruned, even all of them.
  fs::rename(lib, away);
  fs::create_directories(lib);
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --prune-missing --json -q", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["pruned"], 3);
  ASSERT_EQ(cli("status --db " + q(db) + " --json", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["tracks"], 0);
}

TEST(IndexCli, SymlinkLoopAndFifoDoNotHang) {
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/library.db";
  ffmpeg(lib + "/a/song.wav", tone(440, 1, 16000));
  fs::create_directory_symlink("..", lib + "/a/loop");
  fs::create_directory_symlink(lib, lib + "/a/root");
  ASSERT_EQ(mkfifo((lib + "/a/fifo.mp3").c_str(), 0644), 0);
  fs::create_symlink(lib + "/a/fifo.mp3", lib + "/fifo_link.flac");
  std::string out, err;
  // `timeout` turns a hang into a failure instead of a stuck test.
  const int rc = test::run_command("timeout 60 " + test::cli_command() + " index " + q(lib) + " --db " + q(db) +
                                       " --model " + q(model_dir()) + " --json",
                                   &out, &err);
  ASSERT_EQ(rc, 0) << err;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["found"], 1);
  EXPECT_EQ(j["indexed"], 1);
  EXPECT_GE(j["warnings"].size(), 2u);
  EXPECT_NE(err.find("warning: " + lib + "/a/loop"), std::string::npos) << err;
}

}  // namespace
}  // namespace clap

namespace clap {
namespace {

int64_t fingerprints_of(const std::string& db, const std::string& path_like) {
  std::string out, err;
  EXPECT_EQ(test::run_command("sqlite3 " + q(db) + " \"SELECT count(*) FROM fingerprints f JOIN tracks t ON t.id = f.track_id WHERE t.path LIKE '" +
                                  path_like + "'\"",
                              &out, &err),
            0)
      << err;
  return std::atoll(out.c_str());
}

// Issue 53 (closing note s7): the fingerprint-only decode (refresh_fingerprints, for tracks
// indexed before fingerprints were stored) read the file as it was then, not checking it was the
// version the track's embeddings came from: a file rewritten since, outside the folders this run
// compares, got the new version's fingerprint on the old version's track. It is now left for the
// run that indexes it again, as every other decode leaves a file that changed.
TEST(IndexCli, AFingerprintIsOfTheVersionTheTrackWasIndexedFrom) {
  const std::string lib = test::temp_dir() + "/fingerprint-version", db = test::temp_dir() + "/fingerprint-version.db";
  ffmpeg(lib + "/a/1.wav", tone(300, 10, 16000));
  ffmpeg(lib + "/b/2.wav", tone(500, 10, 16000));
  std::string out, err;
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --model " + q(model_dir()) + " -q", &out, &err), 0) << err;
  ASSERT_EQ(fingerprints_of(db, "%"), 2);
  ASSERT_EQ(test::run_command("sqlite3 " + q(db) + " 'DELETE FROM fingerprints'", &out, &err), 0) << err;
  ffmpeg(lib + "/b/2.wav", tone(800, 12, 16000));  // rewritten: another size and time
  ASSERT_EQ(cli("index " + q(lib + "/a") + " --db " + q(db) + " --json -q", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["fingerprints_added"], 1) << out;
  EXPECT_EQ(fingerprints_of(db, "%/a/1.wav"), 1);
  EXPECT_EQ(fingerprints_of(db, "%/b/2.wav"), 0) << "the old track got the new file's fingerprint";
  // The run that sees the change indexes the file again, fingerprint and all.
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(db) + " --json -q", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["indexed"], 1) << out;
  EXPECT_EQ(fingerprints_of(db, "%/b/2.wav"), 1);
}

}  // namespace
}  // namespace clap
