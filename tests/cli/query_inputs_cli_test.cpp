// Inputs of the query commands that used to give a wrong answer or a misleading message (issue
// 53), run as real processes on a small library of real files made with ffmpeg and indexed with
// the tiny random-weight golden model: weights beyond float range, wrong command words, set
// numbers, a short path or radio, the copy `duplicates` keeps, `doctor --db`, and switching
// between the embedding sets of two models.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string q(const std::string& s) { return test::quoted(s); }

// Four different files and two byte-identical copies of a fifth, indexed once per process.
struct SmallLibrary {
  std::string dir = test::temp_dir() + "/query-inputs";
  std::string music = dir + "/music";
  std::string db = dir + "/library.db";
  SmallLibrary() {
    fs::remove_all(dir);
    const char* sources[] = {"sine=f=220:d=12", "sine=f=1500:d=12", "anoisesrc=color=pink:d=12:seed=1",
                             "aevalsrc=sin(2*PI*(200+400*t)*t):d=12"};
    for (int i = 0; i < 4; ++i)
      test::ffmpeg(music + "/song" + std::to_string(i) + ".flac", std::string("-f lavfi -i \"") + sources[i] + "\"");
    test::ffmpeg(music + "/copy-a.wav", "-f lavfi -i \"sine=f=660:d=12\"");
    fs::copy_file(music + "/copy-a.wav", music + "/copy-b.wav");
    test::index_library(music, db, test::case_dir("tiny-unfused"));
  }
};

SmallLibrary& small_library() {
  static SmallLibrary lib;
  return lib;
}

int cli(const std::string& args, std::string* out, std::string* err) {
  return test::run_cli(args + " --db " + q(small_library().db), out, err);
}

// `like FILE` decodes the file, and its own track (--exclude-self leaves it out) is the indexed
// track at that path: a file named `2` (a whole number) excluded track id 2 instead, a track the
// query had nothing to do with (hostile pass 22). A whole number is a track id only where a
// track may be named (similar's TRACK|FILE, --track, --seed); `./2` is the file there.
TEST(QueryInputs, LikeOfAFileNamedLikeATrackIdExcludesNoOtherTrack) {
  SmallLibrary& l = small_library();
  const std::string here = l.dir + "/numbered";
  fs::create_directories(here);
  fs::copy_file(l.music + "/song0.flac", here + "/2", fs::copy_options::overwrite_existing);
  std::string out, err;
  ASSERT_EQ(test::run_command("cd " + q(here) + " && " + test::cli_command() + " like 2 --exclude-self --per-chunk 100 -k 20 --json --db " +
                                  q(l.db),
                              &out, &err),
            0)
      << err;
  std::vector<int64_t> ids;
  for (const json& r : json::parse(out)) ids.push_back(r["track_id"]);
  EXPECT_EQ(ids.size(), 6u) << out;  // the file is not indexed: no track is its own
  EXPECT_NE(std::find(ids.begin(), ids.end(), 2), ids.end()) << out;
  // The indexed file itself is still its own track, by path.
  ASSERT_EQ(cli("like " + q(l.music + "/song0.flac") + " --exclude-self --per-chunk 100 -k 20 --json", &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out).size(), 5u) << out;
}

// A weight beyond float range (FLT_MAX) used to become inf in the query and every score 0 in
// an arbitrary order (L2): it is refused like any bad weight, in every command that reads one.
TEST(QueryInputs, WeightsBeyondFloatRangeAreRefused) {
  SmallLibrary& l = small_library();
  std::string out, err;
  const std::string seed = q(l.music + "/song0.flac");
  for (const std::string& args : std::vector<std::string>{"search tone --seed " + seed + ":1e39", "search tone --not noise:1e300",
                                   "similar --seed " + seed + ":1e39", "similar --seed " + seed + " --not-like " +
                                                                           q(l.music + "/song1.flac") + ":3.5e38"}) {
    EXPECT_EQ(cli(args, &out, &err), 2) << args << ": " << out;
    EXPECT_NE(err.find("at most 3.4e38"), std::string::npos) << args << ": " << err;
  }
  EXPECT_EQ(cli("search tone --seed " + seed + ":3e38 --json", &out, &err), 0) << err;  // the largest float passes
  // A hexadecimal weight (strtod reads 0x1p3 as 8) is refused as every other number option refuses it.
  for (const std::string& args : {"similar --seed " + seed + ":0x1p3", std::string("search tone --not noise:0X1P-3")}) {
    EXPECT_EQ(cli(args, &out, &err), 2) << args << ": " << out;
    EXPECT_NE(err.find("must be a decimal number"), std::string::npos) << args << ": " << err;
  }
}

