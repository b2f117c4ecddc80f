// --precision through the real CLI: `embed` and `index` in bf16, the precision recorded in the
// index's identity (status), carried on by later runs and by every query that embeds audio
// (like/similar FILE equal their stored-track forms), another precision refused until
// --rebuild, and bad values refused as usage errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/isa.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string model_dir() { return test::case_dir("tiny-unfused"); }

int cli(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return test::run_cli(args, out, err);
}

std::string ok(const std::string& args) {
  std::string out, err;
  EXPECT_EQ(cli(args, &out, &err), 0) << args << "\n" << err;
  return out;
}

std::vector<float> embedding_of(const json& line) { return line.at("embedding").get<std::vector<float>>(); }

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  return ab / std::sqrt(aa * bb);
}

class PrecisionCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::temp_dir() + "/precision");
    test::ffmpeg(*dir_ + "/music/sweep.flac", "-f lavfi -i \"sine=f=330:d=14:sample_rate=44100\" -af \"vibrato=f=3\"");
    test::ffmpeg(*dir_ + "/music/chord.mp3", "-f lavfi -i \"sine=f=220:d=22:sample_rate=48000\" -b:a 128k");
    test::ffmpeg(*dir_ + "/music/noise.wav", "-f lavfi -i \"anoisesrc=seed=11:d=8:c=pink:r=32000:a=0.3\"");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string dir() { return *dir_; }
  static std::string db() { return dir() + "/library.db"; }
  static std::string file(const std::string& name) { return dir() + "/music/" + name; }

 private:
  static std::string* dir_;
};
std::string* PrecisionCli::dir_ = nullptr;

TEST_F(PrecisionCli, EmbedInBf16StaysWithinItsBoundOfFp32AndIsDeterministic) {
  const std::string args = "embed --model " + test::quoted(model_dir()) + " --audio " + test::quoted(file("chord.mp3")) +
                           " --audio " + test::quoted(file("noise.wav")) + " --text \"warm guitar\"";
  const auto fp32 = test::json_lines(ok(args));
  const std::string bf16_out = ok(args + " --precision bf16");
  EXPECT_EQ(bf16_out, ok(args + " --precision bf16 --threads 1 --batch 1"));  // bit for bit
  const auto bf16 = test::json_lines(bf16_out);
  ASSERT_EQ(fp32.size(), 3u);
  ASSERT_EQ(bf16.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    const double c = cosine(embedding_of(fp32[i]), embedding_of(bf16[i]));
    EXPECT_GE(c, 0.999) << fp32[i]["input"];
    EXPECT_LT(c, 1.0) << "bf16 gave fp32's bits: " << fp32[i]["input"];
  }
  EXPECT_EQ(embedding_of(fp32[2]), embedding_of(bf16[2]));  // the text tower stays fp32
}

TEST_F(PrecisionCli, AnIndexKeepsItsPrecisionAndQueriesEmbedAudioWithIt) {
  const std::string model = " --model " + test::quoted(model_dir());
  const std::string at = " --db " + test::quoted(db());
  ok("index " + test::quoted(dir() + "/music") + at + model + " --precision bf16 --quiet");
  json status = json::parse(ok("status --json" + at));
  EXPECT_EQ(status["model"]["precision"], "bf16");
  EXPECT_NE(ok("status" + at).find("bf16 audio tower"), std::string::npos);

  // A second run carries the precision on: nothing to embed again.
  const json again = json::parse(ok("index " + test::quoted(dir() + "/music") + at + " --json --quiet"));
  EXPECT_EQ(again["indexed"], 0) << again.dump();
  EXPECT_EQ(again["model"]["precision"], "bf16");

  // The stored track embedding is what `embed --precision bf16` gives for the file.
  const json tracks = json::parse(ok("search x -k 0 --json" + at));
  int64_t chord = -1;
  for (const auto& t : tracks)
    if (fs::path(t["path"].get<std::string>()).filename() == "chord.mp3") chord = t["track_id"];
  ASSERT_GE(chord, 0);
  // A query file is embedded with the index's precision: the same answers as its stored form.
  EXPECT_EQ(ok("like --track " + std::to_string(chord) + " --json" + at), ok("like " + test::quoted(file("chord.mp3")) + " --json" + at));
  EXPECT_EQ(ok("similar " + std::to_string(chord) + " -k 0 --json" + at),
            ok("similar " + test::quoted(file("chord.mp3")) + " -k 0 --json" + at));

  // Another precision is refused, naming both, until --rebuild.
  std::string out, err;
  EXPECT_EQ(cli("index " + test::quoted(dir() + "/music") + at + " --precision fp32 --quiet", &out, &err), 1);
  EXPECT_NE(err.find("audio precision bf16 vs fp32"), std::string::npos) << err;
  EXPECT_NE(err.find("--rebuild"), std::string::npos) << err;
  ok("index " + test::quoted(dir() + "/music") + at + " --precision fp32 --rebuild --quiet");
  status = json::parse(ok("status --json" + at));
  EXPECT_EQ(status["model"]["precision"], "fp32");
}

