// `clapsearch playlist` and `clapsearch path` as real processes on a small library of real encoded
// files (several formats, names with spaces and non-ASCII characters, a subfolder, one file that
// is not audio) made with ffmpeg and indexed once with the tiny random-weight golden model: JSON
// fields, seeds first, no repeats, byte-identical runs, the M3U8 file — which a real player (mpv)
// must open entry by entry — and clear errors with the usual exit codes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string q(const std::string& s) { return test::quoted(s); }

struct Lib {
  std::string dir, music, playlists, db;
  std::map<std::string, int64_t> ids;  // absolute path -> track id, every usable track
};
Lib* g_lib = nullptr;

int cli_raw(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return test::run_cli(args, out, err, "HF_HOME=" + q(g_lib->dir + "/hf-home"));
}
int cli(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return cli_raw(args + " --db " + q(g_lib->db), out, err);
}
std::string ok(const std::string& args, std::string* err_out = nullptr) {
  std::string out, err;
  EXPECT_EQ(cli(args, &out, &err), 0) << args << "\nstderr: " << err << "\nstdout: " << out;
  if (err_out) *err_out = err;
  return out;
}
json ok_json(const std::string& args, std::string* err = nullptr) {
  const std::string out = ok(args + " --json", err);
  try {
    return json::parse(out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << args << ": not JSON: " << e.what() << "\n" << out;
    return json::array();
  }
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string music(const std::string& name) { return g_lib->music + "/" + name; }
std::string id_of(const std::string& name) { return std::to_string(g_lib->ids.at(music(name))); }

std::vector<std::string> paths_of(const json& records) {
  std::vector<std::string> paths;
  for (const auto& r : records) paths.push_back(r["path"]);
  return paths;
}

// The M3U's entries as absolute paths, as a player resolves them (relative to the file's folder).
std::vector<std::string> m3u_targets(const std::string& m3u) {
  std::vector<std::string> out;
  for (const std::string& line : lines_of(slurp(m3u))) {
    if (line.empty() || line[0] == '#') continue;
    fs::path p(line);
    if (p.is_relative()) p = fs::path(m3u).parent_path() / p;
    out.push_back(p.lexically_normal().string());
  }
  return out;
}

// Plays the playlist with mpv (no audio device, 50 ms of each file) and returns what is wrong: ""
// when mpv exits 0 and opened exactly `expected` (absolute paths), in order.
std::string mpv_problem(const std::string& m3u, const std::vector<std::string>& expected) {
  std::string out, err;
  const int rc = test::run_command(
      "mpv --no-config --ao=null --vo=null --end=0.05 --term-playing-msg='OPENED ${path}' --playlist=" + q(m3u), &out, &err);
  if (rc == 127) return "mpv is not installed (scripts/install-deps.sh --tests installs it)";
  std::vector<std::string> opened;
  for (const std::string& line : lines_of(out + "\n" + err))
    if (line.rfind("OPENED ", 0) == 0) opened.push_back(fs::path(line.substr(7)).lexically_normal().string());
  std::string problem;
  if (rc != 0) problem += "mpv exited with " + std::to_string(rc) + "\n";
  if (opened != expected) {
    problem += "opened " + std::to_string(opened.size()) + " of " + std::to_string(expected.size()) + " entries:\n";
    for (const auto& p : opened) problem += "  " + p + "\n";
  }
  return problem.empty() ? "" : problem + "mpv said:\n" + out + err;
}

// The library is built by the first test's SetUp, not by SetUpTestSuite: gtest skips every test
// of a suite whose SetUpTestSuite failed, and ctest (gtest_discover_tests) counts a skipped test
// as passed, so a broken setup there would pass silently.
class PlaylistCli : public ::testing::Test {
 protected:
  static void BuildLibrary() {
    g_lib = new Lib;
    g_lib->dir = test::temp_dir() + "/playlist-cli";
    g_lib->music = g_lib->dir + "/Music";
    g_lib->playlists = g_lib->dir + "/Playlists";
    g_lib->db = g_lib->dir + "/library.db";
    fs::create_directories(g_lib->playlists);
    const std::string& m = g_lib->music;
    test::ffmpeg(m + "/Sub Folder/Señor tone.flac",
                 "-f lavfi -i \"sine=f=220:d=12:sample_rate=44100\" -metadata artist=\"Test Tones\" -metadata title=\"Low A\"");
    test::ffmpeg(m + "/Sub Folder/high a.mp3", "-f lavfi -i \"sine=f=1760:d=8:sample_rate=48000\" -metadata title=\"High A\"");
    test::ffmpeg(m + "/white noise.wav", "-f lavfi -i \"anoisesrc=c=white:d=10:a=0.3:r=48000:seed=1\"");
    test::ffmpeg(m + "/pink.ogg", "-f lavfi -i \"anoisesrc=c=pink:d=6:a=0.3:r=48000:seed=2\"");
    test::ffmpeg(m + "/brown ünï.flac", "-f lavfi -i \"anoisesrc=c=brown:d=12:a=0.5:r=48000:seed=3\"");
    test::ffmpeg(m + "/chirp.m4a", "-f lavfi -i \"aevalsrc=0.5*sin(2*PI*(100+200*t)*t):d=12:s=48000\" -c:a aac");
    test::ffmpeg(m + "/square.wav", "-f lavfi -i \"aevalsrc=0.3*sgn(sin(2*PI*330*t)):d=3:s=32000\"");
    std::ofstream(m + "/broken.mp3") << "this is not audio";
    std::string out, err;
    const int rc = cli_raw("index " + q(m) + " --db " + q(g_lib->db) + " --model " + q(test::case_dir("tiny-unfused")) +
                               " --quiet --json",
                           &out, &err);
    ASSERT_EQ(rc, 0) << err;
    const json summary = json::parse(out);
    ASSERT_EQ(summary["indexed"], 7) << out;
    ASSERT_EQ(summary["errors"], 1) << out;
    // Every usable track once: a radio as long as the library.
    const json all = ok_json("playlist --seed " + q(m + "/square.wav") + " -n 100");
    for (const auto& r : all) g_lib->ids[r["path"].get<std::string>()] = r["track_id"].get<int64_t>();
    ASSERT_EQ(g_lib->ids.size(), 7u);
  }
  static void TearDownTestSuite() {
    delete g_lib;
    g_lib = nullptr;
  }
  void SetUp() override {
    if (!g_lib) BuildLibrary();
    ASSERT_EQ(g_lib->ids.size(), 7u) << "library not built";
  }
};

// --- playlist ----------------------------------------------------------------------------------

void RadioSeedsFirstNoRepeatsSameBytes() {
  const std::string args = "playlist --seed " + q(music("Sub Folder/Señor tone.flac")) + " --seed " + id_of("white noise.wav") +
                           " --seed " + q(music("Sub Folder/../Sub Folder/Señor tone.flac")) + " -n 5";
  const json r = ok_json(args);
  ASSERT_EQ(r.size(), 5u) << r.dump(1);
  EXPECT_EQ(r[0]["path"], music("Sub Folder/Señor tone.flac"));  // the seeds, in the order given, once
  EXPECT_EQ(r[1]["track_id"], g_lib->ids.at(music("white noise.wav")));
  std::set<int64_t> ids;
  for (size_t i = 0; i < r.size(); ++i) {
    for (const char* key : {"rank", "track_id", "path", "score", "artist", "title", "duration_s", "seed"})
      EXPECT_TRUE(r[i].contains(key)) << key << " in " << r[i].dump();
    EXPECT_EQ(r[i]["rank"], i + 1);
    EXPECT_EQ(r[i]["seed"], i < 2);
    EXPECT_GT(r[i]["duration_s"].get<double>(), 2.5);
    EXPECT_LE(std::abs(r[i]["score"].get<double>()), 1.0 + 1e-6);
    EXPECT_TRUE(g_lib->ids.count(r[i]["path"].get<std::string>())) << r[i]["path"];  // never the file that is not audio
    ids.insert(r[i]["track_id"].get<int64_t>());
  }
  EXPECT_EQ(ids.size(), 5u) << "a track repeats";
  EXPECT_EQ(r[0]["artist"], "Test Tones");
  EXPECT_EQ(r[0]["title"], "Low A");
  EXPECT_EQ(ok(args + " --json"), ok(args + " --json"));  // byte-identical runs

  // Diversity 0 with one seed: after the seed, the seed's nearest tracks, as `similar` ranks them.
  const json nearest = ok_json("playlist --seed " + id_of("pink.ogg") + " --diversity 0 -n 5");
  const json similar = ok_json("similar " + id_of("pink.ogg") + " -k 4");
  ASSERT_EQ(nearest.size(), 5u);
  std::vector<std::string> after_seed = paths_of(nearest);
  after_seed.erase(after_seed.begin());
  EXPECT_EQ(after_seed, paths_of(similar));

  // The table names the seeds and shows paths relative to the indexed folder.
  const std::string table = ok(args);
  EXPECT_NE(table.find("playlist from 2 seed tracks, diversity 0.30: 5 tracks"), std::string::npos) << table;
  EXPECT_NE(table.find("seed"), std::string::npos) << table;
  EXPECT_NE(table.find("Sub Folder/Señor tone.flac"), std::string::npos) << table;
  EXPECT_NE(table.find("Test Tones – Low A"), std::string::npos) << table;
}

void RadioFromTextAndMoreThanTheLibraryHolds() {
  std::string err;
  const json r = ok_json("playlist --text \"warm lo-fi guitar\" -n 50", &err);
  EXPECT_EQ(r.size(), 7u);
  EXPECT_NE(err.find("holds 7 of the 50 tracks asked for"), std::string::npos) << err;
  for (const auto& x : r) EXPECT_EQ(x["seed"], false);
  // A text and a seed together; the text is cached now, so no model run is needed for it.
  const json both = ok_json("playlist --text \"warm lo-fi guitar\" --seed " + q(music("chirp.m4a")) + " -n 3");
  ASSERT_EQ(both.size(), 3u);
  EXPECT_EQ(both[0]["path"], music("chirp.m4a"));
  EXPECT_EQ(both[0]["seed"], true);
  EXPECT_EQ(both[1]["seed"], false);
}

void RadioM3uPlaysInMpv() {
  const std::string m3u = g_lib->playlists + "/radio mix.m3u8";
  std::string err;
  const json r = ok_json("playlist --seed " + q(music("Sub Folder/Señor tone.flac")) + " -n 7 --m3u " + q(m3u), &err);
  ASSERT_EQ(r.size(), 7u);
  EXPECT_NE(err.find("wrote " + m3u + ": 7 tracks, paths relative to " + g_lib->playlists), std::string::npos) << err;
  const std::string text = slurp(m3u);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  const auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 15u) << text;
  EXPECT_EQ(lines[0], "#EXTM3U");
  EXPECT_EQ(lines[1], "#EXTINF:12,Test Tones – Low A");
  EXPECT_EQ(lines[2], "../Music/Sub Folder/Señor tone.flac");
  for (size_t i = 1; i < lines.size(); i += 2) {
    EXPECT_EQ(lines[i].rfind("#EXTINF:", 0), 0u) << lines[i];
    EXPECT_EQ(lines[i + 1].rfind("../Music/", 0), 0u) << lines[i + 1];
  }
  EXPECT_NE(text.find("\n#EXTINF:12,brown ünï\n../Music/brown ünï.flac\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n#EXTINF:8,High A\n../Music/Sub Folder/high a.mp3\n"), std::string::npos) << text;
  EXPECT_EQ(m3u_targets(m3u), paths_of(r));  // the file holds the playlist, in order
  EXPECT_EQ(mpv_problem(m3u, paths_of(r)), "");

  // The check above can fail: one entry pointing nowhere, and mpv's run is refused.
  std::string broken = text;
  const size_t at = broken.find("../Music/pink.ogg");
  ASSERT_NE(at, std::string::npos);
  broken.replace(at, 8, "../Musik");
  const std::string broken_m3u = g_lib->playlists + "/broken.m3u8";
  std::ofstream(broken_m3u, std::ios::binary) << broken;
  EXPECT_NE(mpv_problem(broken_m3u, paths_of(r)), "");
}

// --- path --------------------------------------------------------------------------------------

void PathRunsFromToAndPlaysInMpv() {
  const std::string from = music("Sub Folder/Señor tone.flac"), to = music("white noise.wav");
  const std::string args = "path " + q(from) + " " + id_of("white noise.wav") + " -n 4";
  const json r = ok_json(args);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r.front()["path"], from);
  EXPECT_EQ(r.back()["path"], to);
  std::set<std::string> paths;
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r[i]["rank"], i + 1);
    EXPECT_FALSE(r[i].contains("seed"));
    for (const char* key : {"track_id", "path", "score", "artist", "title", "duration_s"}) EXPECT_TRUE(r[i].contains(key));
    paths.insert(r[i]["path"].get<std::string>());
  }
  EXPECT_EQ(paths.size(), 4u) << "a track repeats";
  EXPECT_NEAR(r.front()["score"].get<double>(), 1.0, 1e-5);  // step 0 aims at FROM itself
  EXPECT_NEAR(r.back()["score"].get<double>(), 1.0, 1e-5);
  EXPECT_EQ(ok(args + " --json"), ok(args + " --json"));

  const std::string table = ok(args);
  EXPECT_NE(table.find("path from Sub Folder/Señor tone.flac to white noise.wav: 4 tracks"), std::string::npos) << table;
  EXPECT_NE(table.find("0.00"), std::string::npos) << table;
  EXPECT_NE(table.find("1.00"), std::string::npos) << table;

  // Absolute paths in the M3U, which mpv plays too.
  const std::string m3u = g_lib->playlists + "/sub/path.m3u";
  fs::create_directories(fs::path(m3u).parent_path());
  std::string err;
  ok(args + " --m3u " + q(m3u) + " --absolute", &err);
  EXPECT_NE(err.find("4 tracks, absolute paths"), std::string::npos) << err;
  const auto lines = lines_of(slurp(m3u));
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_EQ(lines[2], from);
  EXPECT_EQ(lines[8], to);
  EXPECT_EQ(mpv_problem(m3u, paths_of(r)), "");

  // More steps than tracks: every track once, FROM first and TO last, and a note.
  const json all = ok_json("path " + q(from) + " " + q(to) + " -n 20", &err);
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all.front()["path"], from);
  EXPECT_EQ(all.back()["path"], to);
  EXPECT_NE(err.find("holds 7 of the 20 tracks asked for"), std::string::npos) << err;

  // --where: the steps between come from the matching tracks alone; the ends always stand.
  const json filtered = ok_json("path " + q(from) + " " + q(to) + " -n 20 --where 'format in (\"ogg\", \"mp3\")'");
  ASSERT_EQ(filtered.size(), 4u) << filtered.dump();
  EXPECT_EQ(filtered.front()["path"], from);
  EXPECT_EQ(filtered.back()["path"], to);
  EXPECT_EQ((std::set<std::string>{filtered[1]["path"], filtered[2]["path"]}),
            (std::set<std::string>{music("Sub Folder/high a.mp3"), music("pink.ogg")}));
  // The music-only rule leaves its tracks out of the steps, unless --include-excluded.
  auto has_pink = [&](const json& list) {
    for (const auto& t : list)
      if (t["path"] == music("pink.ogg")) return true;
    return false;
  };
  const std::string ruled = "--exclude-rule 'format = \"ogg\"' path " + q(from) + " " + q(to) + " -n 20";
  const json without = ok_json(ruled);
  EXPECT_EQ(without.size(), 6u);
  EXPECT_FALSE(has_pink(without));
  EXPECT_TRUE(has_pink(ok_json(ruled + " --include-excluded")));
}

