// Checkpoint files through the real CLI: `embed --model laion.pt` with golden parity for both
// LAION layouts, `convert` (byte-identical to the golden folder, atomic, --dtype), an index that
// recognises a .pt and its conversion as one model, and clear refusals.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "checkpoint/safetensors.h"
#include "model/clap.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;

constexpr double kEmbedMaxAbs = 1e-4;  // the parity suite's tolerance for embeddings

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A golden clip as a float WAV at 48 kHz: decoded back bit for bit.
std::string golden_wav(char letter) {
  const std::string dir = test::temp_dir();
  const std::string raw = dir + "/clip_" + letter + ".f32", wav = dir + "/clip_" + letter + ".wav";
  if (fs::exists(wav)) return wav;
  const std::vector<float> samples = test::golden_clip(letter);
  std::ofstream(raw, std::ios::binary).write(reinterpret_cast<const char*>(samples.data()),
                                              static_cast<std::streamsize>(samples.size() * sizeof(float)));
  return test::ffmpeg(wav, "-f f32le -ar 48000 -ac 1 -i " + test::quoted(raw) + " -c:a pcm_f32le");
}

std::string cli(const std::string& args, int* rc, std::string* err = nullptr, const std::string& env = "") {
  std::string out, e;
  *rc = test::run_cli(args, &out, &e, env);
  if (err) *err = e;
  return out;
}

