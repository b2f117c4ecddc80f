// Distributed indexing on a real PostgreSQL server (support/postgres_server.h): `clapsearch index
// --plan` and `clapsearch worker` processes, on real audio made by ffmpeg, embedded by the tiny
// random-weight golden model.
//
// Asserted: two workers in parallel store exactly the tracks and windows (every embedding bit)
// that one SQLite run stores; a worker killed with kill -9 loses its job after the lease and the
// next worker completes it, stored once; a job whose workers keep dying is recorded as an error;
// a PostgreSQL restart mid-run is survived; --path-map; a worker with another model refuses to
// start; plan and worker refuse a SQLite index without creating anything.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "store/postgres.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string q(const std::string& s) { return test::quoted(s); }

std::string cli() { return "HF_HUB_OFFLINE=1 " + test::cli_command(); }

std::string tiny() { return test::case_dir("tiny-unfused"); }

// A small library: tones and noise of several lengths, a silent file, a file that is not audio.
std::string make_library(const std::string& dir, int seconds_scale = 1) {
  const std::string music = dir + "/music";
  for (int i = 0; i < 5; ++i)
    test::ffmpeg(music + "/tone" + std::to_string(i) + ".flac",
                 "-f lavfi -i \"sine=f=" + std::to_string(220 + 110 * i) + ":d=" + std::to_string((7 + 6 * i) * seconds_scale) + "\"");
  test::ffmpeg(music + "/sub/noise.mp3", "-f lavfi -i \"anoisesrc=d=" + std::to_string(12 * seconds_scale) + ":c=pink:a=0.3:seed=4\"");
  test::ffmpeg(music + "/sub/silence.wav", "-f lavfi -i \"anullsrc=r=48000:cl=mono\" -t 11");
  std::FILE* f = std::fopen((music + "/sub/broken.ogg").c_str(), "wb");
  std::fputs("not an ogg file at all", f);
  std::fclose(f);
  return music;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Every track (by path) and window of `got` equals `want`'s, embeddings bit for bit; ids and
// indexing times may differ (workers store tracks in the order they finish).
void expect_same_library(const std::string& want_location, const std::string& got_location) {
  auto want = store::open_store(want_location, store::OpenMode::ReadOnly);
  auto got = store::open_store(got_location, store::OpenMode::ReadOnly);
  const std::vector<store::Track> a = want->tracks(), b = got->tracks();
  ASSERT_EQ(a.size(), b.size());
  const Embeddings ea = want->track_embeddings(), eb = got->track_embeddings();
  std::map<int64_t, std::vector<float>> track_vec_a, track_vec_b;
  for (size_t i = 0; i < ea.ids.size(); ++i) track_vec_a[ea.ids[i]].assign(ea.row(i), ea.row(i) + ea.dim);
  for (size_t i = 0; i < eb.ids.size(); ++i) track_vec_b[eb.ids[i]].assign(eb.row(i), eb.row(i) + eb.dim);
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].path);
    EXPECT_EQ(a[i].path, b[i].path);
    EXPECT_EQ(a[i].size, b[i].size);
    EXPECT_EQ(a[i].mtime_ns, b[i].mtime_ns);
    EXPECT_EQ(a[i].content_hash, b[i].content_hash);
    EXPECT_EQ(a[i].duration_s, b[i].duration_s);
    EXPECT_EQ(a[i].status, b[i].status);
    EXPECT_EQ(a[i].error, b[i].error);
    EXPECT_EQ(a[i].silent, b[i].silent);
    EXPECT_EQ(a[i].window_count, b[i].window_count);
    EXPECT_TRUE(same_bits(track_vec_a[a[i].id], track_vec_b[b[i].id]));
    const auto wa = want->windows(a[i].id), wb = got->windows(b[i].id);
    ASSERT_EQ(wa.size(), wb.size());
    for (size_t k = 0; k < wa.size(); ++k) {
      EXPECT_EQ(wa[k].idx, wb[k].idx);
      EXPECT_EQ(wa[k].start_s, wb[k].start_s);
      EXPECT_EQ(wa[k].loudness_dbfs, wb[k].loudness_dbfs);
      EXPECT_EQ(wa[k].silent, wb[k].silent);
      EXPECT_TRUE(same_bits(wa[k].embedding, wb[k].embedding)) << "window " << k;
    }
  }
  EXPECT_TRUE(got->check().empty());
}

