// The search front ends run as real processes (search, like, similar, matrix, analyze, classify,
// eval) on a small library of real encoded audio (sines, noise colours, a chirp; 3-12 s, made
// with ffmpeg) indexed once by the real `clapsearch index` with the tiny random-weight golden
// model. Checks output fields and formats, determinism (byte-identical runs), the self-query of
// `like`, the text cache, the vector index file, labels stored by classify, evaluation output,
// and clear errors.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "store/sqlite_store.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string q(const std::string& s) { return "'" + s + "'"; }

struct Lib {
  std::string dir;    // scratch root
  std::string music;  // the indexed folder
  std::string db;
  std::vector<std::string> files;  // absolute paths, sorted
};

// The shared library, built once for the suite.
Lib* g_lib = nullptr;

int cli_raw(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return test::run_cli(args, out, err, "HF_HOME=" + q(g_lib->dir + "/hf-home"));
}

// Runs a command on the shared index.
int cli(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return cli_raw(args + " --db " + q(g_lib->db), out, err);
}

// Runs a command that must succeed and returns its stdout.
std::string ok(const std::string& args) {
  std::string out, err;
  const int rc = cli(args, &out, &err);
  EXPECT_EQ(rc, 0) << args << "\nstderr: " << err << "\nstdout: " << out;
  return out;
}

json ok_json(const std::string& args) {
  const std::string out = ok(args + " --json");
  try {
    return json::parse(out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << args << ": not JSON: " << e.what() << "\n" << out;
    return json();
  }
}

bool ffmpeg(const std::string& path, const std::string& args) {
  fs::create_directories(fs::path(path).parent_path());
  std::string err;
  const int rc = test::run_command("ffmpeg -nostdin -hide_banner -loglevel error -y " + args + " " + q(path), nullptr, &err);
  EXPECT_EQ(rc, 0) << err;
  return rc == 0;
}

std::vector<std::string> csv_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int64_t sql_count(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return -1;
  }
  sqlite3_stmt* st = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

class SearchCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_lib = new Lib;
    g_lib->dir = test::temp_dir() + "/search-cli";
    g_lib->music = g_lib->dir + "/music";
    g_lib->db = g_lib->dir + "/library.db";
    const std::string& m = g_lib->music;
    // Different content and lengths (1 or 2 windows of 10 s every 5 s), several formats.
    ffmpeg(m + "/sine_220.flac",
           "-f lavfi -i \"sine=f=220:d=12:sample_rate=44100\" -metadata artist=\"Test Tones\" -metadata title=\"Low A\"");
    ffmpeg(m + "/sine_1760.mp3", "-f lavfi -i \"sine=f=1760:d=8:sample_rate=48000\" -metadata title=\"High A\"");
    ffmpeg(m + "/white.wav", "-f lavfi -i \"anoisesrc=c=white:d=10:a=0.3:r=48000:seed=1\"");
    ffmpeg(m + "/pink.ogg", "-f lavfi -i \"anoisesrc=c=pink:d=6:a=0.3:r=48000:seed=2\"");
    ffmpeg(m + "/brown.flac", "-f lavfi -i \"anoisesrc=c=brown:d=12:a=0.5:r=48000:seed=3\"");
    ffmpeg(m + "/chirp.wav", "-f lavfi -i \"aevalsrc=0.5*sin(2*PI*(100+200*t)*t):d=12:s=48000\"");
    ffmpeg(m + "/short_square.wav", "-f lavfi -i \"aevalsrc=0.3*sgn(sin(2*PI*330*t)):d=3:s=32000\"");
    for (const auto& e : fs::directory_iterator(m)) g_lib->files.push_back(fs::absolute(e.path()).lexically_normal().string());
    std::sort(g_lib->files.begin(), g_lib->files.end());
    std::string out, err;
    const int rc = cli_raw("index " + q(m) + " --db " + q(g_lib->db) + " --model " + q(test::case_dir("tiny-unfused")) +
                               " --quiet --json",
                           &out, &err);
    ASSERT_EQ(rc, 0) << err;
    const json summary = json::parse(out);
    ASSERT_EQ(summary["indexed"], 7) << out;
  }
  static void TearDownTestSuite() {
    delete g_lib;
    g_lib = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(g_lib && fs::exists(g_lib->db)) << "library not built"; }
};

std::string base(const std::string& p) { return fs::path(p).filename().string(); }
std::string file(const std::string& name) { return g_lib->music + "/" + name; }

// --- search -----------------------------------------------------------------------------------

