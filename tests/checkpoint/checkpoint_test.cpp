// Checkpoint::open on a sharded set (*.index.json + shard files): the same tensors as the one
// file they were split from, and an index that names anything but a file beside it is refused.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "core/error.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;

// Splits the golden model.safetensors into two shards + model.safetensors.index.json.
std::string sharded_copy(const std::string& name) {
  const fs::path dir = fs::path(test::temp_dir()) / name;
  fs::create_directories(dir);
  const SafeTensors whole(test::case_dir("tiny-unfused") + "/model.safetensors");
  std::map<std::string, TensorData> first, second;
  nlohmann::json map = nlohmann::json::object();
  for (const TensorView& t : whole.tensors()) {
    const bool text = t.name.rfind("text_", 0) == 0;
    (text ? second : first)[t.name] = {t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)};
    map[t.name] = text ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
  }
  write_safetensors((dir / "model-00001-of-00002.safetensors").string(), first);
  write_safetensors((dir / "model-00002-of-00002.safetensors").string(), second);
  std::ofstream(dir / "model.safetensors.index.json") << nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", map}}.dump();
  return dir.string();
}

TEST(CheckpointShards, ShardedSetEqualsTheWholeFile) {
  const std::string dir = sharded_copy("sharded");
  const auto sharded = Checkpoint::open(dir + "/model.safetensors.index.json");
  const auto whole = Checkpoint::open(test::case_dir("tiny-unfused") + "/model.safetensors");
  EXPECT_EQ(sharded->format(), "sharded safetensors (2 files)");
  ASSERT_EQ(sharded->tensors().size(), whole->tensors().size());
  for (const TensorView& t : whole->tensors()) {
    const TensorView* s = sharded->find(t.name);
    ASSERT_NE(s, nullptr) << t.name;
    EXPECT_EQ(s->shape, t.shape);
    ASSERT_EQ(s->nbytes, t.nbytes);
    EXPECT_EQ(std::memcmp(s->data, t.data, t.nbytes), 0) << t.name;
  }
}

TEST(CheckpointShards, IndexMayOnlyNameFilesBesideIt) {
  const std::string dir = sharded_copy("escape");
  auto error_of = [&](const nlohmann::json& index) {
    std::ofstream(dir + "/model.safetensors.index.json") << index.dump();
    try {
      Checkpoint::open(dir + "/model.safetensors.index.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(error_of({{"weight_map", {{"x", "../../etc/passwd"}}}}).find("not a file next to the index"), std::string::npos);
  EXPECT_NE(error_of({{"weight_map", {{"x", "/etc/passwd"}}}}).find("not a file next to the index"), std::string::npos);
  EXPECT_NE(error_of({{"weights", {}}}).find("without a \"weight_map\""), std::string::npos);
  EXPECT_NE(error_of({{"weight_map", {{"not.there", "model-00001-of-00002.safetensors"}}}}).find("'not.there' is not in"),
            std::string::npos);
  EXPECT_NE(error_of({{"weight_map", {{"x", "missing.safetensors"}}}}).find("missing.safetensors"), std::string::npos);
}

// A file that is no checkpoint format at all is said to be one, not an "invalid safetensors file".
TEST(CheckpointFormat, AFileOfNoKnownFormatIsNamedAsNotACheckpoint) {
  const std::string path = test::temp_dir() + "/garbage.pt";
  std::string bytes(1000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 131 + 7) % 251);
  std::ofstream(path, std::ios::binary) << bytes;
  try {
    Checkpoint::open(path);
    ADD_FAILURE() << "garbage accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("garbage.pt: not a checkpoint file (neither a PyTorch file"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace clap