store::JobCounts jobs_of(const std::string& url) { return store::open_store(url, store::OpenMode::ReadOnly)->job_counts(); }

// Starts a command in the background; returns its pid (a shell that execs it).
pid_t spawn(const std::string& command, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec env " + command + " >" + q(log) + " 2>&1").c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Workers, TwoWorkersStoreWhatOneSqliteRunStores) {
  const std::string dir = test::temp_dir() + "/two";
  const std::string music = make_library(dir);
  const std::string url = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index " + q(music) + " --db " + q(dir + "/one.db") + " --model " + q(tiny()), &out, &err), 0) << err;
  ASSERT_EQ(test::run_command(cli() + " index --plan --json " + q(music) + " --db " + q(url) + " --model " + q(tiny()), &out, &err), 0)
      << err;
  EXPECT_EQ(json::parse(out)["planned"], 8);
  EXPECT_EQ(jobs_of(url).pending, 8);
  ASSERT_EQ(test::run_command(cli() + " status --json --db " + q(url), &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out)["jobs"]["pending"], 8);

  const pid_t a = spawn(cli() + " worker --until-done --json --poll 0.2 --db " + q(url), dir + "/a.log");
  const pid_t b = spawn(cli() + " worker --until-done --json --poll 0.2 --db " + q(url), dir + "/b.log");
  ASSERT_EQ(wait_exit(a), 0) << read_file(dir + "/a.log");
  ASSERT_EQ(wait_exit(b), 0) << read_file(dir + "/b.log");
  const std::string la = read_file(dir + "/a.log"), lb = read_file(dir + "/b.log");
  const json ja = json::parse(la.substr(la.find("{\"")));
  const json jb = json::parse(lb.substr(lb.find("{\"")));
  EXPECT_EQ(ja["indexed"].get<int>() + jb["indexed"].get<int>(), 6) << la << lb;
  EXPECT_EQ(ja["errors"].get<int>() + jb["errors"].get<int>(), 2) << la << lb;  // the silent and the broken file
  const store::JobCounts j = jobs_of(url);
  EXPECT_EQ(store::pg::Connection(url).query("SELECT COUNT(*) FROM jobs WHERE pass = 1 AND state = 'done'").int64(0, 0), 6);
  EXPECT_EQ(j.failed, 2);
  EXPECT_EQ(j.open(), 0);
  expect_same_library(dir + "/one.db", url);

  // Nothing changed: a new plan queues nothing, and finished jobs of the last plan are forgotten.
  ASSERT_EQ(test::run_command(cli() + " index --plan --json " + q(music) + " --db " + q(url), &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out)["planned"], 0);
  EXPECT_EQ(json::parse(out)["unchanged"], 8);
  EXPECT_EQ(jobs_of(url).total(), 0);
  // A moved file is moved by the planner (same content), not queued.
  fs::rename(music + "/tone0.flac", music + "/sub/tone0-moved.flac");
  ASSERT_EQ(test::run_command(cli() + " index --plan --json " + q(music) + " --db " + q(url), &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out)["moved"], 1);
  EXPECT_EQ(json::parse(out)["planned"], 0);
}