// Small weights only set ratios: `similar --seed X:1e-7` was refused as "the query's seeds and
// negatives cancel out" (the weighted sum's square fell under the threshold), and
// `like --seed X:1e-13` scored every track 0 (its query chunk was left unnormalised). Both now
// answer as with weight 1 (L2 sibling, found by the recheck).
TEST(QueryInputs, SmallWeightsAnswerAsWeightOne) {
  SmallLibrary& l = small_library();
  const std::string seed = q(l.music + "/song0.flac");
  for (const std::string& command : {std::string("similar"), std::string("like")}) {
    std::string out, err;
    ASSERT_EQ(cli(command + " --seed " + seed + " -k 3 --json", &out, &err), 0) << command << ": " << err;
    // like lists its matches (the similarity is total_similarity), similar an object with results.
    const auto results = [](const std::string& text) {
      const json j = json::parse(text);
      return j.is_array() ? j : j["results"];
    };
    const std::string score = command == "like" ? "total_similarity" : "score";
    const json one = results(out);
    for (const char* w : {"1e-7", "1e-13", "1e-30"}) {
      ASSERT_EQ(cli(command + " --seed " + seed + ":" + w + " -k 3 --json", &out, &err), 0) << command << " " << w << ": " << err;
      const json small = results(out);
      ASSERT_EQ(small.size(), one.size()) << command << " " << w << ": " << out;
      for (size_t i = 0; i < one.size(); ++i) {
        EXPECT_EQ(small[i]["path"], one[i]["path"]) << command << " " << w;
        EXPECT_NEAR(small[i][score].get<double>(), one[i][score].get<double>(), 1e-5) << command << " " << w;
      }
    }
  }
}

// A word that is not a command, at any level, is named (rough edge 2), as `clapsearch serch` is.
TEST(QueryInputs, AWrongCommandWordIsNamed) {
  std::string out, err;
  EXPECT_EQ(test::run_cli("eval foo", &out, &err), 2);
  EXPECT_NE(err.find("unknown command 'foo' for clapsearch eval (commands: zero-shot, retrieval)"), std::string::npos) << err;
  EXPECT_EQ(test::run_cli("-x", &out, &err), 2);
  EXPECT_NE(err.find("unknown option '-x'"), std::string::npos) << err;
  EXPECT_EQ(err.find("A subcommand is required"), std::string::npos) << err;
  EXPECT_EQ(test::run_cli("eval", &out, &err), 2);  // nothing wrong typed: CLI11's own message stays
}

// Hostile pass 8 (H8C-5): a NUL byte in a --seeds-from file reached the error naming the entry,
// which stopped at it: "clapsearch: error: --seeds-from FILE: 1" and no reason. The line is named.
TEST(QueryInputs, ANulInASeedListIsNamedWithItsLine) {
  const std::string list = test::temp_dir() + "/seeds.txt";
  {
    std::ofstream f(list, std::ios::binary);
    f << "1\n" << std::string("2\0" "3\n", 3);
  }
  std::string out, err;
  for (const char* command : {"similar", "like"}) {
    EXPECT_NE(cli(std::string(command) + " --seeds-from " + q(list), &out, &err), 0) << command;
    EXPECT_NE(err.find(list + " line 2: holds a NUL byte"), std::string::npos) << command << ": " << err;
  }
}

