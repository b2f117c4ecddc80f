// Loading checkpoints: in-place F32, converted F16/BF16, and clear errors for broken folders.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "model/clap.h"
#include "model/config.h"
#include "checkpoint/safetensors.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;

// Copies a golden case folder, rewriting its checkpoint through `edit`.
std::string copy_case(const std::string& name, const std::function<void(std::map<std::string, TensorData>&)>& edit) {
  const fs::path src = test::case_dir("tiny-unfused");
  const fs::path dst = fs::path(test::temp_dir()) / name;
  fs::create_directories(dst);
  for (const char* f : {"config.json", "preprocessor_config.json", "vocab.json", "merges.txt"})
    fs::copy_file(src / f, dst / f, fs::copy_options::overwrite_existing);
  SafeTensors st((src / "model.safetensors").string());
  std::map<std::string, TensorData> tensors;
  for (const auto& t : st.tensors()) tensors[t.name] = {t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)};
  edit(tensors);
  write_safetensors((dst / "model.safetensors").string(), tensors, {{"format", "pt"}});
  return dst.string();
}

// The message loading `dir` fails with ("" when it loads).
std::string load_error(const std::string& dir) {
  return test::error_of([&] { ClapModel::load(dir); });
}

TEST(ModelLoad, F32WeightsAreUsedInPlace) {
  auto model = ClapModel::load(test::case_dir("tiny-unfused"));
  EXPECT_EQ(model->copied_weight_bytes(), 0u);
  EXPECT_GT(model->weight_bytes(), 10u * 1000 * 1000);
}

TEST(ModelLoad, MissingAndMisshapedTensorsAreAllNamed) {
  const std::string dir = copy_case("broken", [](auto& t) {
    t.erase("audio_projection.linear2.bias");
    t.erase("text_model.encoder.layer.1.output.dense.weight");
    auto& w = t["audio_model.audio_encoder.norm.weight"];
    w.shape = {64};
    w.bytes.resize(64 * 4);
  });
  const std::string err = load_error(dir);
  EXPECT_NE(err.find("model.safetensors: 3 weight problem(s)"), std::string::npos) << err;
  EXPECT_NE(err.find("missing tensor 'audio_projection.linear2.bias'"), std::string::npos) << err;
  EXPECT_NE(err.find("missing tensor 'text_model.encoder.layer.1.output.dense.weight'"), std::string::npos) << err;
  EXPECT_NE(err.find("'audio_model.audio_encoder.norm.weight' has shape [64], expected [128]"), std::string::npos) << err;
}

// Half-precision checkpoints load (converted once) and stay close to the float reference.
void check_converted(DType dtype, double max_abs) {
  const std::string dir = copy_case(dtype == DType::F16 ? "f16" : "bf16", [dtype](auto& tensors) {
    for (auto& [name, t] : tensors) {
      if (t.dtype != DType::F32) continue;
      const size_t n = t.bytes.size() / 4;
      std::vector<uint8_t> out(n * 2);
      for (size_t i = 0; i < n; ++i) {
        float f;
        std::memcpy(&f, t.bytes.data() + 4 * i, 4);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        uint16_t h;
        if (dtype == DType::BF16) {
          h = static_cast<uint16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);  // round to nearest even
        } else {  // F16 via a simple round-to-nearest of the normal range (the golden weights are small and normal)
          const uint32_t sign = (bits >> 16) & 0x8000, exp = (bits >> 23) & 0xff, mant = bits & 0x7fffff;
          const int e = static_cast<int>(exp) - 127 + 15;
          if (e <= 0) h = static_cast<uint16_t>(sign);
          else h = static_cast<uint16_t>(sign | (e << 10) | ((mant + 0x1000) >> 13));
        }
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
      t.dtype = dtype;
      t.bytes = std::move(out);
    }
  });
  auto model = ClapModel::load(dir);
  EXPECT_GT(model->copied_weight_bytes(), 0u);
  auto emb = model->embed_text({"female vocalist"});
  auto ref = test::floats(test::golden_expected("tiny-unfused"), "text_embeds_unpadded");
  auto d = test::compare(emb.data(), ref.data(), 512);
  EXPECT_LE(d.max_abs, max_abs);
  EXPECT_GE(d.cosine, 0.99);
}

