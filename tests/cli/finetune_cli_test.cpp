// `clapsearch finetune` end to end (issue: fine-tuning), as real processes on a library of real
// encoded files (16 tracks in four tagged genres, made with ffmpeg) indexed with the tiny
// random-weight golden model: the report, early stopping, the model folder and its use on the
// same index without re-indexing, determinism, "no improvement", and clear errors.
// The golden model has random weights: what its recall figures say about music is nothing;
// the tests check the mechanics, and one learnable setting where an epoch must beat the original.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/clap.h"
#include "support/golden.h"
#include "support/torch_archive.h"  // read_file

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
std::string q(const std::string& s) { return test::quoted(s); }

struct Library {
  std::string root = test::temp_dir() + "/finetune";
  std::string music = root + "/music", db = root + "/library.db", model = root + "/base";
  int cli(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) const {
    return test::run_cli(args, out, err, "HF_HOME=" + q(root + "/hf") + " XDG_CACHE_HOME=" + q(root + "/cache"));
  }
  // cli() under a hang guard: a run past `seconds` is stopped (exit status 124, not the one expected).
  int cli_guarded(const std::string& args, std::string* out, std::string* err, int seconds) const {
    return test::run_cli(args, out, err,
                         "HF_HOME=" + q(root + "/hf") + " XDG_CACHE_HOME=" + q(root + "/cache") + " timeout -k 5 " +
                             std::to_string(seconds));
  }
};

Library* g_lib = nullptr;

class FinetuneCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_lib = new Library;
    const Library& l = *g_lib;
    fs::remove_all(l.root);
    fs::create_directories(l.music);
    fs::copy(test::case_dir("tiny-unfused"), l.model, fs::copy_options::recursive);
    // Four genres that sound different: low sines, high sines, pink and white noise.
    const char* genres[] = {"ambient", "techno", "noise", "chiptune"};
    int i = 0;
    for (int g = 0; g < 4; ++g)
      for (int k = 1; k <= 4; ++k) {
        ++i;
        std::string source;
        if (g == 0) source = "sine=frequency=" + std::to_string(200 + 30 * k) + ":duration=12";
        if (g == 1) source = "sine=frequency=" + std::to_string(800 + 50 * k) + ":duration=12";
        if (g == 2) source = "anoisesrc=color=pink:seed=" + std::to_string(k) + ":duration=12";
        if (g == 3) source = "anoisesrc=color=white:seed=" + std::to_string(k) + ":duration=12";
        char name[64];
        std::snprintf(name, sizeof name, "/%02d_%s.flac", i, genres[g]);
        test::ffmpeg(l.music + name, "-f lavfi -i " + source + " -ar 48000 -metadata title='Song " + std::to_string(i) +
                                         "' -metadata artist='Artist " + std::to_string(k) + "' -metadata genre=" +
                                         genres[g] + " -metadata album='Album " + genres[g] + "'");
      }
    std::string out, err;
    ASSERT_EQ(l.cli("index " + q(l.music) + " --db " + q(l.db) + " --model " + q(l.model) + " -q", &out, &err), 0) << err;
  }
  static void TearDownTestSuite() {
    delete g_lib;
    g_lib = nullptr;
  }
  // A failed ASSERT in SetUpTestSuite only ends that function: without this, every test would
  // then run on a library that was never built (or be counted as passed).
  void SetUp() override { ASSERT_TRUE(g_lib && fs::exists(g_lib->db)) << "library not built"; }
  const Library& lib() const { return *g_lib; }
};

// What makes an epoch beat the original on this data (found by running it; deterministic).
const std::string kLearnable = " --epochs 30 --patience 5 --lr 1e-3 --val-split 0.5 ";

