// Issue 16: every query command gives byte-identical output on both stores for the same library.
//
// One library of real encoded files (made with ffmpeg: songs of different lengths in two
// folders, tags, an MP3 re-encode of a FLAC, a mix holding a passage of a song, a silent file, a
// corrupt file, durations that are not whole seconds, names whose byte order differs from a
// locale's order) is indexed by the real `clapsearch index` with the tiny random-weight golden
// model into a SQLite file and into a database of a real PostgreSQL server
// (support/postgres_server.h), with the same history on both: a first run, then a changed and a
// deleted file, then an added and another changed file. The PostgreSQL database is set up as a
// server may be: a collation that is not byte order, floats sent as text with 15 digits.
//
// Then the two stores must hold the same rows (read through the Store interface: ids, floats to
// the last bit, embeddings), every query command runs with the same arguments on both and its
// standard output (and the files it writes: map pictures, M3U playlists) must be byte-identical,
// and so must the bodies of `clapsearch serve` on both.
//
// The ONLY normalisation: the fields that name or describe the database itself - its location
// (`db`: the file path or the URL), its size (`db_bytes`, the "index" line of `status`), its
// schema version (each store numbers its own migrations) and, in `status --json`, the job queue
// only a PostgreSQL store has (`jobs`).
// Every other byte is compared as printed.
//
// Also: the index runs report the same counts, a run without changes indexes nothing, an index
// run while another process holds the indexer lock is refused, and the window vector index of a
// PostgreSQL store is cached in $XDG_CACHE_HOME/clapsearch/window-index/ and reused.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "core/sha256.h"
#include "store/postgres.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

extern char** environ;

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string q(const std::string& s) { return test::quoted(s); }

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Lib {
  std::string dir, music, cache, sqlite, pg;
  std::string song_a, chirp, senor, mix, clip;  // absolute paths
  std::vector<json> runs;  // the index runs' --json summaries, SQLite then PostgreSQL, per step of the history
  bool ready = false;
};
Lib* g_lib = nullptr;

// Every clapsearch run of this file gets the library's model cache and its own $XDG_CACHE_HOME
// (where a PostgreSQL store's window index lives).
int cli_raw(const std::string& args, std::string* out, std::string* err, const std::string& cache = "") {
  return test::run_cli(args, out, err,
                       "HF_HOME=" + q(g_lib->dir + "/hf-home") + " XDG_CACHE_HOME=" + q(cache.empty() ? g_lib->cache : cache));
}

// Runs `clapsearch ARGS --db DB`, which must succeed; returns its stdout.
std::string run_on(const std::string& db, const std::string& args) {
  std::string out, err;
  const int rc = cli_raw(args + " --db " + q(db), &out, &err);
  EXPECT_EQ(rc, 0) << args << " --db " << db << "\nstderr: " << err << "\nstdout: " << out;
  return out;
}

