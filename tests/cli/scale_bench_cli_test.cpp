// `clapsearch bench --scale` as a real process, small: it fills an empty SQLite file and an empty
// database of a real PostgreSQL server with the same synthetic library, builds the compressed
// window index from each store, and measures it. The two stores hold the same vectors, so the
// index file and the recall are the same; a second run measures the library it loaded before;
// a database holding anything else is refused and left alone. Speed is not asserted (README).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string q(const std::string& s) { return test::quoted(s); }

int cli(const std::string& args, std::string* out, std::string* err) {
  return test::run_cli(args, out, err, "XDG_CACHE_HOME=" + q(test::temp_dir() + "/cache"));
}

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// 400 tracks of 20 windows: 8,000 windows, 64 lists (the smallest library the 64-byte codes'
// training accepts without complaint is larger; FAISS warns on stderr and trains anyway).
// Rows: nprobe 4 and 64, each by the first codes alone (refine 0) and by both (the default).
const std::string kArgs = " --scale 400 --queries 20 --nprobe 4 64 --shortlist 100 --json";

TEST(ScaleBenchCli, BothStoresGiveTheSameIndexAndRecall) {
  const std::string dir = test::temp_dir() + "/scale";
  fs::create_directories(dir);
  const std::string url = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(cli("bench --db " + q(dir + "/lib.db") + " --index-file " + q(dir + "/sqlite.idx") + kArgs, &out, &err), 0)
      << err;
  const json a = json::parse(out);
  ASSERT_EQ(cli("bench --db " + q(url) + " --index-file " + q(dir + "/pg.idx") + kArgs, &out, &err), 0) << err;
  const json b = json::parse(out);
  for (const json* j : {&a, &b}) {
    EXPECT_EQ((*j)["tracks"], 400);
    EXPECT_EQ((*j)["windows"], 8000);
    EXPECT_EQ((*j)["loaded"], true);
    EXPECT_EQ((*j)["nlist"], 64);
    EXPECT_EQ((*j)["code_bytes"], 64);
    EXPECT_EQ((*j)["refine_bytes"], 64);  // as a node builds it
    EXPECT_EQ((*j)["train_points"], 8000);
    ASSERT_EQ((*j)["queries"].size(), 4u);
    EXPECT_EQ((*j)["queries"][1]["refine"], 4000);
    EXPECT_EQ((*j)["queries"][2]["refine"], 0);
    EXPECT_EQ((*j)["filtered"]["tracks"], 4);       // 1 % of the tracks (issue 38's selective filter)
    EXPECT_EQ((*j)["filtered"]["windows"], 4 * 20);
    EXPECT_GT((*j)["index_bytes"].get<int64_t>(), 8000 * (64 + 64));
    EXPECT_LT((*j)["index_bytes"].get<int64_t>(), 8000 * 512 * 4 / 4);  // far below the float32 windows
  }
  EXPECT_EQ(a["store"], "sqlite");
  EXPECT_EQ(b["store"], "postgresql");
  EXPECT_EQ(bytes_of(dir + "/sqlite.idx"), bytes_of(dir + "/pg.idx")) << "the same windows built different indexes";
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(a["queries"][i]["recall"], b["queries"][i]["recall"]);
  // Every list probed: only the PQ shortlist stands between the index and exact search. 400
  // tracks over the generator's 1,000 styles leave most queries without a track of their style,
  // so their neighbours sit near noise level and PQ ranks them loosely; the recall bound on
  // clustered data is compressed_index_test's.
  EXPECT_GE(a["queries"][2]["recall"].get<double>(), 0.5);
  EXPECT_LE(a["queries"][0]["recall"].get<double>(), a["queries"][2]["recall"].get<double>() + 1e-9);
  // The same 100 windows read, chosen by both codes out of 4,000: a better shortlist.
  EXPECT_GT(a["queries"][3]["recall"].get<double>(), a["queries"][2]["recall"].get<double>());

  // Measured again without loading again, saved this time where a search node looks (the
  // default, beside the SQLite file). One run checks both: each run builds the index again, the
  // costliest step of this test.
  ASSERT_EQ(cli("bench --db " + q(dir + "/lib.db") + kArgs, &out, &err), 0) << err;
  const json c = json::parse(out);
  EXPECT_EQ(c["loaded"], false);
  EXPECT_EQ(c["queries"][3]["recall"], a["queries"][3]["recall"]);
  const std::string node_index = dir + "/lib.db.windows.ivfpq";
  EXPECT_EQ(bytes_of(node_index), bytes_of(dir + "/sqlite.idx"));
  EXPECT_TRUE(fs::exists(node_index + ".norms"));

  // There, the index is the node's: a query command in compressed mode loads it instead of
  // building its own.
  ASSERT_EQ(cli("like --track 5 -k 3 --window-index compressed -v --db " + q(dir + "/lib.db"), &out, &err), 0) << err;
  EXPECT_NE(err.find(": loaded, 8000 windows"), std::string::npos) << err;
  EXPECT_EQ(err.find("built over"), std::string::npos) << err;
  std::string memory;
  ASSERT_EQ(cli("like --track 5 -k 3 --window-index memory --db " + q(dir + "/lib.db"), &memory, &err), 0) << err;
  EXPECT_EQ(out, memory);
}

