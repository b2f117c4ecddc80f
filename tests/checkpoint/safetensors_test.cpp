#include "checkpoint/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "support/golden.h"

namespace clap {
namespace {

std::string write_raw(const std::string& name, const std::string& header, size_t data_bytes) {
  std::string path = test::temp_dir() + "/" + name;
  std::ofstream f(path, std::ios::binary);
  uint64_t n = header.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f << header;
  f << std::string(data_bytes, '\0');
  return path;
}

std::string error_of(const std::string& path) {
  try {
    SafeTensors st(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SafeTensors, ReadsGoldenModelHeaderAndData) {
  SafeTensors st(test::case_dir("tiny-unfused") + "/model.safetensors");
  EXPECT_EQ(st.metadata().at("format"), "pt");
  const TensorView& w = st.at("audio_projection.linear1.weight");
  EXPECT_EQ(w.dtype, DType::F32);
  EXPECT_EQ(w.shape, (std::vector<int64_t>{512, 128}));
  const TensorView& idx = st.at("audio_model.audio_encoder.layers.0.blocks.0.attention.self.relative_position_index");
  auto ids = st.to_int64(idx);
  ASSERT_EQ(ids.size(), 64u * 64u);
  EXPECT_EQ(ids[0], 112);  // (7,7) offset of window 8 -> 7*15+7
}

TEST(SafeTensors, RoundTripsAllFloatDtypes) {
  std::map<std::string, TensorData> t;
  t["f32"] = tensor_from_floats({1.5f, -2.25f, 0.0f}, {3});
  TensorData h{DType::F16, {2}, {}};
  uint16_t hv[2] = {0x3c00, 0xc000};  // 1.0, -2.0
  h.bytes.resize(4);
  std::memcpy(h.bytes.data(), hv, 4);
  t["f16"] = h;
  TensorData b{DType::BF16, {2}, {}};
  uint16_t bv[2] = {0x3f80, 0x4040};  // 1.0, 3.0
  b.bytes.resize(4);
  std::memcpy(b.bytes.data(), bv, 4);
  t["bf16"] = b;
  std::string path = test::temp_dir() + "/rt.safetensors";
  write_safetensors(path, t, {{"format", "pt"}});
  SafeTensors st(path);
  EXPECT_EQ(st.to_float(st.at("f32")), (std::vector<float>{1.5f, -2.25f, 0.0f}));
  EXPECT_EQ(st.to_float(st.at("f16")), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(st.to_float(st.at("bf16")), (std::vector<float>{1.0f, 3.0f}));
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
}

// A 0 in the shape means no bytes; converting such a tensor gives an empty vector (found by
// fuzz_safetensors: memcpy was called with the empty vector's null buffer).
TEST(SafeTensors, EmptyTensorsConvertToEmptyVectors) {
  const std::string path = write_raw("empty.st",
                                     R"({"e":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},)"
                                     R"("i":{"dtype":"I64","shape":[3,0],"data_offsets":[0,0]}})",
                                     0);
  const SafeTensors st(path);
  EXPECT_EQ(st.at("e").numel(), 0);
  EXPECT_TRUE(st.to_float(st.at("e")).empty());
  EXPECT_TRUE(st.to_int64(st.at("i")).empty());
}

TEST(SafeTensors, RejectsMalformedFilesWithNamedReason) {
  {
    std::string tiny = test::temp_dir() + "/tiny.st";
    std::ofstream(tiny) << "abc";
    EXPECT_NE(error_of(tiny).find("tiny.st: invalid safetensors file: shorter than the 8-byte header"), std::string::npos);
    std::string huge = test::temp_dir() + "/huge.st";
    std::ofstream f(huge, std::ios::binary);
    uint64_t n = 1000;
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << "{}";
    f.close();
    EXPECT_NE(error_of(huge).find("header length 1000 exceeds file size"), std::string::npos);
  }
  EXPECT_NE(error_of(write_raw("json.st", "{not json", 0)).find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(write_raw("dtype.st", R"({"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}})", 4))
                .find("tensor 'w': unknown dtype 'Q4'"),
            std::string::npos);
  EXPECT_NE(error_of(write_raw("size.st", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4))
                .find("tensor 'w': shape [2] x F32 needs 8 bytes"),
            std::string::npos);
  EXPECT_NE(error_of(write_raw("range.st", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4))
                .find("outside the file"),
            std::string::npos);
  EXPECT_NE(error_of(write_raw("overlap.st",
                               R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                               8))
                .find("overlap"),
            std::string::npos);
  std::string missing = test::temp_dir() + "/nope.safetensors";
  EXPECT_NE(error_of(missing).find("nope.safetensors: cannot open"), std::string::npos);
}

}  // namespace
}  // namespace clap