// The fields that name or measure the database itself, and nothing else (see the header).
std::string normalised(std::string s) {
  s = std::regex_replace(s, std::regex(R"re("db":(\s*)"[^"]*")re"), "\"db\":$1\"<db>\"");
  s = std::regex_replace(s, std::regex(R"re("db_bytes":(\s*)[0-9]+)re"), "\"db_bytes\":$1null");
  s = std::regex_replace(s, std::regex(R"re("schema_version":(\s*)[0-9]+)re"), "\"schema_version\":$1null");
  s = std::regex_replace(s, std::regex(R"re(\n\s*"jobs": \{[^}]*\},)re"), "");
  // status (text): "index     LOCATION (SIZE, schema N)"
  s = std::regex_replace(s, std::regex(R"re((^|\n)index     .* \([0-9.]+ [kMG]B, schema [0-9]+\)\n)re"),
                         "$1index     <db> (<size>, schema <n>)\n");
  return s;
}

// Runs ARGS on both stores and expects the same stdout; returns it (from SQLite).
std::string same_on_both(const std::string& args, bool normalise = false) {
  std::string a = run_on(g_lib->sqlite, args), b = run_on(g_lib->pg, args);
  if (normalise) a = normalised(a), b = normalised(b);
  EXPECT_FALSE(a.empty()) << args;
  EXPECT_EQ(a, b) << "`clapsearch " << args << "` differs between SQLite (first) and PostgreSQL (second)";
  return a;
}

// Runs ARGS (which writes FILE) on both stores, FILE at the same place each time (so that
// messages naming it and relative paths inside it are the same), and expects the same stdout
// and the same file.
std::string same_file_on_both(const std::string& args, const std::string& file, bool normalise = false) {
  std::string out[2], content[2];
  const std::string dbs[2] = {g_lib->sqlite, g_lib->pg};
  for (int i = 0; i < 2; ++i) {
    fs::remove(file);
    out[i] = run_on(dbs[i], args);
    if (normalise) out[i] = normalised(out[i]);
    EXPECT_TRUE(fs::exists(file)) << args << " on " << dbs[i] << " wrote no " << file;
    content[i] = slurp(file);
  }
  EXPECT_EQ(out[0], out[1]) << "`clapsearch " << args << "` differs between SQLite (first) and PostgreSQL (second)";
  EXPECT_FALSE(content[0].empty()) << file;
  EXPECT_TRUE(content[0] == content[1]) << file << " written by `clapsearch " << args
                                        << "` differs between SQLite and PostgreSQL";
  return content[0];
}

// The counts of an index run's --json summary (its timings are the run's own).
json counts_of(const json& summary) {
  json c;
  for (const char* key : {"found", "indexed", "unchanged", "moved", "pruned", "restored", "held", "errors", "silent",
                          "windows", "silent_windows", "embedded_windows", "audio_seconds", "failed", "warnings"})
    c[key] = summary.at(key);
  return c;
}

std::string bits(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// One track as a line of text: every field a store keeps but indexed_at (the clock time of the
// run that wrote it), floats to the last bit.
std::string row_text(const store::Track& t) {
  return std::to_string(t.id) + "|" + t.path + "|" + std::to_string(t.size) + "|" + std::to_string(t.mtime_ns) + "|" +
         std::to_string(t.ctime_ns) + "|" + t.content_hash + "|" + bits(t.duration_s) + "|" + t.title + "|" + t.artist +
         "|" + t.album + "|" + t.genre + "|" + t.date + "|" + std::to_string(t.track_no) + "|" +
         (t.status == store::TrackStatus::Ok ? "ok" : "error") + "|" + t.error + "|" + (t.silent ? "silent" : "") + "|" +
         std::to_string(t.window_count);
}

std::string row_text(const store::WindowRecord& w) {
  std::string e;
  for (float x : w.embedding) e += bits(x) + ",";
  return std::to_string(w.id) + "|" + std::to_string(w.track_id) + "|" + std::to_string(w.idx) + "|" + bits(w.start_s) +
         "|" + bits(w.end_s) + "|" + bits(w.loudness_dbfs) + "|" + (w.silent ? "silent" : "") + "|" + e;
}

// The two stores hold the same rows, read through the Store interface: tracks, their windows
// with ids and embeddings, labels, roots, the model.
void expect_same_rows() {
  const auto a = store::open_store(g_lib->sqlite, store::OpenMode::ReadOnly);
  const auto b = store::open_store(g_lib->pg, store::OpenMode::ReadOnly);
  const auto ta = a->tracks(), tb = b->tracks();
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    EXPECT_EQ(row_text(ta[i]), row_text(tb[i])) << "track " << i << " differs between SQLite (first) and PostgreSQL";
    const auto wa = a->windows(ta[i].id), wb = b->windows(tb[i].id);
    ASSERT_EQ(wa.size(), wb.size()) << ta[i].path;
    for (size_t k = 0; k < wa.size(); ++k)
      EXPECT_TRUE(row_text(wa[k]) == row_text(wb[k]))
          << ta[i].path << ": window " << k << " differs between SQLite and PostgreSQL (ids " << wa[k].id << ", " << wb[k].id
          << ")";
  }
  std::string la, lb;
  for (const auto& l : a->all_labels()) la += std::to_string(l.track_id) + " " + l.label + " " + bits(l.score) + "\n";
  for (const auto& l : b->all_labels()) lb += std::to_string(l.track_id) + " " + l.label + " " + bits(l.score) + "\n";
  EXPECT_EQ(la, lb);
  EXPECT_EQ(a->roots(), b->roots());
  EXPECT_EQ(a->model()->describe(), b->model()->describe());
  EXPECT_EQ(a->model()->mismatch(*b->model()), "");
}

// The id of an indexed track with an embedding (`matrix` lists them: a command that writes nothing,
// unlike a search, whose text goes to the text cache of the one store it runs on).
int64_t id_of(const std::string& path) {
  const json matrix = json::parse(run_on(g_lib->sqlite, "matrix --json"));
  for (const json& t : matrix["tracks"])
    if (t["path"] == path) return t["track_id"].get<int64_t>();
  ADD_FAILURE() << "no track " << path;
  return 0;
}

class StoresCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_lib = new Lib;
    Lib& l = *g_lib;
    l.dir = test::temp_dir() + "/stores-cli";
    l.music = l.dir + "/music";
    l.cache = l.dir + "/cache";
    l.sqlite = l.dir + "/library.db";
    const std::string& m = l.music;
    // A 30 s "song": five 6 s sections of an FM melody in different registers.
    std::string song = "0";
    for (int s = 0; s < 5; ++s) {
      const std::string f = "(110*pow(2,(" + std::to_string(s * 4) + "+mod(floor(t*4)*7,12))/12))";
      song += "+between(t," + std::to_string(s * 6) + "," + std::to_string(s * 6 + 6) + ")*0.5*sin(2*PI*" + f +
              "*t+2*sin(2*PI*" + f + "*3*t))";
    }
    // "Album/Song A.flac" sorts before "Album/b_noise.ogg" in byte order, after it in a locale's.
    l.song_a = test::ffmpeg(m + "/Album/Song A.flac", "-f lavfi -i \"aevalsrc='" + song + "':s=44100:d=30\" -ac 2 " +
                                                          "-metadata title=\"Song A\" -metadata artist=\"The Testers\" " +
                                                          "-metadata album=\"Tests\" -metadata genre=Electronic");
    test::ffmpeg(m + "/Album/Song A.mp3", "-i " + q(l.song_a) + " -b:a 128k");  // tags copied
    test::ffmpeg(m + "/Album/b_noise.ogg",
                 "-f lavfi -i \"anoisesrc=c=pink:d=16:a=0.3:r=48000:seed=2\" -metadata title=Rain -metadata genre=Noise");
    l.chirp = test::ffmpeg(m + "/other/Chirp.wav", "-f lavfi -i \"aevalsrc=0.5*sin(2*PI*(100+200*t)*t):d=12:s=48000\" "
                                                   "-metadata title=Up -metadata genre=Sweep");
    test::ffmpeg(m + "/other/a_short.wav", "-f lavfi -i \"aevalsrc=0.3*sgn(sin(2*PI*330*t)):d=3:s=32000\"");
    l.senor = test::ffmpeg(m + "/other/Se\u00f1or tone.flac",
                           "-f lavfi -i \"sine=f=220:d=8:sample_rate=44100\" -metadata title=\"Low A\" -metadata "
                           "artist=\"Test Tones\" -metadata genre=Tone");
    test::ffmpeg(m + "/other/silence.wav", "-f lavfi -i \"anullsrc=r=44100:cl=mono\" -t 10");
    // A mix: 10 s of brown noise, then Song A from 5 s to its end (for `overlaps`).
    l.mix = test::ffmpeg(m + "/other/mix.flac",
                         "-f lavfi -i anoisesrc=c=brown:d=10:a=0.3:r=44100:seed=5 -ss 5 -i " + q(l.song_a) +
                             " -filter_complex \"[0]aformat=channel_layouts=stereo[n];[n][1]concat=n=2:v=0:a=1\"");
    std::ofstream(m + "/other/corrupt.mp3") << std::string(4096, '\x55') << "this is not an mp3";
    // Durations that need 17 significant digits (sample counts that are not whole seconds), and
    // whose sum with the others depends on the order of the additions.
    const std::string odd =
        test::ffmpeg(m + "/Album/odd.flac", "-f lavfi -i \"sine=f=330:sample_rate=44100\" -af atrim=end_sample=342001");
    const std::string gone =
        test::ffmpeg(m + "/other/gone.wav", "-f lavfi -i \"anoisesrc=c=white:d=5.4321:a=0.2:r=44100:seed=9\"");
    // A query clip from outside the library: 8 s of Song A from 7 s.
    l.clip = test::ffmpeg(l.dir + "/clip.wav", "-ss 7 -t 8 -i " + q(l.song_a));
    l.song_a = fs::path(l.song_a).lexically_normal().string();

    // The PostgreSQL database as a server may well be configured: a collation that is not byte
    // order (ICU en-US: "b" before "S"), and floats sent as text with 15 significant digits
    // (extra_float_digits = 0, the default before PostgreSQL 12). (ICU_LOCALE: PostgreSQL 15 and
    // later, Debian 12's.)
    test::PostgresServer& server = test::PostgresServer::shared();
    const std::string name = "stores_cli_" + std::to_string(::getpid());
    {
      store::pg::Connection admin(server.url("postgres"));
      admin.exec("CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'");
      admin.exec("ALTER DATABASE " + name + " SET extra_float_digits = 0");
    }
    l.pg = server.url(name);

    // The same history on both: a first index run; then a file changes (the one whose windows
    // were written last: SQLite gives its new windows the ids it frees) and one is deleted, a
    // second run; then a file is added and another changes (a row that PostgreSQL now keeps
    // after the others on disk), a third run.
    std::string out, err;
    const auto index_both = [&](std::vector<json>& runs) {
      for (const std::string& db : {l.sqlite, l.pg}) {
        // --first-pass 0: PostgreSQL indexes through its job queue, which embeds whole tracks
        // (no passes yet), and rows written pass by pass get other ids than rows written whole.
        ASSERT_EQ(cli_raw("index " + q(m) + " --db " + q(db) + " --model " + q(test::case_dir("tiny-unfused")) +
                              " --first-pass 0 --quiet --json",
                          &out, &err),
                  0)
            << db << "\n" << err;
        runs.push_back(json::parse(out));
      }
    };
    index_both(l.runs);
    if (HasFatalFailure()) return;
    std::string last_written;
    {
      const auto s = store::open_store(l.sqlite, store::OpenMode::ReadOnly);
      int64_t last = 0;
      for (const auto& t : s->tracks())
        for (const auto& w : s->windows(t.id))
          if (w.id > last) last = w.id, last_written = t.path;
    }
    ASSERT_FALSE(last_written.empty());
    fs::last_write_time(last_written, fs::last_write_time(last_written) + std::chrono::seconds(10));
    fs::remove(gone);
    index_both(l.runs);
    if (HasFatalFailure()) return;
    test::ffmpeg(m + "/other/late.flac", "-f lavfi -i \"sine=f=550:d=3.14159:sample_rate=22050\"");
    fs::last_write_time(odd, fs::last_write_time(odd) + std::chrono::seconds(10));
    index_both(l.runs);
    if (HasFatalFailure()) return;
    l.ready = true;
  }
  static void TearDownTestSuite() {
    delete g_lib;
    g_lib = nullptr;
  }
  // A suite whose setup failed fails every test (never a silent skip).
  void SetUp() override {
    ASSERT_TRUE(g_lib && g_lib->ready && fs::exists(g_lib->sqlite)) << "the libraries were not built (see the setup failure)";
  }
};