void SearchJsonFieldsAndByteIdenticalOutput() {
  const std::string args = "search \"white noise hiss\" -k 5";
  const std::string first = ok(args + " --json");
  const std::string second = ok(args + " --json");
  EXPECT_EQ(first, second);
  EXPECT_EQ(ok(args), ok(args));  // the table too

  const json j = json::parse(first);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 5u);
  double last = INFINITY;
  for (size_t i = 0; i < j.size(); ++i) {
    const json& r = j[i];
    for (const char* key : {"rank", "path", "track_id", "score", "label", "best_start", "best_end"})
      EXPECT_TRUE(r.contains(key)) << key << " missing in " << r.dump();
    EXPECT_FALSE(r.contains("query"));  // one query
    EXPECT_EQ(r["rank"], i + 1);
    const double s = r["score"];
    EXPECT_LE(s, last);
    last = s;
    EXPECT_EQ(r["label"], s > 0.3 ? "HIGH" : s > 0.15 ? "MODERATE" : "LOW");
    EXPECT_LT(r["best_start"].get<double>(), r["best_end"].get<double>());
    EXPECT_TRUE(std::count(g_lib->files.begin(), g_lib->files.end(), r["path"].get<std::string>())) << r["path"];
  }

  // Several queries: each result names its query; --aggregate max ranks by the best window.
  const json multi = ok_json("search -q \"a low hum\" -q \"a rising sweep\" -k 3");
  ASSERT_EQ(multi.size(), 6u);
  EXPECT_EQ(multi[0]["query"], "a low hum");
  EXPECT_EQ(multi[3]["query"], "a rising sweep");
  const json mx = ok_json("search \"a low hum\" --aggregate max -k 0");
  ASSERT_EQ(mx.size(), 7u);
  for (const auto& r : mx) EXPECT_EQ(r["score"], r["max"]);
  // Thresholds are configurable: everything above -1 is HIGH.
  for (const auto& r : ok_json("search \"a low hum\" --high -1 --moderate -1")) EXPECT_EQ(r["label"], "HIGH");

  const std::string cmp = ok("search -q \"female vocalist\" -q \"female voice\" --compare -k 3");
  EXPECT_NE(cmp.find("\"female vocalist\""), std::string::npos) << cmp;
  EXPECT_NE(cmp.find("q2"), std::string::npos) << cmp;
  std::printf("%s", cmp.c_str());
}

void SearchCsvColumns() {
  const auto lines = csv_lines(ok("search \"bright tone\" -k 4 --csv -"));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "query,rank,track_id,score,label,best_start,best_end,path,artist,title");
  EXPECT_EQ(lines[1].rfind("bright tone,1,", 0), 0u) << lines[1];
  const std::string out = g_lib->dir + "/search.csv";
  ok("search \"bright tone\" -k 4 --csv " + q(out));
  EXPECT_EQ(csv_lines(slurp(out)), lines);
}

void RepeatedQueryHitsTheTextCache() {
  const std::string text = "a cache probe query, never asked before";
  const std::string count_sql = "SELECT COUNT(*) FROM text_cache WHERE text = '" + text + "'";
  ASSERT_EQ(sql_count(g_lib->db, count_sql), 0);
  std::string out1, err1, out2, err2;
  ASSERT_EQ(cli("search " + q(text) + " -v", &out1, &err1), 0) << err1;
  EXPECT_NE(err1.find("1 miss(es)"), std::string::npos) << err1;
  EXPECT_NE(err1.find("loading model"), std::string::npos) << err1;
  EXPECT_EQ(sql_count(g_lib->db, count_sql), 1);
  ASSERT_EQ(cli("search " + q(text) + " -v", &out2, &err2), 0) << err2;
  EXPECT_NE(err2.find("1 hit(s), 0 miss(es) (no model run)"), std::string::npos) << err2;
  EXPECT_EQ(err2.find("loading model"), std::string::npos) << err2;  // no model run at all
  EXPECT_EQ(out1, out2);  // the cached embedding gives the same ranking, byte for byte
  EXPECT_EQ(sql_count(g_lib->db, count_sql), 1);
}

// --- like -------------------------------------------------------------------------------------