// H13C-3's sibling (hostile pass 13): a query or label file holding a NUL byte (a gzip-compressed
// list, a picture named by mistake) was read line by line as queries or labels of binary garbage:
// `classify --labels-file list.gz` ranked the songs by them. Its line is named, as a seed list's.
TEST(QueryInputs, ANulInAQueryOrLabelFileIsNamedWithItsLine) {
  const std::string list = test::temp_dir() + "/queries.txt";
  {
    std::ofstream f(list, std::ios::binary);
    f << "rain\n" << std::string("pi\0ano\n", 7) << "drums\n";
  }
  std::string out, err;
  for (const std::string& command : {"search --queries " + q(list), "analyze --csv /dev/null --queries " + q(list),
                                     "classify --all --labels-file " + q(list)}) {
    EXPECT_EQ(cli(command, &out, &err), 1) << command;
    EXPECT_NE(err.find(list + ": line 2 holds a NUL byte"), std::string::npos) << command << ": " << err;
  }
}

// R11C-5's sibling: a seed list's entry naming no track was echoed whole (a 1 MB line, 1 MB of
// error; a list is read up to 64 MiB). It shows its first 200 bytes and its size.
TEST(QueryInputs, AnUnknownSeedIsNotEchoedWhole) {
  const std::string list = test::temp_dir() + "/long-seed.txt";
  std::ofstream(list, std::ios::binary) << std::string(size_t{1} << 20, 'x') << "\n";
  std::string out, err;
  for (const char* command : {"similar", "like"}) {
    EXPECT_EQ(cli(std::string(command) + " --seeds-from " + q(list), &out, &err), 1) << command;
    EXPECT_NE(err.find("bytes): no such file, and no track with that id or path in the index"), std::string::npos)
        << command << ": " << err.substr(0, 500);
    EXPECT_LT(err.size(), 2000u) << command;
  }
}

// Hostile pass 8's rough edge: `playlist --seed 1:nan` (a weight, as `similar --seed` takes one)
// said "no track with that id or path in the index", as the text is tried as a path first. The
// track before the ':' exists, so the tail is what is named: not a finite number, and a playlist
// seed (or path's FROM/TO) takes no weight. A weight that is a number is refused the same way.
TEST(QueryInputs, AWeightOnAPlaylistSeedIsNamed) {
  std::string out, err;
  for (const char* weight : {"nan", "inf", "-inf", "1e400"}) {
    EXPECT_EQ(cli(std::string("playlist --seed 1:") + weight, &out, &err), 2) << weight << ": " << err;
    EXPECT_NE(err.find(std::string("seed '1:") + weight + "': the weight '" + weight + "' after ':' is not a finite number"),
              std::string::npos)
        << weight << ": " << err;
    EXPECT_NE(err.find("takes no weight"), std::string::npos) << err;
  }
  EXPECT_EQ(cli("playlist --seed 1:0.5", &out, &err), 2) << err;
  EXPECT_NE(err.find("seed '1:0.5': a seed takes no weight"), std::string::npos) << err;
  EXPECT_EQ(cli("path 1:nan 2", &out, &err), 2) << err;
  EXPECT_NE(err.find("FROM '1:nan': the weight 'nan' after ':' is not a finite number"), std::string::npos) << err;
  EXPECT_EQ(cli("playlist --seed 999999:nan", &out, &err), 1) << err;  // no such track: said as before
  EXPECT_NE(err.find("no track with that id or path in the index"), std::string::npos) << err;
  // Where weights are taken, a weight that is no finite number names the seed and the reason.
  EXPECT_EQ(cli("similar --seed 1:nan", &out, &err), 2) << err;
  EXPECT_NE(err.find("--seed 1:nan: the weight after ':' must be a finite number"), std::string::npos) << err;
}