TEST(ScaleBenchCli, RefusesADatabaseThatHoldsSomethingElse) {
  const std::string dir = test::temp_dir() + "/scale-refuse";
  fs::create_directories(dir);
  std::string out, err;
  // A synthetic library of other parameters: refused, not measured as if it were this one.
  ASSERT_EQ(cli("bench --db " + q(dir + "/lib.db") + " --scale 100 --queries 2 --nprobe 4 --windows-per-track 20",
                &out, &err),
            0)
      << err;
  const auto before = fs::file_size(dir + "/lib.db");
  EXPECT_EQ(cli("bench --db " + q(dir + "/lib.db") + " --scale 120 --queries 2", &out, &err), 1);
  EXPECT_NE(err.find("synthetic library of other parameters"), std::string::npos) << err;
  EXPECT_EQ(fs::file_size(dir + "/lib.db"), before);
  // A real index (tiny model, one real file): refused by name.
  const std::string music = dir + "/music";
  test::ffmpeg(music + "/tone.flac", "-f lavfi -i \"sine=f=440:d=12:sample_rate=44100\"");
  ASSERT_EQ(test::run_command("HF_HUB_OFFLINE=1 " + test::cli_command() + " index " + q(music) + " --db " +
                                  q(dir + "/real.db") + " --model " + q(test::case_dir("tiny-unfused")) + " -q",
                              &out, &err),
            0)
      << err;
  EXPECT_EQ(cli("bench --db " + q(dir + "/real.db") + " --scale 100", &out, &err), 1);
  EXPECT_NE(err.find("an index of"), std::string::npos) << err;
  EXPECT_NE(err.find("fills an empty database only"), std::string::npos) << err;
  // No --db: never the user's default library.
  EXPECT_NE(cli("bench --scale 100", &out, &err), 0);
  EXPECT_NE(err.find("--scale needs --db"), std::string::npos) << err;
}


// --index-file replaced whatever file it named with the compressed index, exit status 0: a slip
// (`--index-file library.db`, a song) cost an index's users, plays and playlists, or a recording
// (hostile pass 21, H21C-2). It may replace an earlier --scale run's index (and its norms) only,
// and makes no folder.
TEST(ScaleBenchCli, TheIndexFileNeverReplacesAnotherFile) {
  const std::string dir = test::temp_dir() + "/scale-index-file";
  const std::string music = dir + "/music";
  test::ffmpeg(music + "/tone.flac", "-f lavfi -i \"sine=f=440:d=12:sample_rate=44100\"");
  test::index_library(music, dir + "/real.db", test::case_dir("tiny-unfused"));
  std::ofstream(dir + "/notes.txt") << "mine\n";
  std::ofstream(dir + "/mine.idx.norms") << "mine\n";
  const std::string small = " --scale 100 --windows-per-track 4 --queries 2 --nprobe 4 --shortlist 20";
  const std::string db = q(dir + "/lib.db");
  std::string out, err;
  for (const std::string name : {"real.db", "music/tone.flac", "notes.txt", "mine.idx"}) {
    const std::string victim = name == "mine.idx" ? "mine.idx.norms" : name;
    const std::string before = bytes_of(dir + "/" + victim);
    EXPECT_EQ(cli("bench --db " + db + small + " --index-file " + q(dir + "/" + name), &out, &err), 1) << name;
    EXPECT_NE(err.find(dir + "/" + victim + ": --index-file: there is a file there"), std::string::npos) << err;
    EXPECT_TRUE(bytes_of(dir + "/" + victim) == before) << victim << " was replaced";
  }
  EXPECT_FALSE(fs::exists(dir + "/lib.db")) << "refused before the synthetic library is made";
  ASSERT_EQ(test::run_command("HF_HUB_OFFLINE=1 " + test::cli_command() + " status --json --db " + q(dir + "/real.db"), &out, &err), 0)
      << err;
  EXPECT_EQ(json::parse(out)["tracks"], 1);
  EXPECT_EQ(cli("bench --db " + db + small + " --index-file " + q(dir + "/typo/x.idx"), &out, &err), 1);
  EXPECT_NE(err.find("the folder " + dir + "/typo does not exist"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir + "/typo"));
  // An earlier run's index and norms are replaced by the next run's.
  ASSERT_EQ(cli("bench --db " + db + small + " --index-file " + q(dir + "/x.idx"), &out, &err), 0) << err;
  ASSERT_EQ(cli("bench --db " + db + small + " --index-file " + q(dir + "/x.idx"), &out, &err), 0) << err;
  EXPECT_EQ(bytes_of(dir + "/x.idx").substr(0, 8), "CLAPCIDX");
  EXPECT_EQ(bytes_of(dir + "/x.idx.norms").substr(0, 8), "CLAPNRM1");
}

}  // namespace
}  // namespace clap