void LikeSelfQueryComesFirstWithCombinedOne() {
  // Every indexed file queried by itself comes back first with combined 1.0: with one vote per
  // (chunk, track) the query's own track holds both maxima. (Under one vote per matching
  // window a 2-window track out-voted shorter tracks' self-queries: 3 of 6 failed.)
  int firsts = 0;
  for (const auto& path : g_lib->files) {
    const json j = ok_json("like " + q(path) + " -k 0");
    ASSERT_FALSE(j.empty()) << path;
    for (const char* key : {"rank", "path", "track_id", "score", "combined", "votes", "total_similarity", "matches"})
      EXPECT_TRUE(j[0].contains(key)) << key;
    for (const char* key : {"query_start", "query_end", "start", "end", "distance"})
      EXPECT_TRUE(j[0]["matches"][0].contains(key)) << key;
    size_t self = j.size();
    for (size_t i = 0; i < j.size(); ++i)
      if (j[i]["path"] == path) self = i;
    ASSERT_LT(self, j.size()) << path << " not found by itself";
    double best = 1;
    for (const auto& m : j[self]["matches"]) best = std::min(best, m["distance"].get<double>());
    EXPECT_NEAR(best, 0.0, 1e-5) << path;
    {
      EXPECT_EQ(self, 0u) << path;
      EXPECT_DOUBLE_EQ(j[0]["combined"].get<double>(), 1.0) << path;
      EXPECT_EQ(j[0]["score"], j[0]["combined"]);
    }
    firsts += self == 0;
    std::printf("like self-query %-16s rank %zu combined %.4f votes %d (first: %s, combined %.4f votes %d)\n",
                base(path).c_str(), self + 1, j[self]["combined"].get<double>(), j[self]["votes"].get<int>(),
                base(j[0]["path"]).c_str(), j[0]["combined"].get<double>(), j[0]["votes"].get<int>());
  }
  std::printf("like self-query: %d of %zu files come back first\n", firsts, g_lib->files.size());
  // Determinism of the table.
  EXPECT_EQ(ok("like " + q(file("chirp.wav"))), ok("like " + q(file("chirp.wav"))));
}

void LikeClipsCutFromIndexedTracks() {
  // Clips cut with ffmpeg from indexed tracks (shifted against the 5 s window grid). A random-
  // weight model may miss some: the hit rate is reported, not asserted.
  struct Clip {
    std::string source;
    double ss, t;
  };
  const std::vector<Clip> clips = {{"sine_220.flac", 2.5, 6},  {"brown.flac", 1.3, 7},    {"chirp.wav", 3.7, 5},
                                   {"white.wav", 2.0, 6},      {"pink.ogg", 0.5, 4},      {"sine_1760.mp3", 1.5, 5},
                                   {"chirp.wav", 6.0, 6},      {"brown.flac", 5.5, 6}};
  int hits = 0;
  for (size_t i = 0; i < clips.size(); ++i) {
    const Clip& c = clips[i];
    const std::string out = g_lib->dir + "/clips/clip" + std::to_string(i) + ".wav";
    char args[256];
    std::snprintf(args, sizeof args, "-ss %g -t %g -i %s", c.ss, c.t, q(file(c.source)).c_str());
    ASSERT_TRUE(ffmpeg(out, args));
    const json j = ok_json("like " + q(out) + " -k 3");
    ASSERT_FALSE(j.empty());
    const bool hit = base(j[0]["path"]) == c.source;
    hits += hit;
    std::printf("like clip %-14s %4.1f-%4.1f s -> first %-14s combined %.4f  %s\n", c.source.c_str(), c.ss, c.ss + c.t,
                base(j[0]["path"]).c_str(), j[0]["combined"].get<double>(), hit ? "HIT" : "miss");
  }
  std::printf("like clip hit rate (tiny random-weight model): %d/%zu\n", hits, clips.size());
}

void LikeTrackUsesStoredWindows() {
  const json tracks = ok_json("search x -k 0");
  int64_t chirp_id = -1;
  for (const auto& r : tracks)
    if (base(r["path"]) == "chirp.wav") chirp_id = r["track_id"];
  ASSERT_GE(chirp_id, 0);
  std::string err;
  std::string out;
  ASSERT_EQ(cli("like --track " + std::to_string(chirp_id) + " --json -v", &out, &err), 0) << err;
  EXPECT_EQ(err.find("loading model"), std::string::npos) << "no decoding or model run for --track: " << err;
  const json j = json::parse(out);
  ASSERT_FALSE(j.empty());
  EXPECT_EQ(j[0]["track_id"], chirp_id);
  EXPECT_DOUBLE_EQ(j[0]["combined"].get<double>(), 1.0);
  // By path, and the same result as the file query (same windows, same embeddings).
  EXPECT_EQ(ok("like --track " + q(file("chirp.wav")) + " --json"), out);
  EXPECT_EQ(ok("like " + q(file("chirp.wav")) + " --json"), out);
  // --exclude-self leaves it out.
  for (const auto& r : ok_json("like --track " + std::to_string(chirp_id) + " --exclude-self -k 0"))
    EXPECT_NE(r["track_id"], chirp_id);
  // Chunk options on a file query: 5 s chunks every 2.5 s over 12 s -> 4 chunks (last partial).
  const std::string table = ok("like " + q(file("chirp.wav")) + " --chunk 5 --hop 2.5 -k 1");
  EXPECT_NE(table.find(": 4 chunks"), std::string::npos) << table;
}

