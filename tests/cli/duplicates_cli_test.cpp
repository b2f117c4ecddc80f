// `clapsearch duplicates` and --collapse-duplicates on real re-encoded files: three 45 s
// "songs" (five sections each, made with ffmpeg), each stored as FLAC, MP3 128k, AAC, Opus, a
// 22.05 kHz mono WAV, a copy trimmed by 2 s, a faded MP3 and an Ogg with 3 s of silence in
// front, indexed by the real `clapsearch index` with the tiny random-weight golden model.
//
// Asserted: no group ever mixes two songs (a false group would suggest deleting a different
// recording); every copy of every song (all seven kinds) is grouped with its FLAC, which is the
// suggested keeper, decided by the acoustic fingerprints whatever the model's weights; the
// offsets of the trimmed and delayed copies; formats, CSV, determinism, collapsing, errors; and
// an index made before fingerprints were stored: the window rule decides until the next
// `index` run adds them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sqlite3.h>

#include "support/golden.h"
#include "support/recordings.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string q(const std::string& s) { return test::quoted(s); }

struct Lib {
  std::string dir, music, db;
};
Lib* g_lib = nullptr;

int cli(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return test::run_cli(args, out, err);
}

// Makes PATH with ffmpeg (throws with ffmpeg's message when it fails).
bool ffmpeg(const std::string& args, const std::string& path) { return !test::ffmpeg(path, args).empty(); }

using test::song_expression;
const std::vector<std::pair<std::string, std::string>>& kVersions = test::copy_kinds();

class DuplicatesCli : public ::testing::Test {
 protected:
  // The files and their index are made once for every test process of the suite
  // (test::shared_fixture); each process queries its own copy of the index (queries write the
  // text cache and the window-index file beside it).
  static void SetUpTestSuite() {
    g_lib = new Lib;
    const std::string shared = test::shared_fixture("duplicates-cli", [](const std::string& dir) {
      g_lib->dir = dir;
      g_lib->music = dir + "/music";
      g_lib->db = dir + "/library.db";
      make_library();
    });
    g_lib->dir = shared;
    g_lib->music = shared + "/music";
    g_lib->db = test::temp_dir() + "/library.db";
    fs::copy_file(shared + "/library.db", g_lib->db, fs::copy_options::overwrite_existing);
  }
  static void make_library() {
    for (int song = 0; song < 3; ++song) {
      const std::string source = g_lib->dir + "/source/song" + std::to_string(song) + ".wav";
      ASSERT_TRUE(ffmpeg("-f lavfi -i \"aevalsrc='" + song_expression(song) + "':s=44100:d=45\" -ac 2", source));
      for (const auto& [name, args] : kVersions)
        ASSERT_TRUE(ffmpeg("-i " + q(source) + " " + args, g_lib->music + "/song" + std::to_string(song) + "/" + name));
    }
    // A medley: 20 s of noise, then song0's 10-40 s, then 15 s of song1 (for `overlaps`).
    const std::string src = g_lib->dir + "/source/";
    ASSERT_TRUE(ffmpeg("-f lavfi -i anoisesrc=c=pink:d=20:a=0.3:r=44100:seed=5 -ss 10 -t 30 -i " + q(src + "song0.wav") +
                           " -t 15 -i " + q(src + "song1.wav") +
                           " -filter_complex \"[0]aformat=channel_layouts=stereo[n];[n][1][2]concat=n=3:v=0:a=1\"",
                       g_lib->music + "/mixes/medley.flac"));
    // Short clips (one window each, too short for the window rule): a byte-for-byte copy of a
    // jingle, and another jingle.
    ASSERT_TRUE(ffmpeg("-f lavfi -i sine=frequency=660:duration=3 -b:a 128k", g_lib->music + "/short/jingle.mp3"));
    fs::copy_file(g_lib->music + "/short/jingle.mp3", g_lib->music + "/short/jingle copy.mp3");
    ASSERT_TRUE(ffmpeg("-f lavfi -i sine=frequency=990:duration=3 -b:a 128k", g_lib->music + "/short/other.mp3"));
    std::string out, err;
    ASSERT_EQ(cli("index " + q(g_lib->music) + " --db " + q(g_lib->db) + " --model " +
                      q(test::case_dir("tiny-unfused")) + " --quiet",
                  &out, &err),
              0)
        << err;
  }
  static void TearDownTestSuite() {
    delete g_lib;
    g_lib = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(g_lib && fs::exists(g_lib->db)); }

