// `clapsearch migrate` as a real process: a small library of real encoded files (made with
// ffmpeg; a copy of one, a silent file, a file that is not audio) indexed by the real
// `clapsearch index` with the tiny random-weight golden model, with labels (`classify --store`),
// cached texts (`search`) and a retired track (a file pruned), is migrated to a database of a
// real PostgreSQL server (support/postgres_server.h) and back to a new SQLite file. Every query
// command gives byte-identical output on the round-tripped file and on the original; the
// retired track is restored from the copy without decoding; a non-empty destination is refused
// and left alone; a password in a URL is never printed.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string q(const std::string& s) { return test::quoted(s); }

struct Lib {
  std::string dir, music, db, url, roundtrip;
  double migrate_seconds = 0;
};
Lib* g_lib = nullptr;

int cli(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return test::run_cli(args, out, err, "HF_HOME=" + q(g_lib->dir + "/hf-home"));
}

std::string run_ok(const std::string& args, std::string* err_out = nullptr) {
  std::string out, err;
  EXPECT_EQ(cli(args, &out, &err), 0) << args << "\nstderr: " << err << "\nstdout: " << out;
  if (err_out) *err_out = err;
  return out;
}

constexpr const char* kPassword = "s3cret-pw";

class MigrateCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_lib = new Lib;
    g_lib->dir = test::temp_dir() + "/migrate-cli";
    g_lib->music = g_lib->dir + "/music";
    g_lib->db = g_lib->dir + "/library.db";
    g_lib->roundtrip = g_lib->dir + "/back/roundtrip.db";
    std::filesystem::create_directories(g_lib->dir + "/back");  // --to makes no folders
    const std::string& m = g_lib->music;
    test::ffmpeg(m + "/sine_220.flac",
                 "-f lavfi -i \"sine=f=220:d=12:sample_rate=44100\" -metadata artist=\"Test Tones\" -metadata title=\"Low A\"");
    test::ffmpeg(m + "/sine_1760.mp3", "-f lavfi -i \"sine=f=1760:d=8:sample_rate=48000\" -metadata title=\"High A\"");
    test::ffmpeg(m + "/white.wav", "-f lavfi -i \"anoisesrc=c=white:d=10:a=0.3:r=48000:seed=1\"");
    test::ffmpeg(m + "/pink.ogg", "-f lavfi -i \"anoisesrc=c=pink:d=6:a=0.3:r=48000:seed=2\"");
    test::ffmpeg(m + "/chirp.wav", "-f lavfi -i \"aevalsrc=0.5*sin(2*PI*(100+200*t)*t):d=12:s=48000\"");
    test::ffmpeg(m + "/brown.flac", "-f lavfi -i \"anoisesrc=c=brown:d=12:a=0.5:r=48000:seed=3\"");
    test::ffmpeg(m + "/quiet.wav", "-f lavfi -i anullsrc=r=8000:cl=mono -t 2");
    fs::create_directories(m + "/copies");
    fs::copy_file(m + "/chirp.wav", m + "/copies/chirp copy.wav");
    std::ofstream(m + "/not_audio.mp3") << "this is not audio at all, just text pretending to be an mp3 file";
    std::string out, err;
    ASSERT_EQ(cli("index " + q(m) + " --db " + q(g_lib->db) + " --model " + q(test::case_dir("tiny-unfused")) + " --quiet",
                  &out, &err),
              0)
        << err;
    // Labels, cached texts, a retired track (pruned: its file is gone).
    run_ok("classify --labels noise,tone,sweep --all --top 2 --store --db " + q(g_lib->db));
    run_ok("search \"white noise\" --db " + q(g_lib->db));
    run_ok("search \"a rising sweep\" --db " + q(g_lib->db));
    fs::rename(m + "/brown.flac", g_lib->dir + "/brown.flac");
    const json pruned = json::parse(run_ok("index " + q(m) + " --db " + q(g_lib->db) + " --prune-missing --quiet --json"));
    ASSERT_EQ(pruned["pruned"], 1) << pruned.dump();

    // To a PostgreSQL database (its URL with a password the test server ignores) and back.
    const std::string url = test::PostgresServer::shared().create_database();
    g_lib->url = url.substr(0, url.find('@')) + ":" + kPassword + url.substr(url.find('@'));
    std::string err1, err2;
    const std::string there = run_ok("migrate --from " + q(g_lib->db) + " --to " + q(g_lib->url) + " --json", &err1);
    const json j = json::parse(there);
    g_lib->migrate_seconds = j["seconds"].get<double>();
    EXPECT_EQ(there.find(kPassword), std::string::npos) << there;
    EXPECT_EQ(err1.find(kPassword), std::string::npos) << err1;
    EXPECT_NE(err1.find("migrating: 9/9 tracks"), std::string::npos) << err1;  // progress on stderr
    EXPECT_EQ(j["from"], g_lib->db);
    EXPECT_EQ(j["tracks"], 8);  // 6 files indexed + the silent one + the one that is not audio - the pruned one + the copy
    EXPECT_EQ(j["retired"], 1);
    EXPECT_EQ(j["errors"], 2);
    EXPECT_GE(j["cached_texts"].get<int>(), 2);
    EXPECT_GE(j["labels"].get<int>(), 6);
    EXPECT_EQ(j["roots"], 1);
    EXPECT_EQ(j["verified"], true);
    const std::string back =
        run_ok("migrate -q --from " + q(g_lib->url) + " --to " + q(g_lib->roundtrip), &err2);
    EXPECT_EQ(err2, "");  // -q: no progress
    EXPECT_NE(back.find("migrated " + test::PostgresServer::shared().url(url.substr(url.rfind('/') + 1)) + " -> " +
                        g_lib->roundtrip),
              std::string::npos)
        << back;
    EXPECT_NE(back.find("8 tracks (6 ok, 2 errors)"), std::string::npos) << back;
    EXPECT_NE(back.find("1 retired track"), std::string::npos) << back;
    EXPECT_NE(back.find("verified the copy"), std::string::npos) << back;
    EXPECT_EQ(back.find(kPassword), std::string::npos) << back;
    std::printf("%s(to PostgreSQL: %.3f s)\n", back.c_str(), g_lib->migrate_seconds);
  }
  static void TearDownTestSuite() {
    delete g_lib;
    g_lib = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(g_lib && fs::exists(g_lib->roundtrip)) << "library not migrated"; }
};