TEST_F(FinetuneCli, WritesAModelTheIndexTakesAsItIs) {
  const Library& l = lib();
  const std::string tuned = l.root + "/tuned";
  std::string out, err;
  ASSERT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(tuned) + kLearnable + "--json", &out, &err), 0) << err;
  const json report = json::parse(out);
  EXPECT_EQ(report["data"]["tracks"], 16);
  EXPECT_EQ(report["data"]["captioned_tracks"], 16);
  EXPECT_EQ(report["split"]["train_tracks"], 8);
  EXPECT_EQ(report["split"]["val_tracks"], 8);
  EXPECT_EQ(report["templates"].size(), 5u);
  EXPECT_EQ(report["templates"][0]["tracks"], 0);   // needs {tags}: no track has tags
  EXPECT_EQ(report["templates"][1]["tracks"], 16);  // genre, title, artist
  // Random ranking of 8 tracks: R@1 = 1/8, R@10 = 1.
  EXPECT_DOUBLE_EQ(report["random_baseline"]["r1"].get<double>(), 0.125);
  EXPECT_DOUBLE_EQ(report["random_baseline"]["r10"].get<double>(), 1.0);
  EXPECT_EQ(report["original"]["epoch"], 0);
  EXPECT_TRUE(report["original"]["train_loss"].is_null());
  const json& epochs = report["epochs"];
  ASSERT_GE(epochs.size(), 1u);
  const int best = report["best_epoch"];
  ASSERT_GT(best, 0) << out;
  EXPECT_TRUE(report["improved"]);
  EXPECT_TRUE(report["model_written"]);
  EXPECT_EQ(report["written_epoch"], best);
  EXPECT_GT(epochs[best - 1]["mean_recall"].get<double>(), report["original"]["mean_recall"].get<double>());
  // Early stopping: patience 5 epochs after the best, fewer than --epochs ran.
  EXPECT_TRUE(report["stopped_early"]);
  EXPECT_EQ(static_cast<int>(epochs.size()), best + 5);
  for (const json& e : epochs) {
    EXPECT_TRUE(e["train_loss"].is_number());
    EXPECT_GE(e["text_to_audio"]["r10"].get<double>(), e["text_to_audio"]["r5"].get<double>());
  }

  // A complete Hugging Face folder with the report.
  for (const char* name : {"config.json", "model.safetensors", "preprocessor_config.json", "vocab.json", "merges.txt",
                           "training_report.json"})
    EXPECT_TRUE(fs::exists(tuned + "/" + name)) << name;
  EXPECT_EQ(json::parse(test::read_file(tuned + "/training_report.json")), report);

  // The index takes it as it is: text queries with the tuned model, no re-embedding.
  ASSERT_EQ(l.cli("search 'ambient music' --db " + q(l.db) + " --model " + q(tuned) + " --json", &out, &err), 0) << err;
  const json tuned_hits = json::parse(out);
  ASSERT_EQ(l.cli("search 'ambient music' --db " + q(l.db) + " --json", &out, &err), 0) << err;
  const json base_hits = json::parse(out);
  ASSERT_FALSE(tuned_hits.empty());
  ASSERT_EQ(tuned_hits.size(), base_hits.size());
  EXPECT_NE(tuned_hits.front()["score"], base_hits.front()["score"]);  // another text head
  ASSERT_EQ(l.cli("eval retrieval --captions-csv " + q(l.root + "/none.csv") + " --db " + q(l.db), &out, &err), 1);
  {
    std::ofstream csv(l.root + "/captions.csv");
    csv << "path,caption\nmusic/01_ambient.flac,ambient music\nmusic/05_techno.flac,techno music\n";
  }
  ASSERT_EQ(l.cli("eval retrieval --captions-csv " + q(l.root + "/captions.csv") + " --db " + q(l.db) + " --model " + q(tuned) +
                      " --json",
                  &out, &err),
            0)
      << err;
  EXPECT_EQ(json::parse(out)["text_to_audio"]["queries"], 2);

  // The before/after map: the same dots (the audio side did not change), the class texts moved.
  ASSERT_EQ(l.cli("map --db " + q(l.db) + " --out " + q(l.root + "/map.svg") + " --model " + q(l.model) + " --model " +
                      q(tuned) + " --json",
                  &out, &err),
            0)
      << err;
  const json map = json::parse(out);
  ASSERT_EQ(map["panels"].size(), 2u);
  const json &before = map["panels"][0], &after = map["panels"][1];
  EXPECT_EQ(before["explained_variance"], after["explained_variance"]);
  EXPECT_EQ(before["knn_full"], after["knn_full"]);
  EXPECT_EQ(before["knn_2d"], after["knn_2d"]);
  ASSERT_EQ(before["classes"].size(), 4u);
  for (size_t c = 0; c < 4; ++c) EXPECT_NE(before["classes"][c]["anchor"], after["classes"][c]["anchor"]) << c;
  EXPECT_TRUE(fs::exists(l.root + "/map.svg"));

  // Indexing with the tuned model re-embeds nothing and makes it the index's model; the base
  // model is taken back the same way.
  ASSERT_EQ(l.cli("index " + q(l.music) + " --db " + q(l.db) + " --model " + q(tuned) + " --json -q", &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out)["unchanged"], 16);
  EXPECT_EQ(json::parse(out)["indexed"], 0);
  ASSERT_EQ(l.cli("status --db " + q(l.db) + " --json", &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out)["model"]["id"], fs::canonical(tuned).string());
  ASSERT_EQ(l.cli("index " + q(l.music) + " --db " + q(l.db) + " --model " + q(l.model) + " --json -q", &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out)["unchanged"], 16);

  // An index made before audio hashes were recorded works out its model's when a fine-tune is
  // named (the model is where the index says).
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(l.db.c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, "DELETE FROM meta WHERE key = 'audio_hash'", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(h);
  }
  ASSERT_EQ(l.cli("status --db " + q(l.db) + " --json", &out, &err), 0) << err;
  EXPECT_TRUE(json::parse(out)["model"]["audio_hash"].is_null());
  ASSERT_EQ(l.cli("search 'ambient music' --db " + q(l.db) + " --model " + q(tuned) + " --json", &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out), tuned_hits);

  // The same command gives the same model, bit for bit.
  const std::string again = l.root + "/tuned-again";
  ASSERT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(again) + kLearnable + "--json", &out, &err), 0) << err;
  EXPECT_EQ(test::read_file(again + "/model.safetensors"), test::read_file(tuned + "/model.safetensors"));
  json a = json::parse(out), b = report;
  a.erase("seconds"), b.erase("seconds");
  EXPECT_EQ(a, b);
}