// Progressive indexing over workers: `worker --passes 1` takes the first passes only (every
// track searchable), leaves the later passes queued and exits; a worker without --passes then
// finishes them, and the library ends as one SQLite run of every window stores it.
TEST(Workers, PassesOneTakesOnlyFirstPassesAndALaterWorkerFinishes) {
  const std::string dir = test::temp_dir() + "/passes";
  const std::string music = make_library(dir);
  const std::string url = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index " + q(music) + " --db " + q(dir + "/one.db") + " --model " + q(tiny()), &out, &err), 0) << err;
  ASSERT_EQ(test::run_command(cli() + " index --plan --json --first-pass 1 " + q(music) + " --db " + q(url) + " --model " + q(tiny()),
                              &out, &err),
            0)
      << err;
  ASSERT_EQ(test::run_command(cli() + " worker --passes 1 --until-done --json --poll 0.2 --db " + q(url), &out, &err), 0) << err;
  const json first = json::parse(out);
  EXPECT_EQ(first["indexed"], 6) << out;
  EXPECT_EQ(first["errors"], 2) << out;  // the silent and the broken file
  store::JobCounts j = jobs_of(url);
  ASSERT_GE(j.open_by_pass.size(), 3u);
  EXPECT_EQ(j.open_by_pass[1], 0);
  EXPECT_GT(j.open_through(0), 0) << "no later pass was left queued";
  EXPECT_EQ(j.open_through(1), 0);
  {
    // Every indexed track has its first window; some have fewer than all their windows yet.
    auto store = store::open_store(url, store::OpenMode::ReadOnly);
    auto sqlite = store::open_store(dir + "/one.db", store::OpenMode::ReadOnly);
    int partial = 0;
    for (const store::Track& t : store->tracks()) {
      if (t.status != store::TrackStatus::Ok) continue;
      const auto got = store->windows(t.id);
      EXPECT_GE(got.size(), 1u) << t.path;
      for (const store::Track& w : sqlite->tracks())
        if (w.path == t.path && sqlite->windows(w.id).size() > got.size()) ++partial;
    }
    EXPECT_GT(partial, 0) << "the first pass stored every window already";
  }
  ASSERT_EQ(test::run_command(cli() + " worker --until-done --json --poll 0.2 --db " + q(url), &out, &err), 0) << err;
  j = jobs_of(url);
  EXPECT_EQ(j.open(), 0);
  expect_same_library(dir + "/one.db", url);
  // A negative count is refused by the command line before anything is claimed.
  EXPECT_NE(test::run_command(cli() + " worker --passes -1 --until-done --db " + q(url), &out, &err), 0);
  EXPECT_NE(err.find("--passes"), std::string::npos) << err;
}