void VectorIndexPersistedAndRebuiltWhenWindowsChange() {
  const std::string copy = g_lib->dir + "/vi/library.db";
  fs::create_directories(fs::path(copy).parent_path());
  fs::copy_file(g_lib->db, copy, fs::copy_options::overwrite_existing);
  auto run = [&](const std::string& args) {
    std::string out, err;
    EXPECT_EQ(cli_raw(args + " --db " + q(copy) + " -v", &out, &err), 0) << err;
    return err;
  };
  const std::string like = "like --track " + q(file("brown.flac"));
  EXPECT_NE(run(like).find("rebuilt (missing)"), std::string::npos);
  EXPECT_TRUE(fs::exists(copy + ".windows.faiss"));
  EXPECT_NE(run(like).find(": loaded"), std::string::npos);
  // A write that leaves the windows alone (text cache) keeps the index.
  run("search \"something new for the cache\"");
  EXPECT_NE(run(like).find(": loaded"), std::string::npos);
  // New windows: the index is updated in place, not rebuilt.
  ASSERT_TRUE(ffmpeg(g_lib->dir + "/more/extra.wav", "-f lavfi -i \"sine=f=600:d=3:sample_rate=48000\""));
  std::string out, err;
  ASSERT_EQ(cli_raw("index " + q(g_lib->dir + "/more") + " --db " + q(copy) + " --quiet", &out, &err), 0) << err;
  const std::string after = run(like);
  EXPECT_NE(after.find(": updated (+1 "), std::string::npos) << after;
  EXPECT_NE(after.find(", 11 windows"), std::string::npos) << after;
}

// A library reached through a symbolic link (library.db linked to a bigger disk) kept its window
// index beside the link: the link and the file's own path built and kept one each (copies14, as
// store13 found of the password key). It is beside the real file now, one for both names.
void LinkedIndexKeepsItsWindowIndexBesideTheRealFile() {
  const std::string dir = g_lib->dir + "/linked", real = dir + "/disk/library.db", link = dir + "/home/library.db";
  fs::remove_all(dir);
  fs::create_directories(dir + "/disk");
  fs::create_directories(dir + "/home");
  fs::copy_file(g_lib->db, real);
  fs::create_symlink(real, link);
  auto run = [&](const std::string& db) {
    std::string out, err;
    EXPECT_EQ(cli_raw("like --track " + q(file("brown.flac")) + " --db " + q(db) + " -v", &out, &err), 0) << err;
    return err;
  };
  EXPECT_NE(run(link).find("rebuilt (missing)"), std::string::npos);
  EXPECT_TRUE(fs::exists(real + ".windows.faiss"));
  EXPECT_FALSE(fs::exists(link + ".windows.faiss")) << "a cache beside the link";
  const std::string again = run(real);
  EXPECT_NE(again.find(": loaded"), std::string::npos) << again;
}

// --- similar, matrix ---------------------------------------------------------------------------

void SimilarExcludesTheQuery() {
  const json by_path = ok_json("similar " + q(file("white.wav")) + " -k 0");
  ASSERT_EQ(by_path.size(), 6u);
  double last = INFINITY;
  for (size_t i = 0; i < by_path.size(); ++i) {
    EXPECT_NE(base(by_path[i]["path"]), "white.wav");
    EXPECT_EQ(by_path[i]["rank"], i + 1);
    EXPECT_LE(by_path[i]["score"].get<double>(), last);
    last = by_path[i]["score"];
  }
  // The same by id; and -k.
  int64_t id = -1;
  for (const auto& r : ok_json("search x -k 0"))
    if (base(r["path"]) == "white.wav") id = r["track_id"];
  EXPECT_EQ(ok("similar " + std::to_string(id) + " -k 0 --json"), ok("similar " + q(file("white.wav")) + " -k 0 --json"));
  EXPECT_EQ(ok_json("similar " + std::to_string(id) + " -k 2").size(), 2u);
  // A file outside the index (a copy of an indexed one) is embedded like the indexer: its
  // original comes first with cosine 1, and nothing is excluded.
  const std::string copy = g_lib->dir + "/outside/copy of brown.flac";
  fs::create_directories(fs::path(copy).parent_path());
  fs::copy_file(file("brown.flac"), copy, fs::copy_options::overwrite_existing);
  const json outside = ok_json("similar " + q(copy) + " -k 0");
  ASSERT_EQ(outside.size(), 7u);
  EXPECT_EQ(base(outside[0]["path"]), "brown.flac");
  EXPECT_NEAR(outside[0]["score"].get<double>(), 1.0, 1e-6);
}