TEST_F(FinetuneCli, NoImprovementWritesNothingUnlessAsked) {
  const Library& l = lib();
  const std::string out_dir = l.root + "/not-better";
  std::string out, err;
  // A step too small to change any ranking: no epoch beats the original.
  ASSERT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(out_dir) + " --lr 1e-12 --epochs 3 --patience 2", &out, &err), 0)
      << err;
  EXPECT_NE(out.find("no epoch beat the original model"), std::string::npos) << out;
  EXPECT_NE(out.find("nothing written"), std::string::npos) << out;
  EXPECT_NE(out.find("original "), std::string::npos) << out;  // the epoch table's first row
  EXPECT_NE(out.find("random "), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(out_dir));
  // --keep-anyway writes the last epoch's.
  ASSERT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(out_dir) + " --lr 1e-12 --epochs 3 --patience 2 --keep-anyway --json",
                  &out, &err),
            0)
      << err;
  const json report = json::parse(out);
  EXPECT_EQ(report["best_epoch"], 0);
  EXPECT_FALSE(report["improved"]);
  EXPECT_TRUE(report["model_written"]);
  EXPECT_EQ(report["written_epoch"], 2);  // stopped after patience 2
  EXPECT_TRUE(fs::exists(out_dir + "/model.safetensors"));
  ASSERT_EQ(l.cli("search 'noise' --db " + q(l.db) + " --model " + q(out_dir), &out, &err), 0) << err;
  // Hostile pass 9, H9C-6: a step so large the weights became NaN (--lr 1e20 on a small
  // library) was written anyway, every text embedding of the folder NaN. H9C-5: --lr 0 or -1 was
  // refused with CLI11's range, "0.000000 to" a 309-digit number.
  const std::string diverged = l.root + "/diverged";
  EXPECT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(diverged) + " --lr 1e38 --epochs 2 --keep-anyway", &out, &err), 1)
      << out;
  EXPECT_NE(err.find("training diverged"), std::string::npos) << err;
  EXPECT_NE(err.find("--lr"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(diverged + "/model.safetensors"));
  for (const std::string lr : {"0", "-1"}) {
    EXPECT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(diverged) + " --lr " + lr, &out, &err), 2) << lr;
    EXPECT_NE(err.find("--lr: must be more than 0, got " + lr), std::string::npos) << err;
    EXPECT_EQ(err.find("179769"), std::string::npos) << err;
  }
}