std::string laion_args(const std::string& c) {
  const std::string dir = test::case_dir(c);
  return "--model " + test::quoted(dir + "/laion.pt") + " --config " + test::quoted(dir) + " --tokenizer " + test::quoted(dir);
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

class CheckpointCli : public ::testing::TestWithParam<std::string> {};

// The "done when": both golden layouts (a training checkpoint with "module." and an
// optimizer; a bare state dict) embed audio and text with golden parity through the CLI.
TEST_P(CheckpointCli, EmbedLaionCheckpointHasGoldenParity) {
  const std::string c = GetParam();
  const nlohmann::json cases = nlohmann::json::parse(slurp(test::case_dir(c) + "/cases.json"));
  const std::vector<std::string> texts = cases["texts"].get<std::vector<std::string>>();
  int rc = 0;
  std::string err;
  const std::string out = cli("embed " + laion_args(c) + " --audio " + test::quoted(golden_wav('b')) + " --text " +
                                  test::quoted(texts[0]) + " --text " + test::quoted(texts[5]),
                              &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  const auto lines = test::json_lines(out);
  ASSERT_EQ(lines.size(), 3u);
  const SafeTensors& expected = test::golden_expected(c);
  const std::vector<float> audio = test::floats(expected, "clip_b_audio_embeds");
  const std::vector<float> all_texts = test::floats(expected, "batch_abc_text_embeds");
  const size_t dim = audio.size();
  EXPECT_LE(max_abs_diff(lines[0]["embedding"].get<std::vector<float>>(), audio), kEmbedMaxAbs);
  EXPECT_LE(max_abs_diff(lines[1]["embedding"].get<std::vector<float>>(),
                         std::vector<float>(all_texts.begin(), all_texts.begin() + dim)),
            kEmbedMaxAbs);
  EXPECT_LE(max_abs_diff(lines[2]["embedding"].get<std::vector<float>>(),
                         std::vector<float>(all_texts.begin() + 5 * dim, all_texts.begin() + 6 * dim)),
            kEmbedMaxAbs);
  // And bit for bit what the Hugging Face folder gives.
  const std::string folder = cli("embed --model " + test::quoted(test::case_dir(c)) + " --audio " +
                                     test::quoted(golden_wav('b')) + " --text " + test::quoted(texts[0]) + " --text " +
                                     test::quoted(texts[5]),
                                 &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_EQ(out, folder);
}

// convert writes the golden folder's model.safetensors byte for byte (same tensors, names,
// order and header), and its preprocessor_config.json; the result loads.
TEST_P(CheckpointCli, ConvertGivesTheGoldenFolder) {
  const std::string c = GetParam(), dir = test::case_dir(c);
  const std::string out = test::temp_dir() + "/converted-" + c;
  int rc = 0;
  std::string err;
  cli("convert " + test::quoted(dir + "/laion.pt") + " " + test::quoted(out) + " --config " + test::quoted(dir) +
          " --tokenizer " + test::quoted(dir),
      &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_EQ(slurp(out + "/model.safetensors"), slurp(dir + "/model.safetensors"));
  EXPECT_EQ(slurp(out + "/preprocessor_config.json"), slurp(dir + "/preprocessor_config.json"));
  EXPECT_EQ(slurp(out + "/config.json"), slurp(dir + "/config.json"));  // given with --config: copied
  for (const char* f : {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"})
    EXPECT_EQ(slurp(out + "/" + f), slurp(dir + "/" + f)) << f;
  // Nothing else beside it: no temporary folder left.
  for (const auto& e : fs::directory_iterator(fs::path(out).parent_path()))
    EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();
}

INSTANTIATE_TEST_SUITE_P(Golden, CheckpointCli, ::testing::Values("tiny-unfused", "tiny-fused"),
                         [](const auto& info) { return info.param == "tiny-fused" ? "fused" : "unfused"; });

// Without --config the architecture is inferred: everything but the text head count (not in
// the shapes) matches the golden config, and the folder loads in clapsearch.
TEST(CheckpointConvert, InferredConfigAndDtypes) {
  const std::string dir = test::case_dir("tiny-fused");
  const std::string out = test::temp_dir() + "/inferred";
  int rc = 0;
  std::string err;
  const std::string json = cli("convert " + test::quoted(dir + "/laion.pt") + " " + test::quoted(out) + " --tokenizer " +
                                   test::quoted(dir) + " --json",
                               &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  const nlohmann::json report = nlohmann::json::parse(json);
  EXPECT_EQ(report["input_format"], "PyTorch state dict");
  EXPECT_EQ(report["config_inferred"], true);
  EXPECT_EQ(report["tensors"], 191);
  EXPECT_EQ(report["dropped"].size(), 16u);
  EXPECT_TRUE(report["synthesized"].empty());
  const ClapConfig inferred = ClapConfig::from_json_file(out + "/config.json");
  const ClapConfig golden = ClapConfig::from_json_file(dir + "/config.json");
  EXPECT_EQ(inferred.audio.depths, golden.audio.depths);
  EXPECT_EQ(inferred.audio.num_attention_heads, golden.audio.num_attention_heads);
  EXPECT_EQ(inferred.audio.patch_embeds_hidden_size, golden.audio.patch_embeds_hidden_size);
  EXPECT_EQ(inferred.audio.hidden_size, golden.audio.hidden_size);
  EXPECT_EQ(inferred.audio.window_size, golden.audio.window_size);
  EXPECT_TRUE(inferred.audio.enable_fusion);
  EXPECT_EQ(inferred.text.num_hidden_layers, golden.text.num_hidden_layers);
  EXPECT_EQ(inferred.text.intermediate_size, golden.text.intermediate_size);
  EXPECT_EQ(inferred.text.vocab_size, golden.text.vocab_size);
  EXPECT_EQ(inferred.projection_dim, golden.projection_dim);
  EXPECT_EQ(inferred.text.num_attention_heads, 1);  // hidden 32 / 64, floored at 1: the shapes cannot say 2
  EXPECT_EQ(slurp(out + "/model.safetensors"), slurp(dir + "/model.safetensors"));
  // The audio tower does not depend on the text heads: identical audio embeddings.
  const auto a = ClapModel::load(out), b = ClapModel::load(dir);
  const std::vector<float> clip = test::golden_clip('a');
  EXPECT_EQ(a->embed_audio({std::span<const float>(clip)}), b->embed_audio({std::span<const float>(clip)}));

  // --dtype bf16: floats rounded, integer buffers unchanged, config says so.
  const std::string half = test::temp_dir() + "/bf16";
  cli("convert " + test::quoted(dir + "/laion.pt") + " " + test::quoted(half) + " --config " + test::quoted(dir) +
          " --tokenizer " + test::quoted(dir) + " --dtype bf16",
      &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  const SafeTensors got(half + "/model.safetensors"), ref(dir + "/model.safetensors");
  ASSERT_EQ(got.tensors().size(), ref.tensors().size());
  for (const TensorView& t : ref.tensors()) {
    const TensorView& g = got.at(t.name);
    EXPECT_EQ(g.shape, t.shape) << t.name;
    if (t.dtype == DType::F32) {
      ASSERT_EQ(g.dtype, DType::BF16) << t.name;
      const std::vector<float> want = tensor_to_float(t);
      for (size_t i = 0; i < want.size(); ++i) {
        uint16_t v;
        std::memcpy(&v, g.data + 2 * i, 2);
        ASSERT_EQ(v, float_to_bfloat16(want[i])) << t.name << "[" << i << "]";
      }
    } else {
      EXPECT_EQ(g.dtype, t.dtype) << t.name;
      EXPECT_EQ(std::memcmp(g.data, t.data, t.nbytes), 0) << t.name;
    }
  }
  EXPECT_EQ(nlohmann::json::parse(slurp(half + "/config.json"))["torch_dtype"], "float32");  // --config copied as given
  EXPECT_NO_THROW(ClapModel::load(half));
}

TEST(CheckpointConvert, RefusesANonEmptyFolderUnlessForced) {
  const std::string dir = test::case_dir("tiny-unfused");
  const std::string out = test::temp_dir() + "/occupied";
  fs::create_directories(out);
  std::ofstream(out + "/keep.txt") << "mine";
  int rc = 0;
  std::string err;
  const std::string args = "convert " + test::quoted(dir + "/laion.pt") + " " + test::quoted(out) + " --tokenizer " + test::quoted(dir);
  cli(args, &rc, &err);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("not empty (pass --force"), std::string::npos) << err;
  EXPECT_EQ(slurp(out + "/keep.txt"), "mine");
  // --force replaces a previous conversion only: a folder holding anything else is refused.
  cli(args + " --force", &rc, &err);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("keep.txt"), std::string::npos) << err;
  EXPECT_EQ(slurp(out + "/keep.txt"), "mine");
  EXPECT_FALSE(fs::exists(out + "/model.safetensors"));
}

// `convert --force` never deletes what it did not write (issue 33): `convert X . --force` in a
// home folder refuses and lists what is there; `convert self self` and an output holding the
// input are refused; a previous conversion is replaced file by file.
TEST(CheckpointConvert, ConvertForceReplacesOnlyItsOwnFiles) {
  const std::string dir = test::case_dir("tiny-unfused");
  const std::string home = test::temp_dir() + "/convert-home";
  fs::remove_all(home);
  fs::create_directories(home + "/.ssh");
  std::ofstream(home + "/.ssh/id_rsa") << "private key";
  std::ofstream(home + "/notes.txt") << "mine";
  fs::copy_file(dir + "/laion.pt", home + "/laion.pt");
  int rc = 0;
  std::string err;
  const std::string hints = " --config " + test::quoted(dir) + " --tokenizer " + test::quoted(dir);
  // In a folder with unrelated files: refused, everything kept.
  test::run_command("cd " + test::quoted(home) + " && " + test::cli_command() + " convert " + test::quoted(dir + "/laion.pt") +
                        " ." + hints + " --force",
                    nullptr, &err);
  EXPECT_NE(err.find("not a previous output"), std::string::npos) << err;
  EXPECT_NE(err.find(".ssh"), std::string::npos) << err;
  EXPECT_NE(err.find("notes.txt"), std::string::npos) << err;
  EXPECT_EQ(slurp(home + "/.ssh/id_rsa"), "private key");
  EXPECT_EQ(slurp(home + "/notes.txt"), "mine");
  EXPECT_FALSE(fs::exists(home + "/model.safetensors"));
  // The input inside the output folder: `convert laion.pt . --force` where laion.pt is.
  const std::string alone = test::temp_dir() + "/convert-alone";
  fs::remove_all(alone);
  fs::create_directories(alone);
  fs::copy_file(dir + "/laion.pt", alone + "/laion.pt");
  rc = test::run_command("cd " + test::quoted(alone) + " && " + test::cli_command() + " convert laion.pt ." + hints + " --force",
                         nullptr, &err);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("holds the input"), std::string::npos) << err;
  EXPECT_EQ(slurp(alone + "/laion.pt"), slurp(dir + "/laion.pt"));
  EXPECT_EQ(std::distance(fs::directory_iterator(alone), fs::directory_iterator()), 1);

  // A conversion, converted again onto itself: refused, its files intact.
  const std::string self = test::temp_dir() + "/convert-self";
  fs::remove_all(self);
  cli("convert " + test::quoted(dir + "/laion.pt") + " " + test::quoted(self) + hints, &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  const std::string weights = slurp(self + "/model.safetensors");
  cli("convert " + test::quoted(self) + " " + test::quoted(self) + " --force", &rc, &err);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("holds the input"), std::string::npos) << err;
  EXPECT_EQ(slurp(self + "/model.safetensors"), weights);
  EXPECT_NO_THROW(ClapModel::load(self));
  // ... and into a folder inside the input.
  cli("convert " + test::quoted(self) + " " + test::quoted(self + "/sub") + " --force", &rc, &err);
  EXPECT_NE(rc, 0);
  EXPECT_FALSE(fs::exists(self + "/sub"));

  // A previous conversion is replaced (here by an f16 one), in place.
  cli("convert " + test::quoted(dir + "/laion.pt") + " " + test::quoted(self) + hints + " --dtype f16 --force", &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_NE(slurp(self + "/model.safetensors"), weights);
  EXPECT_NO_THROW(ClapModel::load(self));
  for (const auto& e : fs::directory_iterator(test::temp_dir()))
    EXPECT_EQ(e.path().filename().string().find(".convert-self.partial"), std::string::npos) << e.path();
}

// An index built from the Hugging Face folder accepts the same weights as a .pt (with the same
// config and tokenizer), and an index built from a .pt accepts its conversion: the identity is
// the converted folder's content. Searching without --model reopens the .pt with its hints.
TEST(CheckpointIndex, APtAndItsConversionAreOneModel) {
  const std::string dir = test::case_dir("tiny-unfused"), work = test::temp_dir() + "/pt-index";
  const std::string music = work + "/music";
  test::ffmpeg(music + "/a.mp3", "-f lavfi -i sine=frequency=330:duration=3");
  test::ffmpeg(music + "/b.ogg", "-f lavfi -i sine=frequency=880:duration=4");
  int rc = 0;
  std::string err;
  const std::string folder_db = work + "/folder.db", pt_db = work + "/pt.db";
  cli("index " + test::quoted(music) + " --db " + test::quoted(folder_db) + " --model " + test::quoted(dir) + " -q", &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  const std::string from_pt = cli("search 'a tone' --json --db " + test::quoted(folder_db) + " " + laion_args("tiny-unfused"), &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  const std::string from_folder = cli("search 'a tone' --json --db " + test::quoted(folder_db), &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_EQ(from_pt, from_folder);

  // Indexed with the .pt (inferred config: 1 text head), then searched with its conversion.
  const std::string pt = dir + "/laion.pt";
  cli("index " + test::quoted(music) + " --db " + test::quoted(pt_db) + " --model " + test::quoted(pt) + " --tokenizer " +
          test::quoted(dir) + " -q",
      &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  const std::string converted = work + "/converted";
  cli("convert " + test::quoted(pt) + " " + test::quoted(converted) + " --tokenizer " + test::quoted(dir), &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  const std::string via_conversion =
      cli("search 'a tone' --json --db " + test::quoted(pt_db) + " --model " + test::quoted(converted), &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  const std::string via_hints = cli("search 'a tone' --json --db " + test::quoted(pt_db), &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_EQ(via_conversion, via_hints);
  // Another config of the text side only (2 text heads, as the folder's) is another model with
  // the same audio embeddings: taken for queries like a text fine-tune, with other text scores.
  const std::string other_text =
      cli("search 'a tone' --json --db " + test::quoted(pt_db) + " " + laion_args("tiny-unfused"), &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_NE(other_text, via_hints);
  // Another audio side is refused with the reason.
  cli("search 'a tone' --db " + test::quoted(pt_db) + " " + laion_args("tiny-fused"), &rc, &err);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("does not match the index"), std::string::npos) << err;
}

TEST(CheckpointCliErrors, BadCheckpointsAreRefusedClearly) {
  const std::string work = test::temp_dir() + "/bad-pt";
  fs::create_directories(work);
  const std::string tok = " --tokenizer " + test::quoted(test::case_dir("tiny-unfused"));
  int rc = 0;
  std::string err;
  // Saved by PyTorch before 1.6: recognised and refused with the way out.
  const unsigned char legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
  std::ofstream(work + "/old.pt", std::ios::binary).write(reinterpret_cast<const char*>(legacy), sizeof legacy);
  cli("embed --model " + test::quoted(work + "/old.pt") + tok + " --text x", &rc, &err);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("old.pt: a PyTorch file in the legacy format"), std::string::npos) << err;
  EXPECT_NE(err.find("torch.save(torch.load("), std::string::npos) << err;
  // Cut short: the zip directory is gone.
  const std::string whole = slurp(test::case_dir("tiny-fused") + "/laion.pt");
  std::ofstream(work + "/cut.pt", std::ios::binary) << whole.substr(0, whole.size() / 2);
  cli("embed --model " + test::quoted(work + "/cut.pt") + tok + " --text x", &rc, &err);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("cut.pt: damaged zip archive"), std::string::npos) << err;
  // Not a checkpoint at all.
  std::ofstream(work + "/notes.txt") << "just some text, long enough to be looked at as a file\n";
  cli("embed --model " + test::quoted(work + "/notes.txt") + tok + " --text x", &rc, &err);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("notes.txt"), std::string::npos) << err;
  // A checkpoint without a tokenizer, offline with an empty cache: audio works, text says what to do.
  const std::string env = "HF_HUB_OFFLINE=1 HF_HOME=" + test::quoted(work + "/hf");
  const std::string pt = test::quoted(test::case_dir("tiny-unfused") + "/laion.pt");
  cli("embed --model " + pt + " --audio " + test::quoted(golden_wav('a')), &rc, &err, env);
  EXPECT_EQ(rc, 0) << err;
  cli("embed --model " + pt + " --text 'female vocalist'", &rc, &err, env);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("pass --tokenizer DIR"), std::string::npos) << err;
}

}  // namespace
}  // namespace clap