// --- indexing ---------------------------------------------------------------------------------

void IndexRunsAgreeAndAreIncrementalAndLocked() {
  const Lib& l = *g_lib;
  ASSERT_EQ(l.runs.size(), 6u);
  for (size_t run = 0; run < 3; ++run)
    EXPECT_EQ(counts_of(l.runs[2 * run]).dump(1), counts_of(l.runs[2 * run + 1]).dump(1))
        << "index run " << run + 1 << " reports different counts on SQLite (first) and PostgreSQL (second)";
  const json& first = l.runs[1];
  EXPECT_EQ(first["found"], 11) << first.dump(1);
  EXPECT_EQ(first["indexed"], 9) << first.dump(1);
  EXPECT_EQ(first["errors"], 2) << first.dump(1);  // silence.wav, corrupt.mp3
  EXPECT_EQ(first["silent"], 1) << first.dump(1);
  const json& second = l.runs[3];
  EXPECT_EQ(second["found"], 10) << second.dump(1);
  EXPECT_EQ(second["pruned"], 1) << second.dump(1);  // gone.wav
  EXPECT_EQ(second["unchanged"], 9) << second.dump(1);
  EXPECT_EQ(second["indexed"].get<int>() + second["errors"].get<int>(), 1) << second.dump(1);  // the changed file
  const json& third = l.runs[5];
  EXPECT_EQ(third["found"], 11) << third.dump(1);
  EXPECT_EQ(third["indexed"], 2) << third.dump(1);  // late.flac, odd.flac
  EXPECT_EQ(third["unchanged"], 9) << third.dump(1);

  expect_same_rows();

  // A run without changes (on both, so that both stores see the same writes) changes nothing.
  std::string out, err;
  for (const std::string& db : {l.sqlite, l.pg}) {
    ASSERT_EQ(cli_raw("index " + q(l.music) + " --db " + q(db) + " --first-pass 0 --quiet --json", &out, &err), 0)
        << db << "\n" << err;
    const json again = json::parse(out);
    EXPECT_EQ(again["indexed"], 0) << db << "\n" << out;
    EXPECT_EQ(again["unchanged"], 11) << db << "\n" << out;
    ASSERT_EQ(cli_raw("index " + q(l.music) + " --db " + q(db), &out, &err), 0) << db << "\n" << err;
    EXPECT_NE(err.find("indexed 0, unchanged 11,"), std::string::npos) << db << "\n" << err;
  }

  // Another process holds the indexer lock (this one, through the Store): a run is refused, and
  // writes nothing.
  for (const std::string& db : {l.sqlite, l.pg}) {
    const std::unique_ptr<store::Store> s = store::open_store(db, store::OpenMode::ReadWrite);
    const int64_t generation = s->generation();
    {
      const auto lock = s->lock_indexer();
      EXPECT_EQ(cli_raw("index " + q(l.music) + " --db " + q(db) + " --quiet", &out, &err), 1) << db << "\n" << err;
      EXPECT_NE(err.find("another `clapsearch index` is updating this library"), std::string::npos) << db << "\n" << err;
    }
    EXPECT_EQ(s->generation(), generation) << db;
  }
  // The lock went with its holder.
  ASSERT_EQ(cli_raw("index " + q(l.music) + " --db " + q(l.pg) + " --quiet --json", &out, &err), 0) << err;
  ASSERT_EQ(cli_raw("index " + q(l.music) + " --db " + q(l.sqlite) + " --quiet --json", &out, &err), 0) << err;
  same_on_both("status --json", true);
}