// --train both: the audio head is trained on the tower's pooled outputs of the training tracks
// (decoded again, once), so the index must be re-embedded with the result, and says so.
TEST_F(FinetuneCli, BothHeadsNeedAReembeddedIndex) {
  const Library& l = lib();
  const std::string both = l.root + "/both";
  std::string out, err;
  ASSERT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(both) + kLearnable + "--train both --keep-anyway --json", &out, &err),
            0)
      << err;
  const json report = json::parse(out);
  EXPECT_EQ(report["trained"], json({"text_projection", "audio_projection", "logit_scale_a"}));
  EXPECT_TRUE(report["reembed_needed"]);
  EXPECT_GT(report["seconds"]["audio_tower"].get<double>(), 0.0);
  // Before any step the audio head on the pooled outputs gives the index's own embeddings: the
  // original model scores as in text mode (same split, same captions).
  ASSERT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(l.root + "/text-again") + kLearnable + "--keep-anyway --json", &out,
                  &err),
            0)
      << err;
  const json text = json::parse(out);
  EXPECT_EQ(report["original"]["text_to_audio"], text["original"]["text_to_audio"]);
  EXPECT_EQ(report["original"]["audio_to_text"], text["original"]["audio_to_text"]);
  EXPECT_NEAR(report["original"]["val_loss"].get<double>(), text["original"]["val_loss"].get<double>(), 1e-5);

  // The index refuses it for queries; a new index made with it works.
  EXPECT_EQ(l.cli("search 'noise' --db " + q(l.db) + " --model " + q(both), &out, &err), 1);
  EXPECT_NE(err.find("does not match the index"), std::string::npos) << err;
  const std::string db2 = l.root + "/both.db";
  ASSERT_EQ(l.cli("index " + q(l.music) + " --db " + q(db2) + " --model " + q(both) + " -q", &out, &err), 0) << err;
  ASSERT_EQ(l.cli("search 'noise' --db " + q(db2), &out, &err), 0) << err;
}

TEST_F(FinetuneCli, CaptionsFromACsvAndClearErrors) {
  const Library& l = lib();
  std::string out, err;
  {
    std::ofstream csv(l.root + "/tags.csv");
    csv << "path,tags\n";
    for (const auto& e : fs::directory_iterator(l.music)) {
      const std::string name = e.path().filename().string();
      if (name.find("noise") != std::string::npos || name.find("chiptune") != std::string::npos)
        csv << "music/" << name << ",noisy;harsh\n";
    }
    csv << "music/not-indexed.mp3,noisy\nelsewhere/typo.flac,harsh\n";  // said, not silently dropped
  }
  // Only the tracks in the CSV have {tags}: with a template that needs them, 8 are captioned.
  ASSERT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(l.root + "/by-tags") + " --captions-csv " + q(l.root + "/tags.csv") +
                      " --template 'Music tagged {tags}, by {artist}.' --epochs 1 --keep-anyway --json",
                  &out, &err),
            0)
      << err;
  json report = json::parse(out);
  EXPECT_EQ(report["data"]["captioned_tracks"], 8);
  EXPECT_EQ(report["data"]["not_in_csv"], 8);
  EXPECT_EQ(report["data"]["no_metadata"], 8);
  EXPECT_EQ(report["data"]["csv_paths_unmatched"], 2);
  EXPECT_NE(err.find("tags.csv: 2 of its 10 paths are not indexed tracks"), std::string::npos) << err;
  EXPECT_NE(err.find("not-indexed.mp3"), std::string::npos) << err;

  // Errors name the file or the option, and nothing is written.
  EXPECT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(l.root + "/x") + " --captions-csv " + q(l.root + "/missing.csv"),
                  &out, &err),
            1);
  EXPECT_NE(err.find("missing.csv"), std::string::npos) << err;
  // Hostile pass 9, R9C-3: /dev/zero was read up to the 2 GB bound (8 s, 2.1 GB of memory) before
  // it was refused; a stream now ends at its first NUL byte, a regular file's size is checked first.
  // The message says where the read stopped; a hang is stopped by the guard (no timed assertion).
  for (const char* option : {"--captions-csv", "--fma-tracks"}) {
    EXPECT_EQ(l.cli_guarded("finetune --db " + q(l.db) + " --out " + q(l.root + "/x") + " " + option + " /dev/zero", &out,
                            &err, 120),
              1);
    EXPECT_NE(err.find("/dev/zero: not text (a NUL byte at byte 0)"), std::string::npos) << option << err;
  }
  {
    const std::string sparse = l.root + "/huge.csv";  // 3 GB of nothing on disk: refused by its size, unread
    { std::ofstream create(sparse); }
    std::filesystem::resize_file(sparse, uint64_t{3} << 30);
    EXPECT_EQ(l.cli_guarded("finetune --db " + q(l.db) + " --out " + q(l.root + "/x") + " --captions-csv " + q(sparse), &out,
                            &err, 120),
              1);
    EXPECT_NE(err.find("huge.csv: larger than 2048 MB"), std::string::npos) << err;
    std::filesystem::remove(sparse);
  }
  EXPECT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(l.root + "/x") + " --template '{mood} music'", &out, &err), 1);
  EXPECT_NE(err.find("unknown field {mood}"), std::string::npos) << err;
  EXPECT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(l.root + "/x") + " --template 'Recorded {date}.'", &out, &err), 1);
  EXPECT_NE(err.find("0 of 16 have them"), std::string::npos) << err;
  EXPECT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(l.music), &out, &err), 1);  // not empty
  EXPECT_NE(err.find("--force"), std::string::npos) << err;
  EXPECT_EQ(l.cli("finetune --db " + q(l.root + "/no.db") + " --out " + q(l.root + "/x"), &out, &err), 1);
  EXPECT_NE(err.find("no.db"), std::string::npos) << err;
  EXPECT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(l.root + "/x") + " --train audio", &out, &err), 2);  // usage
  EXPECT_FALSE(fs::exists(l.root + "/x"));
}