  static std::string run_ok(const std::string& args) {
    std::string out, err;
    EXPECT_EQ(cli(args + " --db " + q(g_lib->db), &out, &err), 0) << args << "\n" << err;
    return out;
  }
  // "songN/version.ext" of an indexed path.
  static std::string name_of(const std::string& path) {
    return fs::path(path).parent_path().filename().string() + "/" + fs::path(path).filename().string();
  }
};

TEST_F(DuplicatesCli, GroupsOnlyCopiesOfOneRecordingAndKeepsTheLosslessOriginal) {
  const std::string text = run_ok("duplicates --json");
  const json groups = json::parse(text);
  ASSERT_TRUE(groups.is_array());
  std::map<std::string, std::set<std::string>> grouped_with_flac;  // song -> versions in the FLAC's group
  size_t found_pairs = 0;
  for (const json& g : groups) {
    const json& tracks = g["tracks"];
    ASSERT_GE(tracks.size(), 2u);
    const std::string song = fs::path(tracks[0]["path"].get<std::string>()).parent_path().filename().string();
    if (song == "short") continue;  // the identical jingles: their own test
    for (const json& t : tracks) {
      EXPECT_EQ(fs::path(t["path"].get<std::string>()).parent_path().filename().string(), song)
          << "a group mixes two songs:\n" << g.dump(1);
      EXPECT_TRUE(t.contains("codec") && t.contains("offset_s") && t.contains("score")) << t.dump();
    }
    EXPECT_TRUE(tracks[0]["keeper"].get<bool>());
    EXPECT_EQ(g["keeper"], tracks[0]["track_id"]);
    found_pairs += tracks.size() * (tracks.size() - 1) / 2;
    if (name_of(tracks[0]["path"]) == song + "/flac.flac") {
      // The keeper's content at time t is the copy's at t + offset_s.
      const std::map<std::string, double> offsets = {{"trimmed.flac", -2.0}, {"silence3s.ogg", 3.0}};
      for (const json& t : tracks) {
        const std::string name = fs::path(t["path"].get<std::string>()).filename().string();
        grouped_with_flac[song].insert(name);
        EXPECT_NEAR(t["offset_s"].get<double>(), offsets.count(name) ? offsets.at(name) : 0.0, 0.25) << t.dump();
        if (!t["keeper"].get<bool>()) {
          EXPECT_LE(t["bit_error_rate"].get<double>(), 0.25) << t.dump();
        }
      }
      for (const json& p : g["pairs"]) EXPECT_EQ(p["rule"], "fingerprint") << p.dump();
    }
  }
  for (int song = 0; song < 3; ++song) {
    const auto& versions = grouped_with_flac["song" + std::to_string(song)];
    for (const auto& [name, args] : kVersions)
      EXPECT_TRUE(versions.count(name)) << "song" << song << ": " << name << " was not grouped with the FLAC (keeper)";
  }
  // Measured recall (the README quotes this line).
  const size_t true_pairs = 3 * kVersions.size() * (kVersions.size() - 1) / 2;
  std::printf("[duplicates] groups %zu, pairs found %zu of %zu true pairs, false groups 0\n", groups.size(), found_pairs,
              true_pairs);
  for (int song = 0; song < 3; ++song) {
    std::string line;
    for (const auto& v : grouped_with_flac["song" + std::to_string(song)]) line += " " + v;
    std::printf("[duplicates] song%d: with the FLAC:%s\n", song, line.c_str());
  }
  EXPECT_EQ(run_ok("duplicates --json"), text) << "not deterministic";
}

// Identical bytes are the same recording however short: the index holds equal content hashes
// for the two jingles, which the window rule (two windows or more) could not compare.
TEST_F(DuplicatesCli, ByteIdenticalCopiesShorterThanTwoWindowsAreDuplicates) {
  for (const char* options : {"", " --threshold 1"}) {
    const json groups = json::parse(run_ok(std::string("duplicates --json") + options));
    int jingle_groups = 0;
    for (const json& g : groups) {
      std::set<std::string> names;
      for (const json& t : g["tracks"]) names.insert(name_of(t["path"]));
      if (!names.count("short/jingle.mp3")) {
        EXPECT_FALSE(names.count("short/other.mp3")) << g.dump(1);
        continue;
      }
      ++jingle_groups;
      EXPECT_EQ(names, (std::set<std::string>{"short/jingle.mp3", "short/jingle copy.mp3"})) << g.dump(1);
      ASSERT_EQ(g["pairs"].size(), 1u) << g.dump(1);
      EXPECT_TRUE(g["pairs"][0]["identical"].get<bool>()) << g.dump(1);
    }
    EXPECT_EQ(jingle_groups, 1) << options << "\n" << groups.dump(1);
  }
  // Results collapse the copies into one (the seeded path of the group search).
  const json folded = json::parse(run_ok("similar " + q(g_lib->music + "/short/other.mp3") + " -k 0 --json --collapse-duplicates"));
  int jingles = 0;
  for (const json& r : folded) jingles += name_of(r["path"]).rfind("short/jingle", 0) == 0;
  EXPECT_EQ(jingles, 1) << folded.dump(1);
}

