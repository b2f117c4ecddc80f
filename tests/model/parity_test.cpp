// Parity with the reference implementation (transformers 4.38 ClapModel) on every golden
// case: each tensor the golden files hold that the engine produces. Every test runs twice per
// case: on the Hugging Face folder (model.safetensors) and on the same weights in LAION's
// format (laion.pt, "<case>@laion"), loaded with the case's config.json. Tolerances are the ones
// tests/data/README.md gives for a float32 engine; they are never loosened to pass.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/clap.h"
#include "model/clap_impl.h"
#include "support/golden.h"
#include "tensor/linear.h"

namespace clap {
namespace {

constexpr double kEmbedMaxAbs = 1e-4;
constexpr double kEmbedCosine = 0.99999;
constexpr double kIntermediateRel = 1e-3;  // of max |reference|
constexpr double kLogitsMaxAbs = 2e-3;

class Parity : public ::testing::TestWithParam<std::string> {
 protected:
  static std::map<std::string, std::unique_ptr<ClapModel>>& models() {
    static std::map<std::string, std::unique_ptr<ClapModel>> m;
    return m;
  }
  std::string case_name() const { return GetParam().substr(0, GetParam().find('@')); }
  bool laion() const { return GetParam().find("@laion") != std::string::npos; }
  const ClapModel& model() {
    auto& slot = models()[GetParam()];
    if (slot) return *slot;
    const std::string dir = test::case_dir(case_name());
    if (laion()) {
      ModelFiles files;
      files.weights = dir + "/laion.pt";
      files.config = dir + "/config.json";  // the text tower's head count is not in the shapes
      files.preprocessor = dir + "/preprocessor_config.json";
      files.tokenizer_dir = dir;
      slot = ClapModel::load(files);
    } else {
      slot = ClapModel::load(dir, {});
    }
    return *slot;
  }
  const SafeTensors& expected() { return test::golden_expected(case_name()); }
  ClapState state_;  // scratch for the internal calls
  nlohmann::json cases() {
    std::ifstream f(test::case_dir(case_name()) + "/cases.json");
    return nlohmann::json::parse(f);
  }

  void expect_embedding(const float* got, const std::string& name, size_t row, size_t rows_expected, size_t dim) {
    auto ref = test::floats(expected(), name);
    ASSERT_EQ(ref.size(), rows_expected * dim) << name;
    auto d = test::compare(got, ref.data() + row * dim, dim);
    EXPECT_LE(d.max_abs, kEmbedMaxAbs) << name << " row " << row;
    EXPECT_GE(d.cosine, kEmbedCosine) << name << " row " << row;
  }
  void expect_close(const std::vector<float>& got, const std::string& name, size_t offset = 0) {
    auto ref = test::floats(expected(), name);
    ASSERT_LE(offset + ref.size(), got.size()) << name;
    auto d = test::compare(got.data() + offset, ref.data(), ref.size());
    EXPECT_LE(d.max_abs, kIntermediateRel * d.max_ref) << name << " (max|ref| " << d.max_ref << ")";
  }

  // Golden batch a, b, c: embeddings within tolerance, each clip/text bit-identical alone.
  void check_batch_abc_parity_and_independence() {
    const auto& m = model().impl();
    const size_t dim = m.config.projection_dim;
    int channels = 0;
    std::vector<uint8_t> longer;
    const std::vector<float> feats = batch_abc_features(&channels, &longer);
    std::vector<float> audio(3 * dim), one(dim);
    m.audio_from_features(state_, feats.data(), 3, channels, 1001, 64, longer.data(), audio.data());
    const size_t per_clip = feats.size() / 3;
    for (size_t r = 0; r < 3; ++r) {
      expect_embedding(audio.data() + r * dim, "batch_abc_audio_embeds", r, 3, dim);
      m.audio_from_features(state_, feats.data() + r * per_clip, 1, channels, 1001, 64, longer.data() + r, one.data());
      EXPECT_EQ(0, std::memcmp(one.data(), audio.data() + r * dim, dim * sizeof(float))) << "clip " << r;
    }
    auto texts = cases()["texts"].get<std::vector<std::string>>();
    auto text = model().embed_text(texts);
    for (size_t r = 0; r < texts.size(); ++r) {
      expect_embedding(text.data() + r * dim, "batch_abc_text_embeds", r, texts.size(), dim);
      auto alone = model().embed_text({texts[r]});
      EXPECT_EQ(0, std::memcmp(alone.data(), text.data() + r * dim, dim * sizeof(float))) << texts[r];
    }
  }