TEST(ModelLoad, Bf16CheckpointLoads) { check_converted(DType::BF16, 0.05); }
TEST(ModelLoad, F16CheckpointLoads) { check_converted(DType::F16, 0.01); }

TEST(ModelLoad, FolderProblemsAreClear) {
  EXPECT_NE(load_error("/nonexistent/dir").find("/nonexistent/dir: not a model folder"), std::string::npos);
  const fs::path dir = fs::path(test::temp_dir()) / "noweights";
  fs::create_directories(dir);
  fs::copy_file(fs::path(test::case_dir("tiny-unfused")) / "config.json", dir / "config.json");
  EXPECT_NE(load_error(dir.string()).find("model.safetensors: missing"), std::string::npos) << load_error(dir.string());
  std::ofstream(dir / "config.json") << "{ not json";
  EXPECT_NE(load_error(dir.string()).find("config.json: invalid JSON"), std::string::npos) << load_error(dir.string());
}

TEST(ModelLoad, AudioOnlyFolderLoadsAndTextSaysWhy) {
  const fs::path src = test::case_dir("tiny-unfused");
  const fs::path dir = fs::path(test::temp_dir()) / "audio-only";
  fs::create_directories(dir);
  for (const char* f : {"config.json", "preprocessor_config.json", "model.safetensors"}) fs::copy_file(src / f, dir / f);
  auto model = ClapModel::load(dir.string());
  EXPECT_FALSE(model->has_tokenizer());
  try {
    model->embed_text({"x"});
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer"), std::string::npos);
  }
}

}  // namespace
}  // namespace clap

namespace clap {
namespace {

std::string config_error(const std::string& text, bool features) {
  try {
    if (features) FeatureConfig::from_json_text(text, "preprocessor_config.json");
    else ClapConfig::from_json_text(text, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Settings that used to divide by zero, overflow a shift, throw nlohmann's own exception or
// ask for gigabytes (found by fuzz_config) are refused with a message naming the file.
TEST(Config, DamagedValuesAreRefusedNamingTheFile) {
  const std::vector<std::string> bad_configs = {
      R"({"text_config":{"num_attention_heads":0}})",
      R"({"text_config":{"hidden_size":-32,"num_attention_heads":2}})",
      R"({"audio_config":{"num_attention_heads":[0,1,1,1]}})",
      R"({"audio_config":{"patch_embeds_hidden_size":-16}})",
      R"({"audio_config":{"patch_stride":"x"}})",
      R"({"audio_config":{"patch_stride":[4,"x"]}})",
      R"({"audio_config":{"patch_stride":[4,1e30]}})",
      R"({"text_config":{"hidden_size":4.8e123}})",
      R"({"audio_config":{"depths":[1e20,1,1,1]}})",
      R"({"audio_config":{"depths":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"num_attention_heads":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}})",
  };
  for (const std::string& text : bad_configs) {
    const std::string msg = config_error(text, false);
    EXPECT_EQ(msg.rfind("config.json", 0), 0u) << text << " -> " << msg;
  }
  for (const std::string& text : {std::string(R"({"top_db":"x"})"),
                                  std::string(R"({"fft_window_size":1073741824,"nb_frequency_bins":536870913})"),
                                  std::string(R"({"feature_size":100000})"),
                                  std::string(R"({"nb_max_samples":1e30})")}) {
    const std::string msg = config_error(text, true);
    EXPECT_EQ(msg.rfind("preprocessor_config.json", 0), 0u) << text << " -> " << msg;
  }
  // The published shapes still load.
  EXPECT_EQ(config_error(R"({"audio_config":{"patch_stride":[4,4]},"text_config":{"num_attention_heads":12}})", false), "");
  EXPECT_EQ(config_error(R"({"fft_window_size":1024,"top_db":null})", true), "");
}

}  // namespace
}  // namespace clap