// The fidelity report is doctor's: `doctor --fidelity` gives the report `bench --fidelity` gives
// (its timings aside), and `bench --fidelity` says on stderr where the report lives now.
TEST_F(PrecisionCli, DoctorFidelityIsTheBenchReport) {
  const std::string model = "--model " + test::quoted(model_dir());
  const std::string args = model + " --precision bf16 --fidelity " + test::quoted(dir() + "/music") + " --json";
  std::string out, err;
  ASSERT_EQ(cli("bench " + args, &out, &err), 0) << err;
  EXPECT_NE(err.find("`clapsearch doctor --fidelity`"), std::string::npos) << err;
  json b = json::parse(out);
  ASSERT_EQ(cli("doctor " + args, &out, &err), 0) << err;
  EXPECT_EQ(err.find("doctor --fidelity"), std::string::npos) << err;
  json d = json::parse(out);
  for (json* j : {&b, &d}) j->erase("fp32_ms_per_window"), j->erase("low_ms_per_window");
  EXPECT_EQ(d, b);
  EXPECT_EQ(d["precision"], "bf16");
  EXPECT_EQ(d["files"], 3);
  EXPECT_LT(d["window_cosine_min"].get<double>(), 1.0);
  // A precision without folders to compare on is a usage error that names --fidelity.
  EXPECT_EQ(cli("doctor " + model + " --precision bf16", &out, &err), 2);
  EXPECT_NE(err.find("--fidelity DIR"), std::string::npos) << err;
}

TEST_F(PrecisionCli, BenchFidelityAndIndexReportOnRealFiles) {
  const std::string model = "--model " + test::quoted(model_dir());
  const json f = json::parse(ok("bench " + model + " --precision bf16 --fidelity " + test::quoted(dir() + "/music") + " --json"));
  EXPECT_EQ(f["files"], 3);
  EXPECT_EQ(f["precision"], "bf16");
  EXPECT_GT(f["windows"].get<int>(), 3);
  EXPECT_GE(f["window_cosine_min"].get<double>(), 0.999);
  EXPECT_LT(f["window_cosine_min"].get<double>(), 1.0);
  EXPECT_LE(f["window_cosine_min"].get<double>(), f["window_cosine_mean"].get<double>());
  EXPECT_EQ(f["text_queries"], 16);
  EXPECT_EQ(f["track_queries"], 3);
  EXPECT_GT(f["text_topk_overlap"].get<double>(), 0.0);
  EXPECT_EQ(f["text_precision"], "fp32");
  EXPECT_EQ(f["text_cosine_min"], 1.0);  // the same text tower on both sides
  const json t = json::parse(ok("bench " + model + " --text-precision bf16 --fidelity " + test::quoted(dir() + "/music") + " --json"));
  EXPECT_EQ(t["precision"], "fp32");
  EXPECT_EQ(t["text_precision"], "bf16");
  EXPECT_EQ(t["window_cosine_min"], 1.0);
  EXPECT_GE(t["text_cosine_min"].get<double>(), 0.999);
  EXPECT_LT(t["text_cosine_min"].get<double>(), 1.0);
  EXPECT_LE(t["text_cosine_min"].get<double>(), t["text_cosine_mean"].get<double>());
  EXPECT_EQ(t["text_queries"], 16);
  std::string out, err;
  EXPECT_EQ(cli("bench " + model + " --fidelity " + test::quoted(dir() + "/music"), &out, &err), 2);  // fp32 vs fp32: usage
  EXPECT_NE(err.find("--precision bf16"), std::string::npos) << err;

  const std::string tmp = dir() + "/tmp";
  fs::create_directories(tmp);
  ASSERT_EQ(test::run_command("TMPDIR=" + test::quoted(tmp) + " HF_HUB_OFFLINE=1 " + test::cli_command() +
                                  " bench " + model + " --precision bf16 --index " + test::quoted(dir() + "/music") + " --json",
                              &out, &err),
            0)
      << err;
  const json b = json::parse(out);
  EXPECT_EQ(b["files"], 3);
  EXPECT_EQ(b["errors"], 0);
  EXPECT_GT(b["windows"].get<int>(), 3);
  EXPECT_NEAR(b["audio_seconds"].get<double>(), 14 + 22 + 8, 0.5);
  EXPECT_GT(b["pure_model_seconds"].get<double>(), 0.0);
  EXPECT_GT(b["realtime_factor"].get<double>(), 0.0);
  EXPECT_GE(b["outside_model_fraction"].get<double>(), 0.0);
  EXPECT_TRUE(fs::is_empty(tmp)) << "the benchmark's index is temporary";
}