  // Reference features of clips a, b, c (the golden batch) and their is_longer flags.
  std::vector<float> batch_abc_features(int* channels, std::vector<uint8_t>* longer) {
    std::vector<float> feats;
    for (char x : {'a', 'b', 'c'}) {
      auto f = clip_features(x, channels);
      feats.insert(feats.end(), f.begin(), f.end());
    }
    auto longer64 = test::ints(expected(), "batch_abc_is_longer");
    longer->assign(longer64.begin(), longer64.end());
    return feats;
  }

  std::vector<float> clip_features(char x, int* channels) { return test::clip_features(case_name(), x, channels); }
};

TEST_P(Parity, AudioTowerOnReferenceFeatures) {
  const auto& m = model().impl();
  const size_t dim = m.config.projection_dim;
  for (char x = 'a'; x <= 'g'; ++x) {
    SCOPED_TRACE(std::string("clip ") + x);
    const std::string p = std::string("clip_") + x + "_";
    int channels = 0;
    auto feats = clip_features(x, &channels);
    uint8_t longer = static_cast<uint8_t>(test::ints(expected(), p + "is_longer")[0]);
    const bool has_trace = expected().find(p + "audio_final_norm") != nullptr;
    Trace trace;
    std::vector<float> emb(dim), pooled, projected;
    m.audio_from_features(state_, feats.data(), 1, channels, 1001, 64, &longer, emb.data(), has_trace ? &trace : nullptr, &pooled,
                          &projected);
    expect_embedding(emb.data(), p + "audio_embeds", 0, 1, dim);
    expect_close(pooled, p + "audio_pooled");
    expect_close(projected, p + "audio_proj");
    if (has_trace) {
      for (const auto& [name, values] : trace) {
        if (!expected().find(p + "audio_" + name)) {
          ADD_FAILURE() << "trace " << name << " has no golden counterpart";
        } else {
          SCOPED_TRACE(name);
          expect_close(values, p + "audio_" + name);
        }
      }
      for (const char* must : {"mel2img", "patch_proj_conv", "patch_embed", "stage0_out", "stage3_out", "final_norm"})
        EXPECT_TRUE(trace.count(must)) << must;
      if (m.config.audio.enable_fusion) {
        EXPECT_TRUE(trace.count("fusion_aff_out"));
      }
    }
  }
}

TEST_P(Parity, BatchedAudioAndLogits) {
  const auto& m = model().impl();
  const size_t dim = m.config.projection_dim;
  int channels = 0;
  std::vector<uint8_t> longer;
  const std::vector<float> feats = batch_abc_features(&channels, &longer);
  std::vector<float> audio(3 * dim);
  m.audio_from_features(state_, feats.data(), 3, channels, 1001, 64, longer.data(), audio.data());
  for (size_t r = 0; r < 3; ++r) expect_embedding(audio.data() + r * dim, "batch_abc_audio_embeds", r, 3, dim);

  auto texts = cases()["texts"].get<std::vector<std::string>>();
  auto text = model().embed_text(texts);
  for (size_t r = 0; r < texts.size(); ++r) expect_embedding(text.data() + r * dim, "batch_abc_text_embeds", r, texts.size(), dim);

  auto ref_a = test::floats(expected(), "logits_per_audio");
  auto ref_t = test::floats(expected(), "logits_per_text");
  double worst = 0;
  for (size_t a = 0; a < 3; ++a)
    for (size_t t = 0; t < texts.size(); ++t) {
      double dot = 0;
      for (size_t i = 0; i < dim; ++i) dot += double(audio[a * dim + i]) * text[t * dim + i];
      worst = std::max(worst, std::fabs(dot * model().logit_scale_audio() - ref_a[a * texts.size() + t]));
      worst = std::max(worst, std::fabs(dot * model().logit_scale_text() - ref_t[t * 3 + a]));
    }
  EXPECT_LE(worst, kLogitsMaxAbs);
  EXPECT_NEAR(model().logit_scale_audio(), test::floats(expected(), "logit_scale_a_exp")[0], 1e-5);
  EXPECT_NEAR(model().logit_scale_text(), test::floats(expected(), "logit_scale_t_exp")[0], 1e-5);
}

TEST_P(Parity, TextTowerPerText) {
  const auto& m = model().impl();
  const size_t dim = m.config.projection_dim, hidden = m.config.text.hidden_size;
  auto texts = cases()["texts"].get<std::vector<std::string>>();
  auto padded_len = expected().at("text_input_ids").shape[1];
  auto ref_pooled = test::floats(expected(), "text_pooled");
  auto ref_proj = test::floats(expected(), "text_proj");
  for (size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE("text " + std::to_string(i));
    char name[64];
    std::snprintf(name, sizeof name, "text_%02d_input_ids", static_cast<int>(i));
    auto ids = test::ints(expected(), name);
    TextTrace trace;
    std::vector<float> emb(dim), pooled, projected;
    m.text_from_ids(ids.data(), static_cast<int>(ids.size()), emb.data(), &trace, &pooled, &projected);
    // Without a trace the last layer runs after its attention on the first token alone: the
    // same bits as the traced run, which carries every token through it.
    std::vector<float> emb_untraced(dim), pooled_untraced;
    m.text_from_ids(ids.data(), static_cast<int>(ids.size()), emb_untraced.data(), nullptr, &pooled_untraced);
    EXPECT_EQ(pooled_untraced, pooled);
    EXPECT_EQ(emb_untraced, emb);
    expect_embedding(emb.data(), "text_embeds_unpadded", i, texts.size(), dim);
    expect_embedding(emb.data(), "text_embeds", i, texts.size(), dim);
    auto dp = test::compare(pooled.data(), ref_pooled.data() + i * hidden, hidden);
    EXPECT_LE(dp.max_abs, kIntermediateRel * dp.max_ref) << "text_pooled";
    auto dj = test::compare(projected.data(), ref_proj.data() + i * dim, dim);
    EXPECT_LE(dj.max_abs, kIntermediateRel * dj.max_ref) << "text_proj";
    for (int k = 0; k <= m.config.text.num_hidden_layers; ++k) {
      auto ref = test::floats(expected(), "text_hidden_state_" + std::to_string(k));
      const auto& got = trace.at("hidden_state_" + std::to_string(k));
      auto d = test::compare(got.data(), ref.data() + i * padded_len * hidden, ids.size() * hidden);
      EXPECT_LE(d.max_abs, kIntermediateRel * d.max_ref) << "hidden state " << k;
    }
  }
}

TEST_P(Parity, EndToEndFromSamplesAndStrings) {
  const ClapModel& model = this->model();
  const auto& m = model.impl();
  const size_t dim = m.config.projection_dim;
  const auto randomness = cases()["feature_extractor_randomness"];
  for (char x = 'a'; x <= 'g'; ++x) {
    SCOPED_TRACE(std::string("clip ") + x);
    auto clip = test::golden_clip(x);
    const auto& rnd = randomness[std::string("audio_") + x];
    if (!rnd.contains("crop_start_sample") && !rnd.contains("crop_start_frames_front_middle_back")) {
      // No random choice in the reference: the public API must reproduce it as is.
      auto emb = model.embed_audio({std::span<const float>(clip)});
      expect_embedding(emb.data(), std::string("clip_") + x + "_audio_embeds", 0, 1, dim);
      continue;
    }
    // The reference cropped at random: inject its choices.
    CropChoice crops;
    if (rnd.contains("crop_start_frames_front_middle_back")) {
      auto s = rnd["crop_start_frames_front_middle_back"].get<std::vector<int>>();
      for (int i = 0; i < 3; ++i) crops.fusion_starts[i] = s[i];
    } else {
      crops.rand_trunc_offset = rnd["crop_start_sample"].get<long>();
    }
    MelFeatures f = m.mel->features(clip.data(), clip.size(), crops);
    uint8_t longer = f.is_longer;
    std::vector<float> emb(dim);
    m.audio_from_features(state_, f.data.data(), 1, f.channels, f.frames, f.mels, &longer, emb.data());
    expect_embedding(emb.data(), std::string("clip_") + x + "_audio_embeds", 0, 1, dim);
  }

  auto texts = cases()["texts"].get<std::vector<std::string>>();
  auto text = model.embed_text(texts);
  for (size_t r = 0; r < texts.size(); ++r) expect_embedding(text.data() + r * dim, "text_embeds_unpadded", r, texts.size(), dim);
}

// The towers' pooled outputs through the public API (what fine-tuning trains the heads on):
// the reference's, and independent of how the inputs are batched.
TEST_P(Parity, PooledOutputsOfThePublicApi) {
  const ClapModel& model = this->model();
  const auto& m = model.impl();
  const size_t hidden_a = m.config.audio.hidden_size, hidden_t = m.config.text.hidden_size;
  const auto randomness = cases()["feature_extractor_randomness"];
  std::vector<std::vector<float>> clips;
  std::vector<char> names;
  for (char x = 'a'; x <= 'g'; ++x) {
    const auto& rnd = randomness[std::string("audio_") + x];
    if (rnd.contains("crop_start_sample") || rnd.contains("crop_start_frames_front_middle_back")) continue;
    clips.push_back(test::golden_clip(x));
    names.push_back(x);
  }
  ASSERT_GE(clips.size(), 2u);
  std::vector<std::span<const float>> spans(clips.begin(), clips.end());
  const std::vector<float> pooled = model.audio_pooled(state_, spans, 8);
  ASSERT_EQ(pooled.size(), clips.size() * hidden_a);
  for (size_t i = 0; i < clips.size(); ++i) {
    SCOPED_TRACE(std::string("clip ") + names[i]);
    const auto ref = test::floats(expected(), std::string("clip_") + names[i] + "_audio_pooled");
    const auto d = test::compare(pooled.data() + i * hidden_a, ref.data(), hidden_a);
    EXPECT_LE(d.max_abs, kIntermediateRel * d.max_ref);
    const std::vector<float> alone = model.audio_pooled(state_, {spans[i]}, 1);
    EXPECT_EQ(0, std::memcmp(alone.data(), pooled.data() + i * hidden_a, hidden_a * sizeof(float)));
  }
  const auto texts = cases()["texts"].get<std::vector<std::string>>();
  const std::vector<float> text = model.text_pooled(state_, texts, 3);
  const auto ref = test::floats(expected(), "text_pooled");
  ASSERT_EQ(text.size(), texts.size() * hidden_t);
  for (size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE(texts[i]);
    const auto d = test::compare(text.data() + i * hidden_t, ref.data() + i * hidden_t, hidden_t);
    EXPECT_LE(d.max_abs, kIntermediateRel * d.max_ref);
    const std::vector<float> alone = model.text_pooled(state_, {texts[i]}, 1);
    EXPECT_EQ(0, std::memcmp(alone.data(), text.data() + i * hidden_t, hidden_t * sizeof(float)));
  }
}

TEST_P(Parity, Truncated77Variant) {
  const auto& m = model().impl();
  const size_t dim = m.config.projection_dim;
  auto texts = cases()["texts"].get<std::vector<std::string>>();
  for (size_t i = 0; i < texts.size(); ++i) {
    Encoding enc = m.tokenizer->encode(texts[i], 77);
    std::vector<float> emb(dim);
    m.text_from_ids(enc.ids.data(), static_cast<int>(enc.ids.size()), emb.data());
    expect_embedding(emb.data(), "text_trunc77_text_embeds", i, texts.size(), dim);
  }
}

TEST_P(Parity, BatchingAndRepeatsAreBitIdentical) {
  const ClapModel& model = this->model();
  std::vector<std::vector<float>> clips;
  for (char x : {'a', 'b', 'c', 'd', 'e'}) clips.push_back(test::golden_clip(x));
  std::vector<std::span<const float>> spans(clips.begin(), clips.end());
  auto batched = model.embed_audio(spans, 5);
  auto again = model.embed_audio(spans, 5);
  auto by_two = model.embed_audio(spans, 2);
  std::vector<float> single;
  for (auto& s : spans) {
    auto e = model.embed_audio({s}, 1);
    single.insert(single.end(), e.begin(), e.end());
  }
  EXPECT_EQ(batched, again);
  EXPECT_EQ(batched, by_two);
  EXPECT_EQ(batched, single);
  auto texts = std::vector<std::string>{"female vocalist", "rock music", "a much longer query about warm lo-fi guitar"};
  auto t_all = model.embed_text(texts);
  std::vector<float> t_single;
  for (auto& t : texts) {
    auto e = model.embed_text({t});
    t_single.insert(t_single.end(), e.begin(), e.end());
  }
  EXPECT_EQ(t_all, t_single);
}

// CPUs without AVX-512 run the AVX2 or generic kernels: they must meet the same tolerances
// and keep batching bit-identical (forced here on a machine that has AVX-512).
TEST_P(Parity, OtherKernelFamiliesMatchReferenceAndBatchIndependently) {
  for (KernelIsa isa : {KernelIsa::Avx2, KernelIsa::Generic}) {
    struct Limit {
      explicit Limit(KernelIsa isa) { limit_kernels(isa); }
      ~Limit() { limit_kernels(KernelIsa::Avx512); }
    } limit(isa);
    SCOPED_TRACE(packed_gemm_kernel());
    check_batch_abc_parity_and_independence();
  }
}

TEST_P(Parity, ParameterCountMatchesReference) {
  EXPECT_EQ(model().parameter_count(), cases()["num_parameters"].get<int64_t>());
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

std::vector<std::string> laion_cases() {
  std::vector<std::string> out;
  for (const std::string& c : test::golden_cases()) out.push_back(c + "@laion");
  return out;
}

INSTANTIATE_TEST_SUITE_P(Golden, Parity, ::testing::ValuesIn(test::golden_cases()), param_name);
INSTANTIATE_TEST_SUITE_P(LaionCheckpoint, Parity, ::testing::ValuesIn(laion_cases()), param_name);

}  // namespace
}  // namespace clap