// A seed list's track id with a weight ("2:0.5", as --seed takes it) was made a path in the list's
// folder ("DIR/2:0.5") and named no track; a bad weight there is named with the entry.
TEST(QueryInputs, ASeedListTakesTrackIdsWithWeights) {
  const std::string dir = test::temp_dir() + "/weighted-seeds";
  fs::create_directories(dir);
  std::ofstream(dir + "/seeds.m3u") << "1:2\n2:0.5\n";
  std::ofstream(dir + "/bad.m3u") << "1\n2:nan\n";
  std::string out, err;
  ASSERT_EQ(cli("similar --seeds-from " + q(dir + "/seeds.m3u") + " --json", &out, &err), 0) << err;
  EXPECT_EQ(cli("similar --seeds-from " + q(dir + "/bad.m3u"), &out, &err), 2) << err;
  EXPECT_NE(err.find("2:nan: the weight after ':' must be a finite number"), std::string::npos) << err;
  // `-` is standard input, as for every list the user names.
  ASSERT_EQ(cli("similar --seeds-from - --json < " + q(dir + "/seeds.m3u"), &out, &err), 0) << err;
}

// Hostile pass 8 (R8C-1): `overlaps --min-length 1e308` answered "no shared passages of 1000…682 s"
// (all 309 digits) and 1e-300 "of 0 s": the length is printed as given.
TEST(QueryInputs, AnOverlapsLengthIsPrintedAsGiven) {
  std::string out, err;
  ASSERT_EQ(cli("overlaps --min-length 1e308", &out, &err), 0) << err;
  EXPECT_EQ(out, "no shared passages of 1e+308 s or more\n");
  ASSERT_EQ(cli("overlaps --min-length 1e-300", &out, &err), 0) << err;
  EXPECT_EQ(out, "no shared passages of 1e-300 s or more\n");
}

// Set numbers start at 1: a clear message, not a range up to a 309-digit number (rough edge 1).
TEST(QueryInputs, ASetNumberBelowOneIsNamed) {
  std::string out, err;
  for (const char* bad : {"0", "abc", "-1"}) {
    EXPECT_EQ(cli(std::string("models --activate ") + bad, &out, &err), 2) << bad;
    EXPECT_NE(err.find("must be a set number >= 1"), std::string::npos) << err;
    EXPECT_LT(err.size(), 400u) << err;
  }
}

// A short path is called a path (rough edge 7); a radio whose other candidates are all copies
// of its seed says the copies were left out (rough edge 8).
TEST(QueryInputs, AShortPathOrRadioSaysWhy) {
  SmallLibrary& l = small_library();
  std::string out, err;
  ASSERT_EQ(cli("path " + q(l.music + "/song0.flac") + " " + q(l.music + "/song1.flac") + " -n 1000", &out, &err), 0) << err;
  EXPECT_NE(err.find("the path holds "), std::string::npos) << err;
  EXPECT_NE(err.find(" of the 1000 tracks asked for"), std::string::npos) << err;
  EXPECT_EQ(err.find("the playlist holds"), std::string::npos) << err;
  ASSERT_EQ(cli("playlist --seed " + q(l.music + "/copy-a.wav") + " -n 6 --where 'path ~ \"copy\"'", &out, &err), 0) << err;
  EXPECT_NE(err.find("the playlist holds 1 of the 6 tracks asked for"), std::string::npos) << err;
  EXPECT_NE(err.find("copies of one recording play once"), std::string::npos) << err;
}