// Waits until the store shows a leased job (a worker is embedding), at most `seconds`.
bool wait_for_lease(const std::string& url, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (jobs_of(url).leased > 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(Workers, AKilledWorkersFileIsTakenOverAfterTheLeaseAndStoredOnce) {
  const std::string dir = test::temp_dir() + "/killed";
  // One long file: the worker is inside it when killed.
  test::ffmpeg(dir + "/music/long.flac", "-f lavfi -i \"sine=f=330:d=900\"");
  const std::string url = test::PostgresServer::shared().create_database();
  std::string out, err;
  // --first-pass 0: one job embeds the whole file (the passes' own kill test is below).
  ASSERT_EQ(test::run_command(cli() + " index --plan --first-pass 0 " + q(dir + "/music") + " --db " + q(url) + " --model " + q(tiny()),
                              &out, &err),
            0)
      << err;
  const pid_t victim = spawn(cli() + " worker --until-done --lease 5 --batch 1 --threads 1 --db " + q(url), dir + "/victim.log");
  ASSERT_TRUE(wait_for_lease(url, 60)) << read_file(dir + "/victim.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // into the file
  ::kill(victim, SIGKILL);
  EXPECT_EQ(wait_exit(victim), 128 + SIGKILL);
  const store::JobCounts after_kill = jobs_of(url);
  ASSERT_EQ(after_kill.leased, 1) << "the worker finished before it was killed: make the file longer";
  EXPECT_EQ(store::open_store(url, store::OpenMode::ReadOnly)->counts().tracks, 0);  // nothing half stored

  ASSERT_EQ(test::run_command(cli() + " worker --until-done --json --poll 0.5 --db " + q(url), &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out)["indexed"], 1) << err;
  auto s = store::open_store(url, store::OpenMode::ReadOnly);
  const store::Counts c = s->counts();
  EXPECT_EQ(c.tracks, 1);
  EXPECT_EQ(c.ok, 1);
  EXPECT_EQ(c.windows, 179);  // 900 s: windows at 0, 5, ... 890
  EXPECT_TRUE(s->check().empty());
  EXPECT_EQ(s->job_counts().done, 1);
}

// SIGTERM (systemctl stop) and Ctrl-C: the worker finishes the files it claimed, stores them,
// gives nothing up half done and exits 0 without claiming more (a claim is at least 4 files).
TEST(Workers, SigtermFinishesTheFilesInHandAndExitsZero) {
  const std::string dir = test::temp_dir() + "/sigterm";
  for (int i = 0; i < 8; ++i)
    test::ffmpeg(dir + "/music/" + std::to_string(i) + ".flac", "-f lavfi -i \"sine=f=" + std::to_string(300 + 50 * i) + ":d=60\"");
  const std::string url = test::PostgresServer::shared().create_database();
  std::string out, err;
  // --first-pass 0: a job per file (no second-pass jobs queued as first passes finish).
  ASSERT_EQ(test::run_command(cli() + " index --plan --first-pass 0 " + q(dir + "/music") + " --db " + q(url) + " --model " + q(tiny()),
                              &out, &err),
            0)
      << err;
  const pid_t worker = spawn(cli() + " worker --json --batch 1 --threads 1 --db " + q(url), dir + "/worker.log");
  ASSERT_TRUE(wait_for_lease(url, 60)) << read_file(dir + "/worker.log");
  ::kill(worker, SIGTERM);
  EXPECT_EQ(wait_exit(worker), 0) << read_file(dir + "/worker.log");
  const store::JobCounts jobs = jobs_of(url);
  EXPECT_EQ(jobs.leased, 0);
  EXPECT_EQ(jobs.failed, 0);
  EXPECT_GE(jobs.done, 1);
  EXPECT_GE(jobs.pending, 1) << "the worker claimed again after the signal";
  EXPECT_EQ(jobs.done + jobs.pending, 8);
  EXPECT_NE(read_file(dir + "/worker.log").find("\"stopped\":true"), std::string::npos) << read_file(dir + "/worker.log");
  auto s = store::open_store(url, store::OpenMode::ReadOnly);
  EXPECT_EQ(s->counts().tracks, jobs.done);
  EXPECT_TRUE(s->check().empty());
}

TEST(Workers, AFileWhoseWorkersKeepDyingIsRecordedAsAnError) {
  const std::string dir = test::temp_dir() + "/dying";
  test::ffmpeg(dir + "/music/long.flac", "-f lavfi -i \"sine=f=330:d=900\"");
  const std::string url = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index --plan " + q(dir + "/music") + " --db " + q(url) + " --model " + q(tiny()), &out, &err), 0)
      << err;
  const pid_t victim = spawn(cli() + " worker --lease 5 --batch 1 --threads 1 --db " + q(url), dir + "/victim.log");
  ASSERT_TRUE(wait_for_lease(url, 60)) << read_file(dir + "/victim.log");
  ::kill(victim, SIGKILL);
  wait_exit(victim);
  // --max-attempts 1: the second claim is one too many.
  ASSERT_EQ(test::run_command(cli() + " worker --until-done --max-attempts 1 --json --poll 0.5 --db " + q(url), &out, &err), 0) << err;
  const json j = json::parse(out);
  EXPECT_EQ(j["indexed"], 0);
  ASSERT_EQ(j["failed"].size(), 1u);
  EXPECT_NE(j["failed"][0]["reason"].get<std::string>().find("given up after 1 attempts"), std::string::npos) << j.dump();
  auto s = store::open_store(url, store::OpenMode::ReadOnly);
  ASSERT_EQ(s->errors().size(), 1u);
  EXPECT_EQ(s->job_counts().failed, 1);
  EXPECT_EQ(s->job_counts().open(), 0);
}

TEST(Workers, APostgresqlRestartMidRunIsSurvived) {
  const std::string dir = test::temp_dir() + "/restart";
  const std::string music = make_library(dir, 40);  // minutes of audio: the worker is busy for a while
  test::PostgresServer& server = test::PostgresServer::shared();
  const std::string url = server.create_database();
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index --plan " + q(music) + " --db " + q(url) + " --model " + q(tiny()), &out, &err), 0) << err;
  const pid_t worker = spawn(cli() + " worker --until-done --json --lease 10 --poll 0.2 --threads 1 --db " + q(url), dir + "/worker.log");
  ASSERT_TRUE(wait_for_lease(url, 60)) << read_file(dir + "/worker.log");
  server.restart(1.0);
  ASSERT_EQ(wait_exit(worker), 0) << read_file(dir + "/worker.log");
  const std::string log = read_file(dir + "/worker.log");
  const json j = json::parse(log.substr(log.find("{\"")));
  EXPECT_GE(j["reconnects"].get<int>(), 1) << log;
  EXPECT_NE(log.find("connected again"), std::string::npos) << log;
  auto s = store::open_store(url, store::OpenMode::ReadOnly);
  EXPECT_EQ(s->counts().tracks, 8) << log;
  EXPECT_EQ(s->counts().ok, 6);
  EXPECT_TRUE(s->check().empty());
  EXPECT_EQ(s->job_counts().open(), 0);
}

// Jobs per pass (progressive indexing): two workers embed the first pass of every file before
// either starts a second pass. Read back from the job table: every pass-2 job was first claimed
// after the last pass-1 job finished (claim_seq and finish_seq come from one sequence, taken in
// the claiming and the finishing transactions), and the index ends as one SQLite run leaves it.
TEST(Workers, TwoWorkersFinishTheFirstPassOfEveryFileBeforeAnySecondPass) {
  const std::string dir = test::temp_dir() + "/passes";
  for (int i = 0; i < 8; ++i)
    test::ffmpeg(dir + "/music/" + std::to_string(i) + ".flac",
                 "-f lavfi -i \"sine=f=" + std::to_string(300 + 70 * i) + ":d=" + std::to_string(40 + 5 * i) + "\"");
  const std::string music = dir + "/music";
  const std::string url = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index " + q(music) + " --first-pass 2 --db " + q(dir + "/one.db") + " --model " + q(tiny()),
                              &out, &err),
            0)
      << err;
  ASSERT_EQ(test::run_command(cli() + " index --plan --json --first-pass 2 " + q(music) + " --db " + q(url) + " --model " + q(tiny()),
                              &out, &err),
            0)
      << err;
  EXPECT_EQ(json::parse(out)["planned"], 8);
  const pid_t a = spawn(cli() + " worker --until-done --json --poll 0.2 --batch 1 --threads 1 --db " + q(url), dir + "/a.log");
  const pid_t b = spawn(cli() + " worker --until-done --json --poll 0.2 --batch 1 --threads 1 --db " + q(url), dir + "/b.log");
  ASSERT_EQ(wait_exit(a), 0) << read_file(dir + "/a.log");
  ASSERT_EQ(wait_exit(b), 0) << read_file(dir + "/b.log");

  store::pg::Connection c(url);
  const auto scalar = [&](const std::string& sql) { return c.query(sql).int64(0, 0); };
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM jobs WHERE pass = 1 AND state = 'done'"), 8);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM jobs WHERE pass = 2 AND state = 'done'"), 8);  // every file has more than 2 windows
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM jobs WHERE pass > 2 OR state <> 'done'"), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM jobs WHERE claim_seq IS NULL OR finish_seq IS NULL"), 0);
  EXPECT_LT(scalar("SELECT MAX(finish_seq) FROM jobs WHERE pass = 1"), scalar("SELECT MIN(claim_seq) FROM jobs WHERE pass = 2"));
  const std::string la = read_file(dir + "/a.log"), lb = read_file(dir + "/b.log");
  EXPECT_EQ(json::parse(la.substr(la.find("{\""))) ["indexed"].get<int>() + json::parse(lb.substr(lb.find("{\"")))["indexed"].get<int>(), 8)
      << la << lb;
  expect_same_library(dir + "/one.db", url);
}