// --- every query command ----------------------------------------------------------------------

TEST_F(StoresCli, QueryCommandsPrintTheSameOnBothStores) {
  const Lib& l = *g_lib;
  // status: JSON and text, errors listed.
  const json status = json::parse(same_on_both("status --json", true));
  EXPECT_EQ(status["tracks"], 11);
  EXPECT_EQ(status["error_count"], 2);
  same_on_both("status", true);
  same_on_both("status --errors", true);

  // search: one query, several, max aggregation, thresholds, table, compare, CSV, collapsed.
  const json all = json::parse(same_on_both("search \"warm electronic melody\" -k 0 --json"));
  EXPECT_EQ(all.size(), 9u);
  same_on_both("search -q \"rain on a window\" -q \"a rising sweep\" -q \"a low tone\" -k 3 --json");
  same_on_both("search \"a rising sweep\" --aggregate max -k 0 --json");
  same_on_both("search \"a rising sweep\" --high 0.001 --moderate -0.001 -k 0 --json");
  same_on_both("search \"a rising sweep\" -k 0");
  same_on_both("search -q \"female vocalist\" -q \"female voice\" --compare -k 5");
  same_on_both("search \"bright tone\" -k 0 --csv -");
  const json collapsed = json::parse(same_on_both("search \"warm electronic melody\" -k 0 --json --collapse-duplicates"));
  EXPECT_LT(collapsed.size(), all.size()) << "the MP3 copy of Song A was not collapsed";

  // like: a file outside the library, an indexed file, a track by id and by path.
  same_on_both("like " + q(l.clip) + " -k 0 --json");
  same_on_both("like " + q(l.clip) + " -k 0");
  same_on_both("like " + q(l.chirp) + " -k 0 --json");
  const std::string song_id = std::to_string(id_of(l.song_a));
  same_on_both("like --track " + song_id + " -k 0 --json");
  same_on_both("like --track " + q(l.mix) + " -k 0 --json --exclude-self");
  same_on_both("like --track " + q(l.song_a) + " -k 0 --json --collapse-duplicates");

  // similar, matrix.
  same_on_both("similar " + q(l.song_a) + " -k 0 --json");
  same_on_both("similar " + song_id + " -k 0");
  same_on_both("similar " + q(l.senor) + " -k 0 --json --collapse-duplicates");
  same_on_both("matrix --json");
  same_on_both("matrix --csv -");
  same_on_both("matrix");

  // analyze: every track x every query (CSV, JSON), one song window by window.
  const std::string queries = l.dir + "/queries.txt";
  std::ofstream(queries) << "warm electronic melody\nrain\na rising sweep\n";
  same_on_both("analyze --queries " + q(queries) + " --csv -");
  same_on_both("analyze --queries " + q(queries) + " --json");
  same_on_both("analyze " + q(l.mix) + " \"a rising sweep\" --json");
  same_on_both("analyze " + q(l.mix) + " \"a rising sweep\"");

  // classify without storing, then with --store (the same labels on both), then what shows them.
  same_on_both("classify --labels tone,noise,sweep,melody --all --top 2 --json");
  same_on_both("classify --labels tone,noise,sweep,melody " + q(l.chirp) + " " + q(l.clip) + " --top 2");
  same_on_both("classify --labels tone,noise,sweep,melody --all --top 2 --store --json");
  expect_same_rows();
  same_on_both("search \"warm electronic melody\" -k 0 --json");
  same_on_both("search \"warm electronic melody\" -k 0");
  same_on_both("similar " + q(l.chirp) + " -k 0");
  same_on_both("status --json", true);

  // eval, from CSVs with paths relative to their folder.
  const std::string eval = l.dir + "/eval";
  fs::create_directories(eval);
  std::ofstream(eval + "/labels.csv") << "path,label\n../music/Album/Song A.flac,melody\n../music/Album/b_noise.ogg,noise\n"
                                         "../music/other/Chirp.wav,sweep\n\"../music/other/Se\u00f1or tone.flac\",tone\n"
                                         "../music/other/a_short.wav,tone\n";
  std::ofstream(eval + "/captions.csv") << "path,caption\n../music/Album/Song A.flac,a warm electronic melody\n"
                                           "../music/Album/b_noise.ogg,rain\n../music/other/Chirp.wav,a rising sweep\n"
                                           "../music/other/Chirp.wav,\"a chirp, going up\"\n";
  same_on_both("eval zero-shot --labels-csv " + q(eval + "/labels.csv") + " --json");
  same_on_both("eval zero-shot --labels-csv " + q(eval + "/labels.csv"));
  same_on_both("eval retrieval --captions-csv " + q(eval + "/captions.csv") + " --json");
  same_on_both("eval retrieval --captions-csv " + q(eval + "/captions.csv"));

  // map: the picture and the figures (by genre, and by the labels just stored).
  const std::string svg = same_file_on_both("map --out " + q(l.dir + "/map.svg") + " --json", l.dir + "/map.svg", true);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  same_file_on_both("map --out " + q(l.dir + "/map.png") + " --color-by label", l.dir + "/map.png");

  // duplicates, overlaps.
  const json dups = json::parse(same_on_both("duplicates --json"));
  EXPECT_GE(dups.size(), 1u) << "the MP3 copy of Song A is not found";
  same_on_both("duplicates --csv -");
  same_on_both("duplicates");
  const json overlaps = json::parse(same_on_both("overlaps --json"));
  EXPECT_GE(overlaps.size(), 1u) << "the mix holds 25 s of Song A";
  same_on_both("overlaps");
  same_on_both("overlaps " + q(l.mix) + " --json");

  // playlist and path: the table, the JSON and the M3U files.
  const std::string m3u = l.dir + "/Playlists/radio.m3u8";  // paths relative to it: ../music/...
  fs::create_directories(fs::path(m3u).parent_path());
  same_file_on_both("playlist --seed " + q(l.senor) + " --text \"warm electronic melody\" -n 5 --m3u " + q(m3u), m3u);
  same_on_both("playlist --seed " + q(l.chirp) + " --seed " + song_id + " -n 6 --json --diversity 0.5");
  same_file_on_both("path " + q(l.senor) + " " + q(l.mix) + " -n 5 --json --m3u " + q(m3u) + " --absolute", m3u);
  same_on_both("path " + q(l.chirp) + " " + song_id + " -n 4");
}