// The same command on the original and on the round-tripped copy: byte for byte the same output.
void expect_same_output(const std::string& args) {
  const std::string a = run_ok(args + " --db " + q(g_lib->db));
  const std::string b = run_ok(args + " --db " + q(g_lib->roundtrip));
  EXPECT_FALSE(a.empty()) << args;
  EXPECT_EQ(a, b) << args;
}

TEST_F(MigrateCli, EveryQueryGivesByteIdenticalOutputOnTheRoundTrippedCopy) {
  const std::string& m = g_lib->music;
  for (const std::string& args : {
           std::string("search \"white noise\" --json -k 0"),
           std::string("search -q \"a rising sweep\" -q \"a low hum\" --json --aggregate max"),
           std::string("search \"a rising sweep\" -k 0"),
           std::string("search \"a never cached text\" --json"),
           "similar " + q(m + "/chirp.wav") + " --json -k 0",
           "like --track " + q(m + "/sine_220.flac") + " --json",
           "analyze " + q(m + "/white.wav") + " \"noise\" --json",
           std::string("classify --labels noise,tone,sweep --all --json"),
           std::string("duplicates --json"),
       })
    expect_same_output(args);
  // status: everything but where the index is (its first line), its size and its write counter.
  const std::string ta = run_ok("status --errors --db " + q(g_lib->db)), tb = run_ok("status --errors --db " + q(g_lib->roundtrip));
  EXPECT_EQ(ta.substr(ta.find('\n')), tb.substr(tb.find('\n')));
  EXPECT_NE(ta.find("not_audio.mp3: not a recognised audio"), std::string::npos) << ta;
  // status: everything but where the index is, its size and its write counter.
  json a = json::parse(run_ok("status --json --errors --db " + q(g_lib->db)));
  json b = json::parse(run_ok("status --json --errors --db " + q(g_lib->roundtrip)));
  for (json* j : {&a, &b})
    for (const char* key : {"db", "db_bytes", "generation"}) j->erase(key);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a["tracks"], 8);
  EXPECT_EQ(a["error_count"], 2);
}