// `bench --kernels`: every GEMM shape of the model's audio tower (the tiny test model: 4 stages
// of width 16, 32, 64, 128, MLP ratio 4, three patch mergings) timed in the three precisions,
// and on an AVX-512 CPU the instruction peaks they are measured against; without a config it
// says what it needs.
TEST(BenchCli, KernelsTimesEveryLayerShapeOfTheModel) {
  const json r = json::parse(ok("bench --kernels --model " + test::quoted(model_dir()) + " --json"));
  ASSERT_EQ(r["shapes"].size(), 4u * 4u + 3u);
  int64_t dim = 16;
  for (int stage = 0; stage < 4; ++stage) {
    const json& qkv = r["shapes"][static_cast<size_t>(stage == 0 ? 0 : 4 + (stage - 1) * 5 + 1)];
    EXPECT_EQ(qkv["layer"], "stage " + std::to_string(stage) + " q/k/v");
    EXPECT_EQ(qkv["in"].get<int64_t>(), dim);
    EXPECT_EQ(qkv["out"].get<int64_t>(), 3 * dim);
    dim *= 2;
  }
  for (const json& l : r["shapes"])
    for (const char* p : {"fp32_gops", "bf16_gops", "int8_gops"}) EXPECT_GT(l[p].get<double>(), 0.0) << l.dump();
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) {
    ASSERT_GE(r["peaks"].size(), 1u);
    EXPECT_EQ(r["peaks"][0]["precision"], "fp32");
    EXPECT_GT(r["peaks"][0]["gops_per_core"].get<double>(), 1.0);
    for (const json& p : r["peaks"])  // only int8 and bf16 on AMX tiles go past their instructions' peaks
      EXPECT_EQ(p["ceiling"].get<bool>(), p["precision"] == "int8"   ? !cpu_has_amx_int8()
                                          : p["precision"] == "bf16" ? !cpu_has_amx_bf16()
                                                                     : true)
          << p.dump();
  }
#endif
  std::string out, err;
  EXPECT_EQ(cli("bench --kernels", &out, &err), 2);
  EXPECT_NE(err.find("--kernels needs --config"), std::string::npos) << err;
}

// --text-precision bf16: texts within the bf16 bound of fp32, bit for bit the same on one
// thread and one text per call, and a search in bf16 scores tracks within that bound of the
// fp32 search (its text embeddings are cached apart: an fp32 search afterwards is unchanged).
TEST_F(PrecisionCli, TextTowerInBf16StaysWithinItsBoundAndIsCachedApart) {
  const std::string args = "embed --model " + test::quoted(model_dir()) + " --text \"warm guitar\" --text \"female vocalist\"";
  const auto fp32 = test::json_lines(ok(args));
  const std::string bf16_out = ok(args + " --text-precision bf16");
  EXPECT_EQ(bf16_out, ok(args + " --text-precision bf16 --threads 1 --batch 1"));
  const auto bf16 = test::json_lines(bf16_out);
  ASSERT_EQ(bf16.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const double c = cosine(embedding_of(fp32[i]), embedding_of(bf16[i]));
    EXPECT_GE(c, 0.999) << fp32[i]["input"];
    EXPECT_LT(c, 1.0) << "bf16 gave fp32's bits: " << fp32[i]["input"];
  }

  const std::string at = " --db " + test::quoted(dir() + "/text-precision.db");
  ok("index " + test::quoted(dir() + "/music") + at + " --model " + test::quoted(model_dir()) + " --quiet");
  const std::string search = "search \"warm guitar\" -k 0 --json" + at;
  const std::string before = ok(search);
  const json low = json::parse(ok(search + " --text-precision bf16"));
  const json full = json::parse(before);
  ASSERT_EQ(low.size(), full.size());
  for (const auto& a : low) {
    bool found = false;
    for (const auto& b : full)
      if (b["track_id"] == a["track_id"]) {
        found = true;
        EXPECT_NEAR(a["score"].get<double>(), b["score"].get<double>(), 0.05) << a.dump();
      }
    EXPECT_TRUE(found) << a.dump();
  }
  EXPECT_EQ(ok(search), before);
  std::string out, err;
  EXPECT_EQ(cli(search + " --text-precision fp8", &out, &err), 2);
  EXPECT_NE(err.find("--text-precision"), std::string::npos) << err;
}

TEST_F(PrecisionCli, UnknownPrecisionIsAUsageError) {
  std::string out, err;
  EXPECT_EQ(cli("embed --model " + test::quoted(model_dir()) + " --text x --precision fp8", &out, &err), 2);
  EXPECT_NE(err.find("--precision"), std::string::npos) << err;
  EXPECT_EQ(cli("index " + test::quoted(dir() + "/music") + " --db " + test::quoted(dir() + "/other.db") +
                    " --precision int4",
                &out, &err),
            2);
  EXPECT_FALSE(fs::exists(dir() + "/other.db"));
}

}  // namespace
}  // namespace clap