TEST_F(DuplicatesCli, TableAndCsv) {
  const std::string table = run_ok("duplicates");
  EXPECT_NE(table.find("keep"), std::string::npos) << table;
  EXPECT_NE(table.find("flac 44.1 kHz 16-bit stereo"), std::string::npos) << table;
  EXPECT_NE(table.find("nothing was changed"), std::string::npos) << table;
  const std::string csv = run_ok("duplicates --csv -");
  EXPECT_EQ(csv.rfind("group,track_id,keeper,score,offset_s,bit_error_rate,aligned,codec,lossless,bit_rate,sample_rate,channels,"
                      "duration_s,path\n",
                      0),
            0u)
      << csv;
  EXPECT_NE(csv.find(",flac,1,"), std::string::npos) << csv;
}

// CSV has no null (hostile pass 17, R16C's H16C-2 follow-up): a stored duration that is not a
// finite number was written "null" in duplicates --csv (json_float's JSON word), where every
// CSV output writes a value it lacks as an empty cell; 1e308 (beyond float32) was "null" too.
TEST_F(DuplicatesCli, ACsvCellOfADurationNoAudioHasIsEmptyNeverNull) {
  const std::string db = test::temp_dir() + "/damaged-duration.db";
  for (const auto& [stored, cell] : std::vector<std::pair<std::string, std::string>>{
           {"9e999", ""}, {"-9e999", ""}, {"'abc'", ""}, {"1e308", "1e+308"}}) {
    SCOPED_TRACE(stored);
    fs::copy_file(g_lib->db, db, fs::copy_options::overwrite_existing);
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    const std::string sql = "UPDATE tracks SET duration_s = " + stored + " WHERE path LIKE '%/jingle copy.mp3'";
    ASSERT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
    ASSERT_EQ(sqlite3_changes(h), 1);
    sqlite3_close(h);
    std::string out, err;
    ASSERT_EQ(cli("duplicates --csv - --db " + q(db), &out, &err), 0) << err;
    EXPECT_EQ(out.find("null"), std::string::npos) << out;
    const size_t at = out.find("/jingle copy.mp3");
    ASSERT_NE(at, std::string::npos) << out;
    const std::string row = out.substr(out.rfind('\n', at) + 1, at - out.rfind('\n', at) - 1);
    const size_t path_start = row.rfind(',');  // the duration is the cell before the path
    ASSERT_NE(path_start, std::string::npos) << row;
    EXPECT_EQ(row.substr(row.rfind(',', path_start - 1) + 1, path_start - row.rfind(',', path_start - 1) - 1), cell) << row;
  }
}

// A damaged stored duration never makes a copy the keeper (hostile pass 18): of two identical
// files, the one whose duration was set to 9e999 (or 1e308, or past the longest audio) by hand
// was kept as "the longer copy". The keeper is the one it is without the damage.
TEST_F(DuplicatesCli, ADamagedDurationNeverMakesTheKeeper) {
  const auto keeper_of_jingles = [](const std::string& db) {
    std::string out, err;
    EXPECT_EQ(cli("duplicates --json --db " + q(db), &out, &err), 0) << err;
    const json groups = json::parse(out);
    for (const json& g : groups)
      for (const json& t : g["tracks"])
        if (t["keeper"].get<bool>() && name_of(t["path"]).rfind("short/jingle", 0) == 0) return name_of(t["path"]);
    return std::string();
  };
  const std::string kept = keeper_of_jingles(g_lib->db);
  ASSERT_FALSE(kept.empty());
  const std::string other = kept == "short/jingle.mp3" ? "short/jingle copy.mp3" : "short/jingle.mp3";
  const std::string db = test::temp_dir() + "/damaged-keeper.db";
  for (const char* stored : {"9e999", "1e308", "2e9"}) {
    SCOPED_TRACE(stored);
    fs::copy_file(g_lib->db, db, fs::copy_options::overwrite_existing);
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    const std::string sql = "UPDATE tracks SET duration_s = " + std::string(stored) + " WHERE path LIKE '%/" + other + "'";
    ASSERT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
    ASSERT_EQ(sqlite3_changes(h), 1);
    sqlite3_close(h);
    EXPECT_EQ(keeper_of_jingles(db), kept);
  }
}