void MatrixSymmetricWithUnitDiagonal() {
  const json j = ok_json("matrix");
  const auto& m = j["matrix"];
  ASSERT_EQ(j["tracks"].size(), 7u);
  ASSERT_EQ(m.size(), 7u);
  for (size_t a = 0; a < m.size(); ++a) {
    ASSERT_EQ(m[a].size(), 7u);
    EXPECT_NEAR(m[a][a].get<double>(), 1.0, 1e-6);
    for (size_t b = 0; b < m.size(); ++b) {
      EXPECT_EQ(m[a][b], m[b][a]);
      EXPECT_LE(m[a][b].get<double>(), 1.0 + 1e-6);
    }
  }
  const std::string csv = g_lib->dir + "/matrix.csv";
  ok("matrix --csv " + q(csv));
  const auto lines = csv_lines(slurp(csv));
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[0].rfind("track_id,path,", 0), 0u);
  // A subset, by id and path, in the order given.
  const int64_t id0 = j["tracks"][0]["track_id"], id3 = j["tracks"][3]["track_id"];
  const json sub = ok_json("matrix --tracks " + std::to_string(id3) + "," + q(j["tracks"][0]["path"].get<std::string>()));
  ASSERT_EQ(sub["tracks"].size(), 2u);
  EXPECT_EQ(sub["tracks"][0]["track_id"], id3);
  EXPECT_EQ(sub["tracks"][1]["track_id"], id0);
  EXPECT_EQ(sub["matrix"][0][1], m[3][0]);
  std::printf("%s", ok("matrix").c_str());
}

// --- analyze ----------------------------------------------------------------------------------

void AnalyzeCsvOneRowPerTrackAndQuery() {
  const std::string queries = g_lib->dir + "/queries.txt";
  std::ofstream(queries) << "white noise\n\n# a comment\na low hum\nbirdsong\n";
  const std::string out = g_lib->dir + "/report.csv";
  ok("analyze --queries " + q(queries) + " --csv " + q(out));
  const auto lines = csv_lines(slurp(out));
  ASSERT_EQ(lines.size(), 1u + 7 * 3);
  EXPECT_EQ(lines[0], "track,path,query,mean,max,min,std,n_windows,best_start,best_end,label");
  for (size_t i = 1; i < lines.size(); ++i) EXPECT_EQ(std::count(lines[i].begin(), lines[i].end(), ','), 10) << lines[i];
  // The same numbers as search reports (one definition of a track's score).
  const json s = ok_json("search \"white noise\" -k 0");
  const json a = ok_json("analyze --queries " + q(queries));
  int matched = 0;
  for (const auto& r : a)
    if (r["query"] == "white noise")
      for (const auto& t : s)
        if (t["track_id"] == r["track_id"]) {
          EXPECT_EQ(t["score"], r["mean"]);
          EXPECT_EQ(t["best_start"], r["best_start"]);
          ++matched;
        }
  EXPECT_EQ(matched, 7);
  // --tracks GLOB.
  const auto flac = csv_lines(ok("analyze --queries " + q(queries) + " --tracks '*.flac' --csv -"));
  EXPECT_EQ(flac.size(), 1u + 2 * 3);
  // Byte-identical.
  EXPECT_EQ(ok("analyze --queries " + q(queries) + " --csv -"), ok("analyze --queries " + q(queries) + " --csv -"));
}

void AnalyzeOneSongWindowByWindow() {
  const json j = ok_json("analyze " + q(file("brown.flac")) + " \"deep rumble\"");
  ASSERT_EQ(j["windows"].size(), 2u);
  EXPECT_EQ(j["windows"][0]["start"], 0.0);
  EXPECT_EQ(j["windows"][1]["start"], 5.0);
  EXPECT_EQ(j["windows"][1]["end"], 12.0);
  EXPECT_EQ(j["n_windows"], 2);
  const double mean = (j["windows"][0]["score"].get<double>() + j["windows"][1]["score"].get<double>()) / 2;
  EXPECT_NEAR(j["mean"].get<double>(), mean, 1e-6);
  const std::string table = ok("analyze " + q(file("brown.flac")) + " \"deep rumble\"");
  EXPECT_NE(table.find("00:05\u201300:12"), std::string::npos) << table;
  std::printf("%s", table.c_str());
}

// --- classify ---------------------------------------------------------------------------------