// A worker killed with kill -9 in the middle of a second-pass job: the track keeps its first
// pass (nothing half stored), the job is taken again after the lease, and the index ends as a
// one-shot SQLite run leaves it.
TEST(Workers, AWorkerKilledInTheSecondPassLosesNothingAndItsJobIsTakenAgain) {
  const std::string dir = test::temp_dir() + "/killed-pass";
  test::ffmpeg(dir + "/music/long.flac", "-f lavfi -i \"sine=f=330:d=900\"");
  const std::string url = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index " + q(dir + "/music") + " --first-pass 0 --db " + q(dir + "/one.db") + " --model " +
                                  q(tiny()),
                              &out, &err),
            0)
      << err;
  ASSERT_EQ(test::run_command(cli() + " index --plan --first-pass 2 " + q(dir + "/music") + " --db " + q(url) + " --model " + q(tiny()),
                              &out, &err),
            0)
      << err;
  const pid_t victim = spawn(cli() + " worker --until-done --lease 5 --batch 1 --threads 1 --db " + q(url), dir + "/victim.log");
  store::pg::Connection c(url);
  const auto scalar = [&](const std::string& sql) { return c.query(sql).int64(0, 0); };
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (scalar("SELECT COUNT(*) FROM jobs WHERE pass = 2 AND state = 'leased'") == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(victim, SIGKILL);
  EXPECT_EQ(wait_exit(victim), 128 + SIGKILL);
  ASSERT_EQ(scalar("SELECT COUNT(*) FROM jobs WHERE pass = 2 AND state = 'leased'"), 1)
      << "the worker finished the second pass before it was killed: make the file longer\n" << read_file(dir + "/victim.log");
  {
    auto s = store::open_store(url, store::OpenMode::ReadOnly);
    const store::Counts counts = s->counts();
    EXPECT_EQ(counts.ok, 1);
    EXPECT_EQ(counts.windows, 2);  // its first pass, whole; nothing of the second
    EXPECT_EQ(counts.window_total, 179);
    EXPECT_TRUE(s->check().empty());
  }
  ASSERT_EQ(test::run_command(cli() + " worker --until-done --json --poll 0.5 --db " + q(url), &out, &err), 0) << err;
  EXPECT_EQ(scalar("SELECT attempts FROM jobs WHERE pass = 2"), 2);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM jobs WHERE state <> 'done'"), 0);
  expect_same_library(dir + "/one.db", url);
}