// A caption is UTF-8 text: a Latin-1 caption (a spreadsheet's export) or one holding a NUL byte
// was trained on as its bytes were, exit 0 (hostile pass 22). Each is refused naming the row,
// and nothing is written; a UTF-8 caption with the same letters is taken.
TEST_F(FinetuneCli, ACaptionThatIsNotUtf8TextIsRefusedNamingItsRow) {
  const Library& l = lib();
  std::string first;
  for (const auto& e : fs::directory_iterator(l.music)) first = std::max(first, e.path().filename().string());
  const std::string run = "finetune --db " + q(l.db) + " --out " + q(l.root + "/enc") + " --epochs 1 --keep-anyway --captions-csv ";
  struct Case {
    std::string caption, expected;
  };
  for (const Case& c : {Case{"caf\xe9 ambient", "row 2: the caption \"caf"}, Case{std::string("calm\0tone", 9), "row 2: the caption holds a NUL byte (byte 5)"}}) {
    {
      std::ofstream csv(l.root + "/enc.csv", std::ios::binary);
      csv << "path,caption\nmusic/" << first << "," << c.caption << "\n";
    }
    std::string out, err;
    EXPECT_EQ(l.cli(run + q(l.root + "/enc.csv"), &out, &err), 1) << err;
    EXPECT_NE(err.find(c.expected), std::string::npos) << err;
    EXPECT_FALSE(fs::exists(l.root + "/enc"));
  }
  {
    std::ofstream csv(l.root + "/enc.csv", std::ios::binary);
    csv << "path,caption\nmusic/" << first << ",caf\xc3\xa9 ambient\n";
  }
  std::string out, err;
  EXPECT_EQ(l.cli(run + q(l.root + "/enc.csv"), &out, &err), 0) << err;
  fs::remove_all(l.root + "/enc");
}

// `finetune --out DIR --force` never deletes what it did not write (issue 33): a folder with
// other files is refused before any training, the base model's folder too; a previous
// fine-tune is replaced.
TEST_F(FinetuneCli, FinetuneForceNeverDeletesOtherFiles) {
  const Library& l = lib();
  std::string out, err;
  const std::string mine = l.root + "/mine";
  fs::create_directories(mine + "/photos");
  std::ofstream(mine + "/notes.txt") << "mine";
  std::ofstream(mine + "/photos/1.jpg") << "jpeg";
  const std::string quick = " --epochs 1 --keep-anyway --force";
  EXPECT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(mine) + quick, &out, &err), 1);
  EXPECT_NE(err.find("not a previous output"), std::string::npos) << err;
  EXPECT_NE(err.find("notes.txt"), std::string::npos) << err;
  EXPECT_NE(err.find("photos"), std::string::npos) << err;
  EXPECT_EQ(out.find("epoch"), std::string::npos) << "trained before refusing: " << out;
  EXPECT_TRUE(fs::exists(mine + "/notes.txt"));
  EXPECT_TRUE(fs::exists(mine + "/photos/1.jpg"));
  EXPECT_FALSE(fs::exists(mine + "/model.safetensors"));
  // The base model's own folder (the index's model) as --out.
  EXPECT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(l.model) + quick, &out, &err), 1);
  EXPECT_NE(err.find("holds the input"), std::string::npos) << err;
  EXPECT_NO_THROW(ClapModel::load(l.model));
  // A previous fine-tune is replaced.
  const std::string tuned = l.root + "/tuned-twice";
  ASSERT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(tuned) + " --epochs 1 --keep-anyway", &out, &err), 0) << err;
  ASSERT_EQ(l.cli("finetune --db " + q(l.db) + " --out " + q(tuned) + quick, &out, &err), 0) << err;
  EXPECT_TRUE(fs::exists(tuned + "/training_report.json"));
  EXPECT_NO_THROW(ClapModel::load(tuned));
}

}  // namespace
}  // namespace clap