void ClassifyProbabilitiesAndStoredLabels() {
  const json j = ok_json("classify --labels noise,tone,sweep --labels drone " + q(file("chirp.wav")) + " " +
                         q(file("white.wav")) + " --top 2");
  ASSERT_EQ(j.size(), 2u);
  for (const auto& r : j) {
    for (const char* key : {"path", "track_id", "probabilities", "top", "score", "rank"}) EXPECT_TRUE(r.contains(key)) << key;
    double sum = 0;
    for (const auto& [label, p] : r["probabilities"].items()) sum += p.get<double>();
    EXPECT_NEAR(sum, 1.0, 1e-6);
    ASSERT_EQ(r["probabilities"].size(), 4u);
    ASSERT_EQ(r["top"].size(), 2u);
    EXPECT_GE(r["top"][0]["probability"].get<double>(), r["top"][1]["probability"].get<double>());
  }
  // --store on every track: labels in the index, shown by search.
  std::string out, err;
  ASSERT_EQ(cli("classify --labels noise,tone,sweep --all --top 2 --store", &out, &err), 0) << err;
  EXPECT_EQ(sql_count(g_lib->db, "SELECT COUNT(*) FROM track_labels"), 7 * 2);
  const json s = ok_json("search \"noise\" -k 1");
  ASSERT_EQ(s[0]["labels"].size(), 2u);
  const std::string table = ok("search \"noise\" -k 1");
  EXPECT_NE(table.find("[" + s[0]["labels"][0].get<std::string>() + ", "), std::string::npos) << table;
  // A labels file and a template.
  const std::string lf = g_lib->dir + "/labels.txt";
  std::ofstream(lf) << "noise\ntone\n";
  EXPECT_EQ(ok_json("classify --labels-file " + q(lf) + " --template \"the sound of {}\" --all").size(), 7u);
  // Hostile pass 7: a labels file was named "queries" in its errors ("larger than 64 MB
  // (queries)", "no queries in the file"); since R9C-3 a stream stops at its first NUL byte.
  EXPECT_EQ(cli("classify --labels-file /dev/zero --all", &out, &err), 1);
  EXPECT_NE(err.find("/dev/zero: not text (a NUL byte at byte 0) (labels)"), std::string::npos) << err;
  const std::string comments = g_lib->dir + "/comments.txt";
  std::ofstream(comments) << "# no label here\n";
  EXPECT_EQ(cli("classify --labels-file " + q(comments) + " --all", &out, &err), 1);
  EXPECT_NE(err.find(comments + ": no labels in the file (one per line)"), std::string::npos) << err;
}

// --- eval -------------------------------------------------------------------------------------

void EvalZeroShotAndRetrievalWithBaselines() {
  const std::string dir = g_lib->dir + "/eval";
  fs::create_directories(dir);
  // Paths relative to the CSV's folder.
  std::ofstream(dir + "/labels.csv") << "path,label\n../music/white.wav,noise\n../music/pink.ogg,noise\n"
                                        "../music/brown.flac,noise\n../music/sine_220.flac,tone\n"
                                        "../music/sine_1760.mp3,tone\n../music/chirp.wav,sweep\n";
  const json z = ok_json("eval zero-shot --labels-csv " + q(dir + "/labels.csv"));
  EXPECT_EQ(z["n"], 6);
  EXPECT_EQ(z["n_labels"], 3);
  EXPECT_NEAR(z["random_accuracy"].get<double>(), 1.0 / 3, 1e-6);
  EXPECT_NEAR(z["majority_accuracy"].get<double>(), 0.5, 1e-6);
  int64_t total = 0, diag = 0;
  for (size_t a = 0; a < 3; ++a)
    for (size_t b = 0; b < 3; ++b) {
      total += z["confusion"][a][b].get<int64_t>();
      if (a == b) diag += z["confusion"][a][b].get<int64_t>();
    }
  EXPECT_EQ(total, 6);
  EXPECT_NEAR(z["accuracy"].get<double>(), diag / 6.0, 1e-6);
  const std::string zt = ok("eval zero-shot --labels-csv " + q(dir + "/labels.csv"));
  for (const char* s : {"accuracy", "random", "confusion"}) EXPECT_NE(zt.find(s), std::string::npos) << zt;
  std::printf("%s", zt.c_str());

  std::ofstream(dir + "/captions.csv") << "path,caption\n../music/white.wav,white noise hiss\n"
                                          "../music/brown.flac,\"deep, rumbling brown noise\"\n"
                                          "../music/sine_220.flac,a low sine tone\n../music/chirp.wav,a rising sweep\n"
                                          "../music/chirp.wav,a chirp going up\n";
  const json r = ok_json("eval retrieval --captions-csv " + q(dir + "/captions.csv"));
  EXPECT_EQ(r["audios"], 4);
  EXPECT_EQ(r["captions"], 5);
  EXPECT_EQ(r["text_to_audio"]["queries"], 5);
  EXPECT_EQ(r["audio_to_text"]["queries"], 4);
  EXPECT_NEAR(r["text_to_audio"]["random"]["r1"].get<double>(), 0.25, 1e-6);  // 1 of 4 candidates
  EXPECT_EQ(r["text_to_audio"]["model"]["r5"], 1.0);                          // 4 candidates < 5
  const std::string rt = ok("eval retrieval --captions-csv " + q(dir + "/captions.csv"));
  for (const char* s : {"R@1", "R@5", "R@10", "mAP@10", "random"}) EXPECT_NE(rt.find(s), std::string::npos) << rt;
  std::printf("%s", rt.c_str());
}