TEST_F(MigrateCli, TheRetiredTrackIsRestoredFromTheCopyAsFromTheOriginal) {
  // The pruned file comes back: both indexes restore it (no decoding) under its old id.
  fs::copy_file(g_lib->dir + "/brown.flac", g_lib->music + "/brown.flac", fs::copy_options::overwrite_existing);
  for (const std::string& db : {g_lib->db, g_lib->roundtrip}) {
    const json s = json::parse(run_ok("index " + q(g_lib->music) + " --db " + q(db) + " --quiet --json"));
    EXPECT_EQ(s["restored"], 1) << db << "\n" << s.dump();
    EXPECT_EQ(s["indexed"], 0) << db << "\n" << s.dump();
  }
  expect_same_output("search \"brown noise\" --json -k 0");
  expect_same_output("similar " + q(g_lib->music + "/brown.flac") + " --json");
  fs::remove(g_lib->music + "/brown.flac");
}

TEST_F(MigrateCli, ANonEmptyDestinationIsRefusedAndLeftAlone) {
  const std::string before = run_ok("status --json --db " + q(g_lib->roundtrip));
  std::string out, err;
  EXPECT_EQ(cli("migrate --from " + q(g_lib->db) + " --to " + q(g_lib->roundtrip), &out, &err), 1);
  EXPECT_NE(err.find("clapsearch: error: " + g_lib->roundtrip + ": not empty (it holds an index of "), std::string::npos)
      << err;
  EXPECT_NE(err.find("an empty database or a new file"), std::string::npos) << err;
  EXPECT_EQ(out, "");
  EXPECT_EQ(run_ok("status --json --db " + q(g_lib->roundtrip)), before);
  // The server's database too, named without the password.
  EXPECT_EQ(cli("migrate -q --from " + q(g_lib->db) + " --to " + q(g_lib->url), &out, &err), 1);
  EXPECT_NE(err.find(": not empty (it holds an index of "), std::string::npos) << err;
  EXPECT_EQ(err.find(kPassword), std::string::npos) << err;
  EXPECT_EQ(out.find(kPassword), std::string::npos) << out;
}

// Statements run on a SQLite file (a hand edit); the rows of `query`'s first column as text.
std::string sqlite_do(const std::string& db, const std::string& statements, const std::string& query = "") {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* msg = nullptr;
  EXPECT_EQ(sqlite3_exec(h, statements.c_str(), nullptr, nullptr, &msg), SQLITE_OK) << statements << ": " << (msg ? msg : "");
  sqlite3_free(msg);
  std::string rows;
  if (!query.empty()) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(h, query.c_str(), -1, &st, nullptr), SQLITE_OK) << query;
    while (st && sqlite3_step(st) == SQLITE_ROW) rows += reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) + std::string("\n");
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return rows;
}

