// Issue 33 (#11): a model folder whose configuration cannot describe a model (a stage of 0
// blocks, frequency_min above frequency_max, ...) or whose checkpoint holds tensors nothing reads
// is refused with an error naming the file and the key (or the tensor) - never loaded into a
// model that silently computes something else.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "checkpoint/safetensors.h"
#include "core/error.h"
#include "model/clap.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json(const fs::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}

// A copy of tests/data/tiny-unfused with its config.json and preprocessor_config.json edited.
std::string edited_copy(const std::string& name, const std::function<void(json& config, json& pre)>& edit) {
  const fs::path src = test::case_dir("tiny-unfused");
  const fs::path dst = fs::path(test::temp_dir()) / name;
  fs::create_directories(dst);
  for (const char* f : {"model.safetensors", "vocab.json", "merges.txt"}) fs::copy_file(src / f, dst / f);
  json config = read_json(src / "config.json"), pre = read_json(src / "preprocessor_config.json");
  edit(config, pre);
  std::ofstream(dst / "config.json") << config.dump(2);
  std::ofstream(dst / "preprocessor_config.json") << pre.dump(2);
  return dst.string();
}

// The message loading `dir` fails with ("" when it loads).
std::string load_error(const std::string& dir) {
  return test::error_of([&] { ClapModel::load(dir); });
}

struct BadConfig {
  std::string name;
  std::function<void(json& config, json& pre)> edit;
  std::string file, key;  // what the message must name
};

TEST(ConfigValidation, AbsurdValuesAreRefusedNamingTheFileAndKey) {
  const std::vector<BadConfig> cases = {
      {"depth-0", [](json& c, json&) { c["audio_config"]["depths"] = {1, 0, 2, 1}; }, "config.json", "depths"},
      {"depth-negative", [](json& c, json&) { c["audio_config"]["depths"] = {1, 1, -2, 1}; }, "config.json", "depths"},
      {"window-0", [](json& c, json&) { c["audio_config"]["window_size"] = 0; }, "config.json", "window_size"},
      {"window-larger-than-grid", [](json& c, json&) { c["audio_config"]["window_size"] = 40; }, "config.json", "window_size"},
      {"mel-bins-0", [](json& c, json&) { c["audio_config"]["num_mel_bins"] = 0; }, "config.json", "num_mel_bins"},
      {"spec-size", [](json& c, json&) { c["audio_config"]["spec_size"] = 250; }, "config.json", "spec_size"},
      {"audio-hidden", [](json& c, json&) { c["audio_config"]["hidden_size"] = 64; }, "config.json", "hidden_size"},
      {"mlp-ratio", [](json& c, json&) { c["audio_config"]["mlp_ratio"] = 0; }, "config.json", "mlp_ratio"},
      {"audio-eps", [](json& c, json&) { c["audio_config"]["layer_norm_eps"] = -1e-5; }, "config.json", "layer_norm_eps"},
      {"text-heads", [](json& c, json&) { c["text_config"]["num_attention_heads"] = 3; }, "config.json", "num_attention_heads"},
      {"text-layers", [](json& c, json&) { c["text_config"]["num_hidden_layers"] = 0; }, "config.json", "num_hidden_layers"},
      {"pad-token", [](json& c, json&) { c["text_config"]["pad_token_id"] = 1 << 20; }, "config.json", "pad_token_id"},
      {"positions", [](json& c, json&) { c["text_config"]["max_position_embeddings"] = 2; }, "config.json",
       "max_position_embeddings"},
      {"projection", [](json& c, json&) { c["projection_dim"] = 0; }, "config.json", "projection_dim"},
      {"fmin-above-fmax", [](json&, json& p) { p["frequency_min"] = 15000; }, "preprocessor_config.json", "frequency_max"},
      {"fmin-negative", [](json&, json& p) { p["frequency_min"] = -50; }, "preprocessor_config.json", "frequency_min"},
      {"fmax-above-nyquist", [](json&, json& p) { p["frequency_max"] = 30000; }, "preprocessor_config.json",
       "frequency_max"},
      {"hop-0", [](json&, json& p) { p["hop_length"] = 0; }, "preprocessor_config.json", "hop_length"},
      {"hop-above-fft", [](json&, json& p) { p["hop_length"] = 2048; }, "preprocessor_config.json", "hop_length"},
      {"sample-rate", [](json&, json& p) { p["sampling_rate"] = -48000; }, "preprocessor_config.json", "sampling_rate"},
      {"fft-not-power-of-two",
       [](json&, json& p) {
         p["fft_window_size"] = 1000;
         p["nb_frequency_bins"] = 501;
       },
       "preprocessor_config.json", "fft_window_size"},
      {"mel-bins-differ", [](json&, json& p) { p["feature_size"] = 32; }, "preprocessor_config.json", "feature_size"},
      {"top-db", [](json&, json& p) { p["top_db"] = -10; }, "preprocessor_config.json", "top_db"},
      // L21: a typo'd padding silently meant zero padding (another embedding); a negative clip
      // length loaded while nb_max_samples was given; an unknown fusion_type was ignored.
      {"padding-bogus", [](json&, json& p) { p["padding"] = "bogus"; }, "preprocessor_config.json", "padding 'bogus'"},
      {"max-length-negative", [](json&, json& p) { p["max_length_s"] = -1; }, "preprocessor_config.json", "max_length_s"},
      {"fusion-type-bogus", [](json& c, json&) { c["audio_config"]["fusion_type"] = "bogus"; }, "config.json",
       "fusion_type 'bogus'"},
      // Wrong types: nlohmann converted true to 1 and 8.5 to 8 without a word.
      {"window-true", [](json& c, json&) { c["audio_config"]["window_size"] = true; }, "config.json", "window_size"},
      {"window-fraction", [](json& c, json&) { c["audio_config"]["window_size"] = 8.5; }, "config.json", "window_size"},
      {"eps-bool", [](json& c, json&) { c["text_config"]["layer_norm_eps"] = false; }, "config.json", "layer_norm_eps"},
      {"hop-text", [](json&, json& p) { p["hop_length"] = "480"; }, "preprocessor_config.json", "hop_length"},
  };
  for (const BadConfig& c : cases) {
    const std::string dir = edited_copy(c.name, c.edit);
    const std::string err = load_error(dir);
    EXPECT_NE(err.find(dir + "/" + c.file), std::string::npos) << c.name << ": " << err;
    EXPECT_NE(err.find(c.key), std::string::npos) << c.name << ": " << err;
  }
  // The copy itself, unedited, loads.
  EXPECT_EQ(load_error(edited_copy("as-is", [](json&, json&) {})), "");
}