// --- errors -----------------------------------------------------------------------------------

void ClearErrorsNeverCrashes() {
  struct Case {
    std::string args, message;
    bool own_db = false;
    int status = 1;  // 2: a usage error (the arguments themselves are wrong)
  };
  const std::string garbage = g_lib->dir + "/errors/garbage.mp3";
  fs::create_directories(fs::path(garbage).parent_path());
  std::ofstream(garbage) << "this is not audio";
  const std::string empty_db = g_lib->dir + "/errors/empty.db";
  { store::SqliteStore::open(empty_db); }
  const std::vector<Case> cases = {
      {"search x --db " + q(g_lib->dir + "/errors/none.db"), "no index here", true},
      {"search x --db " + q(empty_db), "the index is empty", true},
      {"like --track 999999", "no such track"},
      {"like " + q(g_lib->dir + "/errors/missing.wav"), "no such file"},
      {"like " + q(garbage), "cannot decode the query audio"},
      {"similar 999999", "no such file"},
      {"analyze 999999 \"x\"", "no such file"},
      {"matrix --tracks 999999", "no such track"},
      {"classify --labels a,b " + q(g_lib->dir + "/errors/missing.wav"), "no such file"},
      {"classify --labels onlyone --all", "at least two labels", false, 2},
      {"eval zero-shot --labels-csv " + q(g_lib->dir + "/errors/missing.csv"), "no such file"},
      {"search x --model " + q(test::case_dir("tiny-fused")), "does not match the index"},
      {"search", "give a query", false, 2},
  };
  for (const auto& c : cases) {
    std::string out, err;
    const int rc = c.own_db ? cli_raw(c.args, &out, &err) : cli(c.args, &out, &err);
    EXPECT_EQ(rc, c.status) << c.args << "\n" << err;
    EXPECT_NE(err.find("clapsearch: error: "), std::string::npos) << c.args << "\n" << err;
    EXPECT_NE(err.find(c.message), std::string::npos) << c.args << "\n" << err;
    EXPECT_TRUE(out.empty()) << c.args << "\n" << out;
  }
}

// One test process per group: ctest runs every test in its own process, and each builds the
// library (the model run dominates), so the checks are grouped.
TEST_F(SearchCli, TextSearchAndAnalyze) {
  SearchJsonFieldsAndByteIdenticalOutput();
  SearchCsvColumns();
  RepeatedQueryHitsTheTextCache();
  AnalyzeCsvOneRowPerTrackAndQuery();
  AnalyzeOneSongWindowByWindow();
}

TEST_F(SearchCli, AudioQueries) {
  LikeSelfQueryComesFirstWithCombinedOne();
  LikeClipsCutFromIndexedTracks();
  LikeTrackUsesStoredWindows();
  VectorIndexPersistedAndRebuiltWhenWindowsChange();
}

TEST_F(SearchCli, SongToSongTaggingAndEvaluation) {
  SimilarExcludesTheQuery();
  MatrixSymmetricWithUnitDiagonal();
  ClassifyProbabilitiesAndStoredLabels();
  EvalZeroShotAndRetrievalWithBaselines();
}

TEST_F(SearchCli, Errors) { ClearErrorsNeverCrashes(); }