// --- clapsearch serve -------------------------------------------------------------------------

// `clapsearch serve --db DB --port 0` as a child process, stopped with SIGTERM.
class Serve {
 public:
  explicit Serve(const std::string& db, const std::vector<std::string>& extra = {}) {
    static int n = 0;
    out_ = g_lib->dir + "/serve" + std::to_string(n) + ".out";
    err_ = g_lib->dir + "/serve" + std::to_string(n++) + ".err";
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) {
      const std::string v = *e;
      if (v.rfind("HF_HOME=", 0) && v.rfind("HF_HUB_OFFLINE=", 0) && v.rfind("XDG_CACHE_HOME=", 0)) env_s.push_back(v);
    }
    env_s.push_back("HF_HOME=" + g_lib->dir + "/hf-home");
    env_s.push_back("HF_HUB_OFFLINE=1");
    env_s.push_back("XDG_CACHE_HOME=" + g_lib->cache);
    std::vector<std::string> args_s = {test::cli_path(), "serve", "--db", db, "--port", "0", "--quiet"};
    args_s.insert(args_s.end(), extra.begin(), extra.end());
    std::vector<char*> argv, envp;
    for (auto& a : args_s) argv.push_back(a.data());
    for (auto& e : env_s) envp.push_back(e.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
    const std::string marker = "listening on http://127.0.0.1:";
    for (int i = 0; i < 600 && port_ == 0; ++i) {  // up to 30 s (a loaded machine)
      const std::string out = slurp(out_);
      if (const size_t at = out.find(marker); at != std::string::npos) {
        port_ = std::atoi(out.c_str() + at + marker.size());
      } else if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("clapsearch serve --db " + db + " ended: " + slurp(err_));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    if (port_ == 0) {
      stop();  // (no destructor runs for a constructor that throws)
      throw std::runtime_error("clapsearch serve --db " + db + " does not listen: " + slurp(err_));
    }
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(60, 0);
  }
  ~Serve() { stop(); }
  // What ps shows: the process's arguments, NULs as spaces.
  std::string command_line() const {
    std::string s = slurp("/proc/" + std::to_string(pid_) + "/cmdline");
    std::replace(s.begin(), s.end(), '\0', ' ');
    return s;
  }
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }
  // The body of GET PATH, which must answer 200.
  std::string get(const std::string& path) {
    auto r = client_->Get(path.c_str());
    if (!r) {
      ADD_FAILURE() << "no response to " << path;
      return "";
    }
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return r->body;
  }
  std::string post_file(const std::string& path, const std::string& file) {
    httplib::MultipartFormDataItems items = {{"file", slurp(file), fs::path(file).filename().string(), "audio/wav"}};
    auto r = client_->Post(path.c_str(), items);
    if (!r) {
      ADD_FAILURE() << "no response to POST " << path;
      return "";
    }
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return r->body;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string out_, err_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(StoresCli, SecretsOnTheCommandLineDoNotShowInPs) {
  // A password in the PostgreSQL URL and --token are overwritten in the process's arguments
  // once parsed: other users of the machine see them in ps.
  std::string url = g_lib->pg;
  const size_t at = url.find('@');
  ASSERT_NE(at, std::string::npos) << url;
  url.insert(at, ":pg-password-in-url");  // the test server trusts loopback: the password is not checked
  Serve s(url, {"--token", "token-on-the-command-line"});
  const std::string shown = s.command_line();
  EXPECT_NE(shown.find("serve --db postgresql://"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("pg-password-in-url"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("token-on-the-command-line"), std::string::npos) << shown;
  EXPECT_NE(shown.find("--token xxxx"), std::string::npos) << shown;
}

TEST_F(StoresCli, ServerAnswersTheSameOnBothStores) {
  const Lib& l = *g_lib;
  // Labels stored on both (the same command as in the query test: a repeat changes nothing).
  same_on_both("classify --labels tone,noise,sweep,melody --all --top 2 --store --json");
  Serve sqlite(l.sqlite), pg(l.pg);
  const auto same = [&](const std::string& path, bool normalise = false) {
    std::string a = sqlite.get(path), b = pg.get(path);
    if (normalise) a = normalised(a), b = normalised(b);
    EXPECT_FALSE(a.empty()) << path;
    EXPECT_EQ(a, b) << "GET " << path << " differs between SQLite (first) and PostgreSQL (second)";
    return a;
  };
  const json status = json::parse(same("/api/status", true));
  EXPECT_EQ(status["tracks"], 11);
  same("/api/search?q=warm%20electronic%20melody&k=20");
  same("/api/search?q=rain&q=a%20rising%20sweep&k=3&aggregate=max&high=0.001&moderate=-0.001");
  const json tracks = json::parse(same("/api/tracks?limit=1000"));
  ASSERT_EQ(tracks["tracks"].size(), 11u) << tracks.dump(1);
  same("/api/tracks?folder=other");
  same("/api/tracks?status=error");
  same("/api/tracks?tag=Electronic");
  same("/api/tracks?text=song&offset=1&limit=2");
  std::string label;
  for (const json& t : tracks["tracks"])
    if (label.empty() && !t["labels"].empty()) label = t["labels"][0]["label"];
  ASSERT_FALSE(label.empty()) << "no stored label";
  const json labelled = json::parse(same("/api/tracks?label=" + label));
  EXPECT_GE(labelled["tracks"].size(), 1u) << labelled.dump(1);
  for (const json& t : tracks["tracks"]) {
    const std::string id = std::to_string(t["track_id"].get<int64_t>());
    same("/api/tracks/" + id);
    if (t["status"] == "ok") {
      same("/api/tracks/" + id + "/scores?q=a%20rising%20sweep");
      same("/api/similar?track=" + id + "&k=20");
      same("/api/like?track=" + id + "&k=20");
    }
  }
  const std::string song = std::to_string(id_of(l.song_a));
  EXPECT_TRUE(sqlite.get("/api/tracks/" + song + "/audio") == pg.get("/api/tracks/" + song + "/audio"));
  const std::string a = sqlite.post_file("/api/like?k=20", l.clip), b = pg.post_file("/api/like?k=20", l.clip);
  EXPECT_EQ(a, b) << "POST /api/like differs between SQLite (first) and PostgreSQL (second)";
  same("/api/classify?label=tone&label=noise&label=sweep&top=2");
  same("/api/analyze?q=rain&q=a%20rising%20sweep&format=json");
  same("/api/analyze?q=rain&q=a%20rising%20sweep&format=csv");
  same("/api/map");
}

// --- the window index of a server store -------------------------------------------------------

void WindowIndexOfAPostgresStoreIsCachedAndReused() {
  const Lib& l = *g_lib;
  // A cache folder of its own: the first run finds no index there. The window index serves
  // `like` (and `search --aggregate max`, `overlaps`); --verbose says whether it was loaded or rebuilt.
  const std::string cache = l.dir + "/window-cache";
  fs::remove_all(cache);
  const std::string folder = cache + "/clapsearch/window-index";
  const std::string args = "like --track " + q(l.chirp) + " -k 3 --json -v --db " + q(l.pg);
  std::string out1, err1, out2, err2;
  ASSERT_EQ(cli_raw(args, &out1, &err1, cache), 0) << err1;
  std::vector<std::string> files;
  if (fs::exists(folder))
    for (const auto& e : fs::directory_iterator(folder)) files.push_back(e.path().string());
  ASSERT_EQ(files.size(), 1u) << "no window index in " << folder << "\n" << err1;
  EXPECT_EQ(fs::path(files[0]).extension(), ".faiss");
  EXPECT_NE(err1.find("window index " + files[0] + ": rebuilt (missing)"), std::string::npos) << err1;
  const auto written = fs::last_write_time(files[0]);

  ASSERT_EQ(cli_raw(args, &out2, &err2, cache), 0) << err2;
  EXPECT_NE(err2.find("window index " + files[0] + ": loaded"), std::string::npos) << err2;
  EXPECT_EQ(err2.find("rebuilt"), std::string::npos) << err2;
  EXPECT_EQ(fs::last_write_time(files[0]), written) << "the cached window index was written again";
  EXPECT_EQ(out1, out2);
  // Nothing beside the PostgreSQL store's name elsewhere: the SQLite store keeps its own beside its file.
  EXPECT_FALSE(fs::exists(l.dir + "/" + fs::path(l.pg).filename().string() + ".windows.faiss"));
  ASSERT_EQ(cli_raw("like --track " + q(l.chirp) + " -k 3 --json --db " + q(l.sqlite), &out1, &err1, cache), 0) << err1;
  EXPECT_TRUE(fs::exists(l.sqlite + ".windows.faiss"));
  EXPECT_EQ(out1, out2) << "like --track differs between SQLite (first) and PostgreSQL (second)";

  // Issue 53: the file is named after the database's key id (as its password key file is), not
  // its URL as written: another spelling of the URL loads the same file, and a database copied
  // elsewhere gets its own. Fails before: "<24 hex of the URL>.faiss", a second one for localhost.
  auto key_id = [](const std::string& url) {
    return store::pg::Connection(url).query("SELECT value FROM meta WHERE key = 'key_id'").text(0, 0);
  };
  const std::string by_id = folder + "/db-" + key_id(l.pg) + ".faiss";
  EXPECT_EQ(files[0], by_id);
  const std::string localhost = std::regex_replace(l.pg, std::regex("@127\\.0\\.0\\.1:"), "@localhost:");
  ASSERT_NE(localhost, l.pg);
  ASSERT_EQ(cli_raw("like --track " + q(l.chirp) + " -k 3 --json -v --db " + q(localhost), &out2, &err2, cache), 0) << err2;
  EXPECT_NE(err2.find("window index " + by_id + ": loaded"), std::string::npos) << err2;
  EXPECT_EQ(out1, out2);
  // A file an older clapsearch named after the URL is adopted (moved to the id's name), not rebuilt.
  const std::string by_url = folder + "/" + sha256_hex(store::display_location(l.pg)).substr(0, 24) + ".faiss";
  fs::rename(by_id, by_url);
  ASSERT_EQ(cli_raw(args, &out2, &err2, cache), 0) << err2;
  EXPECT_NE(err2.find("window index " + by_id + ": loaded"), std::string::npos) << err2;
  EXPECT_FALSE(fs::exists(by_url));
  // Another database (a copy made by migrate records an id of its own): a file of its own.
  const std::string copy = test::PostgresServer::shared().create_database();
  ASSERT_EQ(cli_raw("migrate -q --from " + q(l.pg) + " --to " + q(copy), &out2, &err2, cache), 0) << err2;
  ASSERT_NE(key_id(copy), key_id(l.pg));
  ASSERT_EQ(cli_raw("like --track " + q(l.chirp) + " -k 3 --json -v --db " + q(copy), &out2, &err2, cache), 0) << err2;
  EXPECT_NE(err2.find("window index " + folder + "/db-" + key_id(copy) + ".faiss: rebuilt (missing)"), std::string::npos) << err2;
  EXPECT_EQ(out1, out2);
  files.clear();
  for (const auto& e : fs::directory_iterator(folder)) files.push_back(e.path().filename().string());
  EXPECT_EQ(files.size(), 2u);
}

// One test process per group: ctest runs every test in its own process, and each builds both
// libraries (a PostgreSQL server, six index runs), so the index-side checks are grouped.
TEST_F(StoresCli, IndexRunsAndTheWindowIndexCache) {
  IndexRunsAgreeAndAreIncrementalAndLocked();
  WindowIndexOfAPostgresStoreIsCachedAndReused();
}

}  // namespace
}  // namespace clap