TEST(Workers, PathMapReadsTheFilesWhereThisMachineMountsThem) {
  const std::string dir = test::temp_dir() + "/pathmap";
  const std::string music = make_library(dir);
  const std::string url = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index --plan " + q(music) + " --db " + q(url) + " --model " + q(tiny()), &out, &err), 0) << err;
  fs::rename(music, dir + "/mounted-elsewhere");  // the planner's folder, as another machine mounts it
  EXPECT_EQ(test::run_command(cli() + " worker --until-done --path-map nowhere --db " + q(url), &out, &err), 2);  // usage
  EXPECT_NE(err.find("expected FROM=TO"), std::string::npos) << err;
  ASSERT_EQ(test::run_command(cli() + " worker --until-done --json --path-map " + q(music + "=" + dir + "/mounted-elsewhere") +
                                  " --db " + q(url),
                              &out, &err),
            0)
      << err;
  EXPECT_EQ(json::parse(out)["indexed"], 6) << err;
  auto s = store::open_store(url, store::OpenMode::ReadOnly);
  for (const store::Track& t : s->tracks()) EXPECT_EQ(t.path.rfind(music + "/", 0), 0u) << t.path;  // the planner's paths
}

TEST(Workers, AWorkerWithAnotherModelRefusesToStart) {
  const std::string dir = test::temp_dir() + "/othermodel";
  const std::string music = make_library(dir);
  const std::string url = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index --plan " + q(music) + " --db " + q(url) + " --model " + q(tiny()), &out, &err), 0) << err;
  EXPECT_EQ(test::run_command(cli() + " worker --until-done --model " + q(test::case_dir("tiny-fused")) + " --db " + q(url), &out, &err), 1);
  EXPECT_NE(err.find("is not the index's"), std::string::npos) << err;
  EXPECT_EQ(jobs_of(url).pending, 8);  // nothing claimed
}

TEST(Workers, ANameThatIsNotUtf8IsSkippedWithAWarningNotTheWholePlan) {
  const std::string dir = test::temp_dir() + "/latin1";
  test::ffmpeg(dir + "/music/good.flac", "-f lavfi -i \"sine=f=330:d=8\"");
  test::ffmpeg(dir + "/music/caf\xe9.flac", "-f lavfi -i \"sine=f=440:d=8\"");  // Latin-1 "café"
  const std::string url = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index --json " + q(dir + "/music") + " --db " + q(url) + " --model " + q(tiny()), &out, &err), 0)
      << err;
  EXPECT_EQ(json::parse(out)["indexed"], 1) << err;
  EXPECT_NE(err.find("not valid UTF-8"), std::string::npos) << err;
  EXPECT_EQ(store::open_store(url, store::OpenMode::ReadOnly)->counts().tracks, 1);
}

// A search of a planned index before any worker ran said "no searchable tracks (none indexed
// successfully)": nothing had failed, the files waited for a worker (hostile pass 22).
TEST(Workers, ASearchBeforeAnyWorkerSaysTheFilesWaitForOne) {
  const std::string dir = test::temp_dir() + "/waiting";
  const std::string music = make_library(dir);
  const std::string url = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index --plan " + q(music) + " --db " + q(url) + " --model " + q(tiny()), &out, &err), 0)
      << err;
  EXPECT_EQ(test::run_command(cli() + " search tone --db " + q(url), &out, &err), 1);
  EXPECT_NE(err.find("no track is searchable yet: 8 file(s) wait for a worker and 0 are being embedded"), std::string::npos) << err;
  EXPECT_NE(err.find("clapsearch worker --db"), std::string::npos) << err;
  EXPECT_EQ(err.find("none indexed successfully"), std::string::npos) << err;
}

