// The model side of checkpoint conversion: float rounding, the buffers a LAION checkpoint may
// lack (made with the values transformers defines), LAION names on any file format.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "checkpoint/checkpoint.h"
#include "core/error.h"
#include "model/clap.h"
#include "model/convert.h"
#include "model/laion.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;

TEST(FloatRounding, HalfAndBfloat16RoundToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);                  // largest half
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);                  // rounds to infinity
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);     // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);     // half of it: tie to even (0)
  EXPECT_EQ(float_to_half(std::ldexp(1.5f, -25)), 0x0001);     // above the tie
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie between 1 and 1+2^-10: even
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::nanf("")))));
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie: even
  EXPECT_EQ(float_to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  // Every half value round-trips through float.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = half_to_float(static_cast<uint16_t>(h));
    if (!std::isnan(f)) {
      ASSERT_EQ(float_to_half(f), h) << h;
    }
  }
}

// A checkpoint in LAION's names but without the buffers newer code saves (position_ids,
// token_type_ids, relative_position_index, num_batches_tracked), and as safetensors rather than
// a pickle: it loads, and the conversion adds the buffers with transformers' values.
TEST(Convert, MissingBuffersAreSynthesized) {
  const std::string dir = test::case_dir("tiny-unfused");
  const auto laion = Checkpoint::open(dir + "/laion.pt");
  std::map<std::string, TensorData> kept;
  for (const TensorView& t : laion->tensors()) {
    if (t.name.find("position_ids") != std::string::npos || t.name.find("token_type_ids") != std::string::npos ||
        t.name.find("relative_position_index") != std::string::npos || t.name.find("num_batches_tracked") != std::string::npos)
      continue;
    kept[t.name] = {t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)};
  }
  const std::string work = test::temp_dir() + "/no-buffers";
  fs::create_directories(work);
  write_safetensors(work + "/laion-names.safetensors", kept);

  ModelFiles files;
  files.weights = work + "/laion-names.safetensors";
  files.config = dir + "/config.json";
  files.preprocessor = dir + "/preprocessor_config.json";
  files.tokenizer_dir = dir;
  const auto model = ClapModel::load(files);
  const auto golden = ClapModel::load(dir);
  EXPECT_EQ(model->embed_text({"female vocalist"}), golden->embed_text({"female vocalist"}));

  const ConvertReport report = convert_model(files, work + "/out");
  EXPECT_EQ(report.synthesized.size(), 2u + 5u + 1u);  // 2 text buffers, 5 blocks, 1 batch norm
  const SafeTensors got(work + "/out/model.safetensors"), ref(dir + "/model.safetensors");
  EXPECT_EQ(got.tensors().size(), ref.tensors().size());
  for (const TensorView& t : ref.tensors()) {
    const TensorView* g = got.find(t.name);
    ASSERT_NE(g, nullptr) << t.name;
    if (t.name.find("num_batches_tracked") != std::string::npos) {
      EXPECT_EQ(tensor_to_int64(*g), std::vector<int64_t>{0}) << t.name;  // a 0-d zero, as torch makes it
      continue;
    }
    EXPECT_EQ(g->shape, t.shape) << t.name;
    ASSERT_EQ(g->nbytes, t.nbytes) << t.name;
    EXPECT_EQ(std::memcmp(g->data, t.data, t.nbytes), 0) << t.name;
  }
}

TEST(Convert, InferenceNamesWhatItCannotFind) {
  const std::string work = test::temp_dir() + "/not-clap";
  fs::create_directories(work);
  std::map<std::string, TensorData> tensors;
  tensors["audio_branch.some.weight"] = tensor_from_floats({1, 2, 3}, {3});
  write_safetensors(work + "/x.safetensors", tensors);
  ModelFiles files;
  files.weights = work + "/x.safetensors";
  try {
    ClapModel::read_config(files);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot infer the architecture: tensor "
                                          "'audio_model.audio_encoder.patch_embed.proj.weight' is missing"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace clap