TEST_F(DuplicatesCli, CollapseShowsOneTrackPerGroup) {
  const json groups = json::parse(run_ok("duplicates --json"));
  std::map<int64_t, int> group_of;
  for (size_t i = 0; i < groups.size(); ++i)
    for (const json& t : groups[i]["tracks"]) group_of[t["track_id"]] = static_cast<int>(i);
  const std::string query = g_lib->music + "/song0/mp3.mp3";
  for (const std::string& command : {"similar " + q(query) + " -k 0", "like --track " + q(query) + " -k 0",
                                     std::string("search \"a bright chirp\" -k 0")}) {
    const json plain = json::parse(run_ok(command + " --json"));
    const json folded = json::parse(run_ok(command + " --json --collapse-duplicates"));
    EXPECT_LT(folded.size(), plain.size()) << command;
    std::set<int> seen;
    size_t listed = 0;
    for (const json& r : folded) {
      ASSERT_TRUE(r.contains("copies")) << command << "\n" << r.dump();
      listed += 1 + r["copies"].size();
      auto it = group_of.find(r["track_id"]);
      if (it == group_of.end()) continue;
      EXPECT_TRUE(seen.insert(it->second).second) << command << ": two tracks of one group shown";
      EXPECT_EQ(r["track_id"], groups[it->second]["keeper"]) << command << ": a group is shown by its keeper";
    }
    EXPECT_GE(listed, plain.size()) << command << ": every track is shown or counted as a copy";
  }
  // Playlists play one copy of a recording: no two tracks of one group in a radio or a path.
  for (const std::string& command :
       {"playlist --seed " + q(query) + " -n 12", "path " + q(query) + " " + q(g_lib->music + "/song2/flac.flac") + " -n 8"}) {
    const json list = json::parse(run_ok(command + " --json"));
    EXPECT_GE(list.size(), 3u) << command;
    std::set<int> seen;
    for (const json& r : list) {
      auto it = group_of.find(r["track_id"]);
      if (it != group_of.end()) {
        EXPECT_TRUE(seen.insert(it->second).second) << command << ": two copies of one recording\n" << list.dump(1);
      }
    }
  }
  const std::string table = run_ok("similar " + q(query) + " --collapse-duplicates");
  EXPECT_NE(table.find("copies)"), std::string::npos) << table;
  std::string out, err;
  EXPECT_NE(cli("search a -q b --compare --collapse-duplicates --db " + q(g_lib->db), &out, &err), 0);
  EXPECT_NE(err.find("--compare"), std::string::npos) << err;
}

TEST_F(DuplicatesCli, OverlapsFindsTheSongInsideTheMedley) {
  const std::string medley = g_lib->music + "/mixes/medley.flac";
  const json found = json::parse(run_ok("overlaps " + q(medley) + " --json"));
  bool flac = false;
  for (const json& o : found) {
    EXPECT_EQ(o["path_a"], medley);
    EXPECT_GE(o["a_end"].get<double>() - o["a_start"].get<double>(), 20.0);
    if (name_of(o["path_b"]) == "song0/flac.flac") {
      flac = true;
      // The medley's 00:20-00:50 is song0's 00:10-00:40 (within a hop at each end).
      EXPECT_NEAR(o["a_start"].get<double>(), 20, 5) << o.dump();
      EXPECT_NEAR(o["a_end"].get<double>(), 50, 5) << o.dump();
      EXPECT_NEAR(o["b_start"].get<double>() - o["a_start"].get<double>(), -10, 2.5) << o.dump();
    }
    EXPECT_EQ(fs::path(o["path_b"].get<std::string>()).parent_path().filename(), "song0") << o.dump();
  }
  EXPECT_TRUE(flac) << found.dump(1);
  const std::string text = run_ok("overlaps " + q(medley));
  EXPECT_NE(text.find("mixes/medley.flac 00:"), std::string::npos) << text;
  EXPECT_NE(text.find("\u2248 song0/flac.flac"), std::string::npos) << text;
  // Over the whole library each pair comes once.
  const json all = json::parse(run_ok("overlaps --json -q"));
  std::set<std::pair<int64_t, int64_t>> pairs;
  for (const json& o : all) EXPECT_TRUE(pairs.insert(std::minmax(o["track_a"].get<int64_t>(), o["track_b"].get<int64_t>())).second);
  std::string out, err;
  EXPECT_NE(cli("overlaps /no/such.flac --db " + q(g_lib->db), &out, &err), 0);
  EXPECT_NE(err.find("no such track"), std::string::npos) << err;
}