// L21: a wrong-typed field is refused in the user's terms (what was expected, what the file
// holds), not with nlohmann's text ("[json.exception.type_error.302] type must be boolean").
TEST(ConfigValidation, AWrongTypeSaysWhatWasExpectedAndFound) {
  const std::string dir = edited_copy("flatten-text", [](json& c, json&) { c["audio_config"]["flatten_patch_embeds"] = "yes"; });
  EXPECT_NE(load_error(dir).find("config.json audio_config: field 'flatten_patch_embeds' has the wrong type: expected true or "
                                 "false, found a text (\"yes\")"),
            std::string::npos)
      << load_error(dir);
  EXPECT_EQ(load_error(dir).find("json.exception"), std::string::npos) << load_error(dir);
  const std::string depths = edited_copy("depths-text", [](json& c, json&) { c["audio_config"]["depths"] = {1, "2", 1, 1}; });
  EXPECT_NE(load_error(depths).find("field 'depths' has the wrong type: expected a list of whole numbers, found a list ([1,\"2\",1,1])"),
            std::string::npos)
      << load_error(depths);
  // A list of 100,000 nested lists (written as text: dump() itself would recurse) is named by
  // its first 40 bytes and its length; dump() recursed once a level and overflowed the stack
  // (hostile pass 16, H16S-1).
  const std::string deep = edited_copy("depths-deep", [](json& c, json&) { c["audio_config"]["depths"] = "DEEP"; });
  const std::string text = test::read_file(deep + "/config.json");
  const size_t at = text.find("\"DEEP\"");
  ASSERT_NE(at, std::string::npos);
  std::ofstream(deep + "/config.json", std::ios::trunc)
      << text.substr(0, at) << std::string(100000, '[') << std::string(100000, ']') << text.substr(at + 6);
  EXPECT_NE(load_error(deep).find("field 'depths' has the wrong type: expected a list of whole numbers, found a list (" +
                                  std::string(40, '[') + "... (200000 bytes))"),
            std::string::npos)
      << load_error(deep).substr(0, 400);
  const std::string pad = edited_copy("padding-number", [](json&, json& p) { p["padding"] = 3; });
  EXPECT_NE(load_error(pad).find("field 'padding' has the wrong type: expected a text, found 3"), std::string::npos) << load_error(pad);
  // The three paddings the reference knows still load.
  for (const char* padding : {"repeatpad", "repeat", "pad"})
    EXPECT_EQ(load_error(edited_copy(std::string("padding-") + padding, [&](json&, json& p) { p["padding"] = padding; })), "") << padding;
}

TEST(ConfigValidation, AnUnusedTensorIsAnErrorNamingIt) {
  const fs::path src = test::case_dir("tiny-unfused");
  const fs::path dst = fs::path(test::temp_dir()) / "extra-tensor";
  fs::create_directories(dst);
  for (const char* f : {"config.json", "preprocessor_config.json", "vocab.json", "merges.txt"}) fs::copy_file(src / f, dst / f);
  SafeTensors st((src / "model.safetensors").string());
  std::map<std::string, TensorData> tensors;
  for (const auto& t : st.tensors()) tensors[t.name] = {t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)};
  // A fifth stage's block the configuration (four stages) does not have.
  tensors["audio_model.audio_encoder.layers.4.blocks.0.layernorm_before.weight"] = tensor_from_floats(std::vector<float>(128, 1.0f), {128});
  write_safetensors((dst / "model.safetensors").string(), tensors, {{"format", "pt"}});
  const std::string err = load_error(dst.string());
  EXPECT_NE(err.find((dst / "model.safetensors").string()), std::string::npos) << err;
  EXPECT_NE(err.find("unused tensor 'audio_model.audio_encoder.layers.4.blocks.0.layernorm_before.weight'"), std::string::npos)
      << err;

  // The golden checkpoints - their buffers (position_ids, relative_position_index, ...) included - load.
  EXPECT_EQ(load_error(src.string()), "");
  for (const char* name : {"tiny-unfused", "tiny-fused"}) {
    ModelFiles files;
    files.weights = test::case_dir(name) + "/laion.pt";
    files.tokenizer_dir = test::case_dir(name);
    EXPECT_NO_THROW(ClapModel::load(files)) << name << "/laion.pt";
  }
}

}  // namespace
}  // namespace clap