// --- errors ------------------------------------------------------------------------------------

void ClearErrorsWithTheUsualExitCodes() {
  const std::string seed = q(music("pink.ogg"));
  struct Case {
    std::string args, message;
    int rc;
  };
  const std::vector<Case> cases = {
      {"playlist --seed " + q(music("nosuch.flac")), "seed '" + music("nosuch.flac") + "': no track with that id or path", 1},
      {"playlist --seed 999999", "seed '999999': no track with that id or path in the index", 1},
      {"playlist --seed " + q(music("broken.mp3")), "could not be indexed", 1},
      {"playlist --seed " + seed + " --seed " + q(music("chirp.m4a")) + " -n 1", "2 seed tracks do not fit", 1},
      // The folder named, and not made (hostile pass 12, R12P-4: README's example wrote into a
      // folder a new user does not have; a typo is not a new folder tree).
      {"playlist --seed " + seed + " --m3u " + q(g_lib->dir + "/no such folder/x.m3u8"),
       g_lib->dir + "/no such folder/x.m3u8: cannot write: the folder " + g_lib->dir + "/no such folder does not exist", 1},
      {"playlist", "give at least one --seed TRACK or --text", 2},
      {"playlist -n 5", "give at least one --seed TRACK or --text", 2},
      {"playlist --seed " + seed + " --diversity 1.5", "--diversity", 2},
      {"playlist --seed " + seed + " --diversity -0.1", "--diversity", 2},
      {"playlist --seed " + seed + " --diversity nan", "not a finite number", 2},
      {"playlist --seed " + seed + " -n 0", "must be more than 0", 2},
      {"playlist --seed " + seed + " --absolute", "--absolute", 2},
      {"playlist --seed " + seed + " --m3u -", "--m3u needs a file", 2},
      {"path " + seed + " " + seed, "are the same track", 2},  // a bad argument, as -n 1 (hostile pass 10, Python)
      {"path " + q(music("nosuch.flac")) + " " + seed, "FROM '" + music("nosuch.flac") + "'", 1},
      {"path " + seed + " 999999", "TO '999999': no track", 1},
      {"path " + seed + " " + q(music("chirp.m4a")) + " -n 1", "a path needs at least 2 tracks", 2},
      {"path " + seed + " " + q(music("chirp.m4a")) + " -n 0", "must be more than 0", 2},
      {"path " + seed, "to is required", 2},
  };
  for (const auto& c : cases) {
    std::string out, err;
    const int rc = cli(c.args, &out, &err);
    EXPECT_EQ(rc, c.rc) << c.args << "\n" << err;
    if (c.rc == 1) {
      EXPECT_NE(err.find("clapsearch: error: "), std::string::npos) << c.args << "\n" << err;
    }
    EXPECT_NE(err.find(c.message), std::string::npos) << c.args << "\n" << err;
    EXPECT_TRUE(out.empty()) << c.args << "\n" << out;
  }
  EXPECT_FALSE(fs::exists(g_lib->dir + "/no such folder"));
}

void HelpExplainsTheAlgorithms() {
  const std::string playlist = ok("playlist --help"), path = ok("path --help");
  EXPECT_NE(playlist.find("--seed"), std::string::npos);
  EXPECT_NE(playlist.find("(1 - diversity) * cos(query, c)"), std::string::npos) << playlist;
  EXPECT_NE(path.find("normalise((1 - t) * a + t * b)"), std::string::npos) << path;
  EXPECT_NE(path.find("--absolute"), std::string::npos) << path;
}

// One test process per group: ctest runs each test in its own process, and each indexes the library.
TEST_F(PlaylistCli, Radio) {
  RadioSeedsFirstNoRepeatsSameBytes();
  RadioFromTextAndMoreThanTheLibraryHolds();
  RadioM3uPlaysInMpv();
}

TEST_F(PlaylistCli, Path) { PathRunsFromToAndPlaysInMpv(); }

TEST_F(PlaylistCli, ErrorsAndHelp) {
  ClearErrorsWithTheUsualExitCodes();
  HelpExplainsTheAlgorithms();
}

}  // namespace
}  // namespace clap