// An index made before fingerprints were stored (schema 3: no fingerprints table) is upgraded
// by the next `index` run, which computes the fingerprints of the unchanged tracks without
// embedding them again; tracks without one (here: their rows deleted) are compared by windows.
TEST_F(DuplicatesCli, AnIndexWithoutFingerprintsGetsThemFromTheNextIndexRun) {
  const std::string db = test::temp_dir() + "/before-fingerprints.db";
  fs::remove(db);
  fs::copy_file(g_lib->db, db);
  std::string out, err, text;
  ASSERT_EQ(test::run_command("sqlite3 " + q(db) + " 'DROP TABLE set_windows; DROP TABLE set_tracks; DROP TABLE embedding_sets; DROP TABLE fingerprints; "
                                   "ALTER TABLE tracks DROP COLUMN window_total; ALTER TABLE tracks DROP COLUMN speech; "
                                   "DROP TABLE packet_hashes; DROP TABLE kept_track_ids; DROP TABLE bookmarks; DROP TABLE play_queue_entries; DROP TABLE play_queues; DROP TABLE playlist_entries; DROP TABLE playlists; DROP TABLE plays; DROP TABLE ratings; DROP TABLE stars; DROP TABLE api_keys; DROP TABLE users; UPDATE schema_version SET version = 3'", &out, &err), 0)
      << err;
  EXPECT_NE(cli("duplicates --json --db " + q(db), &text, &err), 0);
  EXPECT_NE(err.find("run `clapsearch index` once to upgrade it"), std::string::npos) << err;
  const std::string index = "index " + q(g_lib->music) + " --db " + q(db) + " --model " + q(test::case_dir("tiny-unfused")) + " --json";
  ASSERT_EQ(cli(index, &out, &err), 0) << err;
  const json summary = json::parse(out);
  EXPECT_EQ(summary["indexed"], 0) << "nothing is embedded again: " << out;
  EXPECT_EQ(summary["fingerprints_added"], summary["unchanged"]) << "every unchanged track gets one: " << out;
  ASSERT_EQ(cli("duplicates --json --db " + q(db), &text, &err), 0) << err;
  EXPECT_EQ(json::parse(text), json::parse(run_ok("duplicates --json")))
      << "after the upgrade, the same groups as an index made with fingerprints";
  ASSERT_EQ(cli(index, &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out)["fingerprints_added"], 0) << "once is enough: " << out;

  // Without fingerprints the window rule decides (and never mixes two songs).
  ASSERT_EQ(test::run_command("sqlite3 " + q(db) + " 'DELETE FROM fingerprints'", &out, &err), 0) << err;
  ASSERT_EQ(cli("duplicates --json --db " + q(db), &text, &err), 0) << err;
  int window_pairs = 0;
  for (const json& g : json::parse(text)) {
    std::set<std::string> songs;
    for (const json& t : g["tracks"]) songs.insert(fs::path(t["path"].get<std::string>()).parent_path().filename().string());
    EXPECT_EQ(songs.size(), 1u) << g.dump(1);
    for (const json& p : g["pairs"]) {
      EXPECT_NE(p["rule"], "fingerprint") << p.dump();
      EXPECT_TRUE(p["bit_error_rate"].is_null()) << p.dump();
      window_pairs += p["rule"] == "windows";
    }
  }
  EXPECT_GT(window_pairs, 0) << text;
}

TEST_F(DuplicatesCli, ThresholdAndBadOptions) {
  // An absolute threshold of 1 groups only bit-identical track embeddings: none here but the
  // byte-identical jingles (identical content is always a duplicate).
  const json none = json::parse(run_ok("duplicates --json --threshold 1"));
  for (const json& g : none)
    for (const json& p : g["pairs"]) EXPECT_TRUE(p["identical"].get<bool>()) << g.dump(1);
  std::string out, err;
  EXPECT_NE(cli("duplicates --min-duration-ratio 2 --db " + q(g_lib->db), &out, &err), 0);
  EXPECT_NE(err.find("min-duration-ratio"), std::string::npos) << err;
  EXPECT_NE(cli("duplicates --db " + q(test::temp_dir() + "/missing.db"), &out, &err), 0);
  EXPECT_FALSE(err.empty());
}

}  // namespace
}  // namespace clap