TEST(Workers, PlanAndWorkerRefuseASqliteIndexWithoutCreatingIt) {
  const std::string dir = test::temp_dir() + "/sqlite";
  const std::string music = make_library(dir);
  std::string out, err;
  EXPECT_EQ(test::run_command(cli() + " index --plan " + q(music) + " --db " + q(dir + "/lib.db") + " --model " + q(tiny()), &out, &err), 1);
  EXPECT_NE(err.find("needs a PostgreSQL store"), std::string::npos) << err;
  EXPECT_EQ(test::run_command(cli() + " worker --db " + q(dir + "/lib.db"), &out, &err), 1);
  EXPECT_NE(err.find("has no job queue"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir + "/lib.db"));
}

// A PostgreSQL index's run goes through the job queue, and its summary left out the windows
// later passes added: an index resumed after its first pass (Ctrl-C, --passes 1) embedded every
// window it lacked and said "indexed 0, unchanged 6" alone, where SQLite's run says "N windows
// added by passes 2-M" (hostile pass 21, H21C-4).
TEST(Workers, AResumedIndexCountsTheWindowsLaterPassesAddOnBothStores) {
  const std::string dir = test::temp_dir() + "/resumed";
  const std::string music = make_library(dir);
  const std::string url = test::PostgresServer::shared().create_database();
  std::map<std::string, std::string> added;  // "N windows added by passes 2-M", by store
  for (const std::string& db : {dir + "/lib.db", url}) {
    std::string out, err;
    const std::string index = cli() + " index " + q(music) + " --db " + q(db) + " --model " + q(tiny()) + " --first-pass 1";
    test::run_command(index + " --passes 1 -q", &out, &err);  // exit 1: the silent and the broken file
    ASSERT_EQ(test::run_command(index, &out, &err), 0) << err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(err, m, std::regex("indexed 0, unchanged [0-9]+.*, ([0-9]+ windows added by passes 2-[0-9]+) in [0-9.]+ s")))
        << db << "\n" << err;
    added[db] = m[1];
  }
  EXPECT_EQ(added[url], added[dir + "/lib.db"]);
  EXPECT_NE(added[url].rfind("0 windows", 0), 0u) << added[url];
  expect_same_library(dir + "/lib.db", url);
}

// A run that only adds later passes' windows made no audio newly searchable: its summary says what
// it added and its time, not "0.0 s of audio in 7.0 s (0.0x real time)" (a stall, read as such), on
// both stores and in a worker's summary of later-pass jobs; `index --plan`'s the same.
TEST(Workers, ARunThatOnlyDeepensShowsNoZeroThroughput) {
  const std::string dir = test::temp_dir() + "/deepens";
  const std::string music = make_library(dir);
  const std::string url = test::PostgresServer::shared().create_database();
  const std::regex stall("0\\.0 s of audio|0\\.0x real time");
  for (const std::string& db : {dir + "/lib.db", url}) {
    std::string out, err;
    const std::string index = cli() + " index " + q(music) + " --db " + q(db) + " --model " + q(tiny()) + " --first-pass 1";
    test::run_command(index + " --passes 1 -q", &out, &err);  // exit 1: the silent and the broken file
    ASSERT_EQ(test::run_command(index, &out, &err), 0) << err;
    EXPECT_TRUE(std::regex_search(err, std::regex("[0-9]+ windows added by passes 2-[0-9]+ in [0-9.]+ s"))) << db << "\n" << err;
    EXPECT_FALSE(std::regex_search(err, stall)) << db << "\n" << err;
  }
  const std::string planned = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index --plan --first-pass 1 " + q(music) + " --db " + q(planned) + " --model " + q(tiny()),
                              &out, &err),
            0)
      << err;
  EXPECT_TRUE(std::regex_search(err, std::regex("queued for workers 8 in [0-9.]+ s"))) << err;  // --plan embeds nothing
  EXPECT_FALSE(std::regex_search(err, stall)) << err;
  ASSERT_EQ(test::run_command(cli() + " worker --passes 1 --until-done --poll 0.2 -q --db " + q(planned), &out, &err), 0) << err;
  ASSERT_EQ(test::run_command(cli() + " worker --until-done --poll 0.2 --db " + q(planned), &out, &err), 0) << err;
  EXPECT_TRUE(std::regex_search(err, std::regex("indexed 0, errors 0, [0-9]+ windows added by passes 2-[0-9]+ in [0-9.]+ s"))) << err;
  EXPECT_FALSE(std::regex_search(err, stall)) << err;
}

}  // namespace
}  // namespace clap