// A labels CSV typed with a space after each comma ("path, label"): its header was read as a file
// named "path" (skipped) and a class " label", and " noise" was a class apart from "noise": exit 0,
// the wrong labels and chance level. A file listed twice was evaluated twice (hostile pass 21,
// H21C-3). Cells are trimmed, as finetune's CSV is; a file takes one label.
TEST_F(SearchCli, EvalLabelsCsvCellsAreTrimmedAndAFileHasOneLabel) {
  const std::string dir = g_lib->dir + "/eval-trim";
  fs::create_directories(dir);
  std::ofstream(dir + "/plain.csv") << "path,label\n../music/white.wav,noise\n../music/pink.ogg,noise\n"
                                       "../music/sine_220.flac,tone\n../music/chirp.wav,sweep\n";
  std::ofstream(dir + "/spaced.csv") << "path, label\n../music/white.wav, noise\n../music/pink.ogg ,noise \n"
                                        " ../music/sine_220.flac,  tone\n../music/chirp.wav, sweep\n";
  const json plain = ok_json("eval zero-shot --labels-csv " + q(dir + "/plain.csv"));
  std::string out, err;
  ASSERT_EQ(cli("eval zero-shot --json --labels-csv " + q(dir + "/spaced.csv"), &out, &err), 0) << err;
  EXPECT_EQ(err.find("skipped"), std::string::npos) << err;
  const json spaced = json::parse(out);
  EXPECT_EQ(spaced["n"], 4);
  EXPECT_EQ(spaced["n_labels"], 3) << out;
  EXPECT_EQ(spaced["per_class"], plain["per_class"]);
  EXPECT_EQ(spaced["accuracy"], plain["accuracy"]);
  std::ofstream(dir + "/twice.csv") << "path,label\n../music/white.wav,noise\n../music/sine_220.flac,tone\n"
                                       "../music/white.wav,tone\n";
  EXPECT_EQ(cli("eval zero-shot --labels-csv " + q(dir + "/twice.csv"), &out, &err), 1) << out;
  EXPECT_NE(err.find("white.wav is listed twice (labels \"noise\" and \"tone\")"), std::string::npos) << err;
}

TEST_F(SearchCli, ALinkedIndexKeepsItsWindowIndexBesideTheRealFile) { LinkedIndexKeepsItsWindowIndexBesideTheRealFile(); }

// --window-index compressed (a search node over a library larger than memory) prints what the
// memory mode prints, byte for byte, for every text search and query by example, on an index of
// real audio with enough windows to train the codes (1 s windows every 0.5 s: 312 windows); its
// index is built once, then loaded.
TEST_F(SearchCli, CompressedWindowIndexPrintsWhatTheMemoryModePrints) {
  const std::string dir = g_lib->dir + "/compressed", music = dir + "/music", db = dir + "/library.db";
  fs::remove_all(dir);
  const char* sources[] = {"sine=f=220:d=20:sample_rate=44100", "anoisesrc=c=pink:d=20:a=0.3:r=48000:seed=4",
                           "anoisesrc=c=brown:d=20:a=0.5:r=48000:seed=5", "aevalsrc=0.5*sin(2*PI*(100+40*t)*t):d=20:s=48000",
                           "sine=f=660:d=20:sample_rate=48000", "anoisesrc=c=white:d=20:a=0.2:r=48000:seed=6",
                           "aevalsrc=0.3*sgn(sin(2*PI*150*t)):d=20:s=32000", "sine=f=1320:d=20:sample_rate=44100"};
  int i = 0;
  for (const char* src : sources) ffmpeg(music + "/c" + std::to_string(i++) + ".flac", "-f lavfi -i \"" + std::string(src) + "\"");
  std::string out, err;
  ASSERT_EQ(cli_raw("index " + q(music) + " --db " + q(db) + " --model " + q(test::case_dir("tiny-unfused")) +
                        " --window 1 --hop 0.5 --quiet",
                    &out, &err),
            0)
      << err;
  ffmpeg(dir + "/clip.wav", "-f lavfi -i \"sine=f=230:d=4:sample_rate=48000\"");
  auto run = [&](const std::string& args, const std::string& mode, std::string* notes = nullptr) {
    std::string o, e;
    EXPECT_EQ(cli_raw(args + " --db " + q(db) + " --window-index " + mode + (notes ? " -v" : ""), &o, &e), 0) << args << "\n" << e;
    if (notes) *notes = e;
    return o;
  };
  std::string notes;
  const std::string first = run("search 'a pure tone' 'noise' --json", "compressed", &notes);
  EXPECT_NE(notes.find("compressed window index"), std::string::npos) << notes;
  EXPECT_NE(notes.find("built over 312 windows"), std::string::npos) << notes;
  EXPECT_EQ(first, run("search 'a pure tone' 'noise' --json", "memory"));
  run("search 'a pure tone' --json", "compressed", &notes);
  EXPECT_NE(notes.find(": loaded, 312 windows"), std::string::npos) << notes;
  for (const std::string& args : std::vector<std::string>{"search 'a pure tone' 'noise' -k 3", "search 'humming' --aggregate max --json", "search 'hiss' --aggregate max -k 0 --csv -",
        "like " + q(dir + "/clip.wav") + " --json", "like --track 3 -k 0 --json", "like --track 5 --exclude-self --json",
        "similar 2 --json"})
    EXPECT_EQ(run(args, "compressed"), run(args, "memory")) << args;
}

}  // namespace
}  // namespace clap