// Hostile pass 11, R11C-7: durations hand-set to 1e308 add up to inf in both copies, and inf - inf
// is NaN: a faithful copy was refused as "the copy does not match its source" with equal counts
// shown. Window rows of no track (a hand edit) cannot be copied: the source's damage is named.
TEST_F(MigrateCli, HandSetDurationsAreCopiedAndWindowsOfNoTrackAreNamed) {
  const std::string dir = g_lib->dir + "/hand-edited";
  fs::create_directories(dir);
  int n = 0;
  for (const std::string duration : {"1e308", "-1e308"}) {
    const std::string from = dir + "/dur" + std::to_string(n) + ".db", to = dir + "/dur" + std::to_string(n++) + "-copy.db";
    sqlite_do(g_lib->db, "VACUUM INTO " + q(from));
    sqlite_do(from, "UPDATE tracks SET duration_s = " + duration);
    const std::string said = run_ok("migrate --from " + q(from) + " --to " + q(to));
    EXPECT_NE(said.find("verified the copy"), std::string::npos) << said;
    const std::string durations = "SELECT duration_s FROM tracks ORDER BY id";
    EXPECT_EQ(sqlite_do(to, "", durations), sqlite_do(from, "", durations));
  }
  const std::string from = dir + "/orphans.db", to = dir + "/orphans-copy.db";
  sqlite_do(g_lib->db, "VACUUM INTO " + q(from));
  sqlite_do(from, "PRAGMA foreign_keys = OFF; INSERT INTO windows(track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) "
                  "SELECT 999, idx, start_s, end_s, loudness_dbfs, silent, embedding FROM windows "
                  "WHERE track_id = (SELECT MIN(track_id) FROM windows)");
  const std::string orphans = sqlite_do(from, "", "SELECT COUNT(*) FROM windows WHERE track_id = 999");
  ASSERT_NE(orphans, "0\n");
  std::string out, err;
  EXPECT_EQ(cli("migrate --from " + q(from) + " --to " + q(to), &out, &err), 1);
  EXPECT_NE(err.find(from + ": the index is damaged: it holds " + orphans.substr(0, orphans.size() - 1) +
                     " window row(s) of no track, which a copy cannot carry; nothing was written"),
            std::string::npos) << err;
  EXPECT_FALSE(fs::exists(to));
}