// Of a 48 kHz AAC original and a FLAC made from a 22.05 kHz copy of it, the AAC is kept: the FLAC
// stops at 11 kHz, however lossless its container.
TEST(QueryInputs, DuplicatesKeepTheWiderBandBeforeTheLosslessContainer) {
  const std::string dir = test::temp_dir() + "/keeper", db = dir + "/library.db";
  fs::remove_all(dir);
  const std::string source = dir + "/source.wav";
  test::ffmpeg(source, "-f lavfi -i \"aevalsrc='0.3*sin(2*PI*(300+200*sin(2*PI*0.25*t))*t)+0.2*sin(2*PI*5000*t)':s=48000:d=30\"");
  test::ffmpeg(dir + "/music/original.m4a", "-i " + q(source) + " -c:a aac -b:a 160k -ar 48000");
  test::ffmpeg(dir + "/music/copy.flac", "-i " + q(source) + " -ar 22050");
  test::index_library(dir + "/music", db, test::case_dir("tiny-unfused"));
  std::string out, err;
  ASSERT_EQ(test::run_cli("duplicates --json --db " + q(db), &out, &err), 0) << err;
  const json groups = json::parse(out);
  ASSERT_EQ(groups.size(), 1u) << out;
  ASSERT_EQ(groups[0]["tracks"].size(), 2u) << out;
  const json& keeper = groups[0]["tracks"][0];  // the keeper comes first
  EXPECT_TRUE(keeper["keeper"].get<bool>()) << out;
  EXPECT_NE(keeper["path"].get<std::string>().find("original.m4a"), std::string::npos) << out;
}

// Issue 53: a lossless file made from a lossy copy (a FLAC of a 64 kb/s MP3, at the same 44.1 kHz)
// says "44.1 kHz lossless" in its header but stops where the MP3 does (about 17 kHz): the measured
// bandwidth decides before the container. A full-band FLAC is kept over both; without it the
// original MP3 is kept over the FLAC made from it (which adds nothing to it), and the table says
// why.
TEST(QueryInputs, DuplicatesKeepTheMeasuredBandBeforeTheLosslessContainer) {
  const std::string dir = test::temp_dir() + "/measured-band", db = dir + "/library.db";
  fs::remove_all(dir);
  const std::string source = dir + "/source.flac";
  test::ffmpeg(source, "-f lavfi -i anoisesrc=color=pink:d=20:seed=5:sample_rate=44100 -c:a flac");
  test::ffmpeg(dir + "/music/original.mp3", "-i " + q(source) + " -c:a libmp3lame -b:a 64k");
  test::ffmpeg(dir + "/music/from-mp3.flac", "-i " + q(dir + "/music/original.mp3") + " -c:a flac");
  test::ffmpeg(dir + "/music/true.flac", "-i " + q(source) + " -c:a flac -sample_fmt s32");  // 24-bit, as from-mp3.flac
  const auto keeper = [&] {
    test::index_library(dir + "/music", db, test::case_dir("tiny-unfused"));
    std::string out, err;
    EXPECT_EQ(test::run_cli("duplicates --json --db " + q(db), &out, &err), 0) << err;
    const json groups = json::parse(out);
    EXPECT_EQ(groups.size(), 1u) << out;
    if (groups.size() != 1) return std::string();
    EXPECT_TRUE(groups[0]["tracks"][0]["keeper"].get<bool>()) << out;
    return fs::path(groups[0]["tracks"][0]["path"].get<std::string>()).filename().string();
  };
  EXPECT_EQ(keeper(), "true.flac");
  fs::remove(dir + "/music/true.flac");
  EXPECT_EQ(keeper(), "original.mp3");
  std::string out, err;
  ASSERT_EQ(test::run_cli("duplicates --db " + q(db), &out, &err), 0) << err;
  EXPECT_NE(out.find("made from a lossy copy (its audio stops at 17"), std::string::npos) << out;
}

// `doctor --db` checks the index's own model (L15): no hub model is needed, offline.
TEST(QueryInputs, DoctorChecksTheModelOfTheIndexItIsGiven) {
  std::string out, err;
  ASSERT_EQ(test::run_cli("doctor --json --db " + q(small_library().db), &out, &err, "HF_HUB_OFFLINE=1"), 0) << err << out;
  EXPECT_NE(json::parse(out)["dir"].get<std::string>().find("tiny-unfused"), std::string::npos) << out;
  // H8C-6: an index that cannot be read (damaged, missing) fell back to the default hub model in
  // silence; offline, the hub's error was all it said. The index's own error is said first.
  const std::string damaged = test::temp_dir() + "/damaged.db";
  std::ofstream(damaged) << "not an index";
  EXPECT_EQ(test::run_cli("doctor --db " + q(damaged), &out, &err, "HF_HUB_OFFLINE=1 HF_HOME=" + q(test::temp_dir() + "/hf")), 1);
  EXPECT_NE(err.find(damaged + ": cannot read the index's model ("), std::string::npos) << err;
}