// Hostile pass 14, H14C-6: users' rows whose user is gone (a hand edit with foreign keys off) failed
// the copy on raw SQL, "FOREIGN KEY constraint failed (INSERT INTO stars(...))". Named as the
// source's damage with the way out, before anything is written.
TEST_F(MigrateCli, UsersRowsOfNoUserAreNamed) {
  const std::string dir = g_lib->dir + "/user-orphans";
  fs::create_directories(dir);
  const std::string from = dir + "/orphans.db", to = dir + "/orphans-copy.db";
  sqlite_do(g_lib->db, "VACUUM INTO " + q(from));
  sqlite_do(from, "PRAGMA foreign_keys = OFF; "
                  "INSERT INTO plays(user_id, track_id, played_at) VALUES (42, 1, 1000), (42, 1, 2000); "
                  "INSERT INTO stars(user_id, item_kind, item_id, track_id, starred_at) VALUES (42, 'song', '1', 1, 1000)");
  std::string out, err;
  EXPECT_EQ(cli("migrate --from " + q(from) + " --to " + q(to), &out, &err), 1);
  EXPECT_NE(err.find(from + ": the index is damaged: it holds rows of users' data whose user is gone (2 in plays, 1 in "
                     "stars), which a copy cannot carry; nothing was written (delete them - DELETE FROM plays WHERE user_id "
                     "NOT IN (SELECT id FROM users); DELETE FROM stars WHERE user_id NOT IN (SELECT id FROM users) - or "
                     "restore a backup, then migrate)"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find("INSERT"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(to));
}

// Issue 53: rows of an inactive embedding set whose track is gone (set_windows, set_tracks; a hand
// edit with foreign keys off) were left out of the copy without a word. They still cannot be
// carried (a set's rows travel with their track): the copy is made and says how many it left out,
// from a SQLite file and from a PostgreSQL database.
TEST_F(MigrateCli, SetRowsOfNoTrackAreLeftOutWithAWarning) {
  const std::string dir = g_lib->dir + "/set-orphans";
  fs::create_directories(dir);
  const std::string from = dir + "/orphans.db";
  sqlite_do(g_lib->db, "VACUUM INTO " + q(from));
  const auto orphans = [](const std::string& blob) {
    return "INSERT INTO set_windows(set_id, track_id, idx, embedding) VALUES (1, 999, 0, " + blob + "), (1, 999, 1, " + blob +
           "); INSERT INTO set_tracks(set_id, track_id, embedding) VALUES (1, 999, " + blob + ")";
  };
  sqlite_do(from, "PRAGMA foreign_keys = OFF; " + orphans("x'00'"));
  // The suite's index as it is now (an earlier test of the suite may have added a track to it).
  const long long tracks = std::stoll(sqlite_do(g_lib->db, "", "SELECT COUNT(*) FROM tracks"));
  const std::string url = test::PostgresServer::shared().create_database();
  std::string err;
  run_ok("migrate -q --from " + q(g_lib->db) + " --to " + q(url));
  std::string out;
  ASSERT_EQ(test::run_command(q(test::PostgresServer::shared().bin_dir() + "/psql") + " -q -d " + q(url) + " -c " +
                                  q("SET session_replication_role = replica; " + orphans("'\\x00'")),
                              &out, &err),
            0) << err;
  for (const std::string& source : {from, url}) {
    const std::string to = dir + "/copy-" + std::to_string(source == url) + ".db";
    const json j = json::parse(run_ok("migrate -q --json --from " + q(source) + " --to " + q(to), &err));
    EXPECT_NE(err.find("warning: " + (source == url ? test::PostgresServer::shared().url(url.substr(url.rfind('/') + 1)) : source) +
                       " holds 2 window rows and 1 track row of inactive embedding sets whose track is gone"),
              std::string::npos) << err;
    EXPECT_EQ(j.value("set_windows_of_no_track", -1), 2) << j.dump();
    EXPECT_EQ(j.value("set_tracks_of_no_track", -1), 1) << j.dump();
    EXPECT_EQ(j["tracks"], tracks);
    EXPECT_EQ(sqlite_do(to, "", "SELECT COUNT(*) FROM set_windows WHERE track_id = 999"), "0\n");
  }
  run_ok("migrate -q --from " + q(g_lib->db) + " --to " + q(dir + "/clean.db"), &err);
  EXPECT_EQ(err.find("warning"), std::string::npos) << err;  // an index without such rows: no word
}

TEST_F(MigrateCli, UsageAndUnreachableServers) {
  std::string out, err;
  EXPECT_EQ(cli("migrate --from " + q(g_lib->db), &out, &err), 2);  // --to is required
  EXPECT_NE(err.find("--to"), std::string::npos) << err;
  EXPECT_EQ(cli("migrate --help", &out, &err), 0);
  EXPECT_NE(out.find("bit for bit"), std::string::npos) << out;
  const std::string unreachable = std::string("postgresql://clap:") + kPassword + "@127.0.0.1:1/library";
  EXPECT_EQ(cli("migrate --from " + q(g_lib->db) + " --to " + q(unreachable), &out, &err), 1);
  EXPECT_NE(err.find("cannot connect"), std::string::npos) << err;
  EXPECT_EQ(err.find(kPassword), std::string::npos) << err;
  EXPECT_EQ(cli("migrate --from " + q(unreachable) + " --to " + q(g_lib->dir + "/never.db"), &out, &err), 1);
  EXPECT_EQ(err.find(kPassword), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(g_lib->dir + "/never.db"));
  EXPECT_EQ(cli("migrate --from " + q(g_lib->db) + " --to " + q(g_lib->db), &out, &err), 1);
  EXPECT_NE(err.find("the same index"), std::string::npos) << err;
  // H8C-2: an empty --to (`--to "$DEST"`, DEST unset) copied the index into the default library
  // ($CLAPSEARCH_DB, else $XDG_DATA_HOME/clapsearch/library.db), a place nobody named.
  const std::string fallback = g_lib->dir + "/fallback.db";
  EXPECT_EQ(test::run_cli("migrate -q --from " + q(g_lib->db) + " --to ''", &out, &err,
                          "CLAPSEARCH_DB=" + q(fallback) + " XDG_DATA_HOME=" + q(g_lib->dir + "/xdg")),
            2);
  EXPECT_NE(err.find("--to is empty"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(fallback));
  EXPECT_FALSE(fs::exists(g_lib->dir + "/xdg"));
}

}  // namespace
}  // namespace clap