// Two models' sets in one index: searching with the inactive set's model advises switching to it,
// not a rebuild (L12); a set whose model folder is gone is not activated (L11), and is once the
// folder is back.
TEST(QueryInputs, SwitchingSetsChecksTheModelAndIsWhatTheMessagesAdvise) {
  SmallLibrary& l = small_library();
  const std::string dir = test::temp_dir() + "/two-sets", db = dir + "/library.db", model = dir + "/second-model";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(l.db, db);
  fs::copy(test::case_dir("tiny-fused"), model, fs::copy_options::recursive);
  std::string out, err;
  ASSERT_EQ(test::run_cli("index " + q(l.music) + " --db " + q(db) + " --model " + q(model) + " --switch-when never -q", &out, &err), 0)
      << err;
  EXPECT_EQ(test::run_cli("search tone --db " + q(db) + " --model " + q(model), &out, &err), 1);
  EXPECT_NE(err.find("clapsearch models --activate 2"), std::string::npos) << err;
  EXPECT_EQ(err.find("--rebuild"), std::string::npos) << err;

  fs::rename(model, model + "-away");
  EXPECT_EQ(test::run_cli("models --activate 2 --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("embedding set 2"), std::string::npos) << err;
  EXPECT_NE(err.find("cannot be activated"), std::string::npos) << err;
  ASSERT_EQ(test::run_cli("models --json --db " + q(db), &out, &err), 0) << err;
  EXPECT_TRUE(json::parse(out)[0]["active"]) << out;  // nothing switched
  fs::rename(model + "-away", model);
  ASSERT_EQ(test::run_cli("models --activate 2 --db " + q(db), &out, &err), 0) << err;
  ASSERT_EQ(test::run_cli("models --json --db " + q(db), &out, &err), 0) << err;
  EXPECT_TRUE(json::parse(out)[1]["active"]) << out;
}

// A text cut at the model's 512-token limit was warned of on its first search only: the cut
// embedding went into the text cache, and a cache hit runs no tokenizer, which is what warns
// (hostile pass 20, H20C-1). It is not cached now, so every search warns the same.
TEST(QueryInputs, ATextCutAtTheModelsLimitIsWarnedOfOnEverySearch) {
  std::string text;
  for (int i = 0; i < 600; ++i) text += "cut" + std::to_string(i % 10) + " ";
  const std::string warning = "warning: text cut to the model's limit of 512 tokens: \"" + text.substr(0, 60) + "...\"";
  std::string first, second, err;
  ASSERT_EQ(cli("search " + q(text) + " -k 2 -v", &first, &err), 0) << err;
  EXPECT_NE(err.find(warning), std::string::npos) << err;
  ASSERT_EQ(cli("search " + q(text) + " -k 2 -v", &second, &err), 0) << err;
  EXPECT_NE(err.find(warning), std::string::npos) << err;
  EXPECT_NE(err.find("0 hit(s), 1 miss(es)"), std::string::npos) << err;
  EXPECT_EQ(first, second);  // the same embedding, the same answer
  // A text below the limit is still cached: its second search runs no model and says nothing.
  ASSERT_EQ(cli("search 'a short query for the cache' -k 2 -v", &first, &err), 0) << err;
  ASSERT_EQ(cli("search 'a short query for the cache' -k 2 -v", &second, &err), 0) << err;
  EXPECT_NE(err.find("1 hit(s), 0 miss(es)"), std::string::npos) << err;
  EXPECT_EQ(err.find("warning"), std::string::npos) << err;
}

}  // namespace
}  // namespace clap
