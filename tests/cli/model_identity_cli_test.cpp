// The index knows its model by content (issue 11, defect 3): the same folder reached through a
// trailing slash, a symlink or a copy is the same model; weights replaced at the same path are
// noticed by indexing and by any query that needs the model; the text cache is keyed by it.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
std::string q(const std::string& s) { return test::quoted(s); }

struct Fixture {
  std::string root = test::temp_dir() + "/identity";
  std::string lib = root + "/lib", db = root + "/library.db", model = root + "/model";
  int cli(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) const {
    return test::run_cli(args, out, err, "HF_HOME=" + q(root + "/hf") + " XDG_CACHE_HOME=" + q(root + "/cache"));
  }
};

std::vector<std::string> text_cache_keys(const std::string& db) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h, "SELECT DISTINCT model FROM text_cache", -1, &s, nullptr), SQLITE_OK);
  std::vector<std::string> keys;
  while (sqlite3_step(s) == SQLITE_ROW) keys.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  sqlite3_finalize(s);
  sqlite3_close(h);
  return keys;
}

// Changes one byte in the middle of tensor `name`'s data, replacing the file (new inode).
void flip_tensor_byte(const std::string& path, const std::string& name) {
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, header_size));
  const auto offsets = header.at(name).at("data_offsets");
  const size_t at = 8 + header_size + (offsets[0].get<size_t>() + offsets[1].get<size_t>()) / 2;
  bytes[at] ^= 0x40;
  std::ofstream(path + ".new", std::ios::binary) << bytes;
  fs::rename(path + ".new", path);
}

TEST(ModelIdentityCli, SameModelByAnyPathReplacedWeightsNoticed) {
  Fixture f;
  fs::create_directories(f.root);
  fs::copy(test::case_dir("tiny-unfused"), f.model, fs::copy_options::recursive);
  test::ffmpeg(f.lib + "/a.wav", "-f lavfi -i sine=f=440:d=3:sample_rate=16000");
  test::ffmpeg(f.lib + "/b.wav", "-f lavfi -i sine=f=880:d=3:sample_rate=16000");
  std::string out, err;
  ASSERT_EQ(f.cli("index " + q(f.lib) + " --db " + q(f.db) + " --model " + q(f.model) + " -q", &out, &err), 0)
      << err;
  ASSERT_EQ(f.cli("status --db " + q(f.db) + " --json", &out, &err), 0) << err;
  const std::string content = nlohmann::json::parse(out)["model"]["content_hash"];
  EXPECT_EQ(content.size(), 64u);

  // A trailing slash, a symlink, a copy elsewhere: the same model, nothing re-embedded.
  fs::create_directory_symlink(f.model, f.root + "/current-model");
  fs::copy(f.model, f.root + "/model-copy", fs::copy_options::recursive);
  for (const std::string& spec : {f.model + "/", f.root + "/current-model", f.root + "/model-copy"}) {
    ASSERT_EQ(f.cli("index " + q(f.lib) + " --db " + q(f.db) + " --model " + q(spec) + " --json -q", &out, &err),
              0)
        << spec << ": " << err;
    EXPECT_EQ(nlohmann::json::parse(out)["unchanged"], 2) << spec;
    ASSERT_EQ(f.cli("search --db " + q(f.db) + " --model " + q(spec) + " --json 'a tone " + spec.substr(spec.size() - 4) + "'",
                    &out, &err),
              0)
        << spec << ": " << err;
  }
  // Text embeddings are cached under the content, not a path.
  for (const std::string& key : text_cache_keys(f.db)) EXPECT_EQ(key, "content:" + content);
  // The copy is now the model the index points to (the last run reached it there).
  ASSERT_EQ(f.cli("status --db " + q(f.db) + " --json", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["model"]["id"], fs::canonical(f.root + "/model-copy").string());

  // New weights at the same path (one value changed, as a re-download would). First in the
  // text side only: the audio embeddings stay exactly what this model makes, so the index takes
  // it as it takes a text fine-tune (nothing re-embedded, the new content recorded).
  const std::string weights = f.root + "/model-copy/model.safetensors";
  flip_tensor_byte(weights, "text_projection.linear2.weight");
  // Before any index run records it, a query text cached for the old weights is not answered from
  // the cache: the key is the model on disk now, and the text is embedded again under its content.
  ASSERT_EQ(f.cli("search --db " + q(f.db) + " --json 'a tone copy'", &out, &err), 0) << err;
  {
    const std::vector<std::string> now = text_cache_keys(f.db);
    EXPECT_TRUE(std::any_of(now.begin(), now.end(), [&](const std::string& k) { return k != "content:" + content; }))
        << "the changed text tower's query was answered from the old weights' cache";
  }
  ASSERT_EQ(f.cli("index " + q(f.lib) + " --db " + q(f.db) + " --json -q", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["unchanged"], 2);
  ASSERT_EQ(f.cli("status --db " + q(f.db) + " --json", &out, &err), 0) << err;
  const std::string text_changed = nlohmann::json::parse(out)["model"]["content_hash"];
  EXPECT_NE(text_changed, content);
  ASSERT_EQ(f.cli("search --db " + q(f.db) + " 'a tone after the text change'", &out, &err), 0) << err;
  const std::vector<std::string> keys = text_cache_keys(f.db);
  EXPECT_NE(std::find(keys.begin(), keys.end(), "content:" + text_changed), keys.end());
  // Then in the audio side: the stored embeddings are no longer this model's.
  flip_tensor_byte(weights, "audio_projection.linear1.weight");
  EXPECT_EQ(f.cli("index " + q(f.lib) + " --db " + q(f.db) + " -q", &out, &err), 1);
  EXPECT_NE(err.find("changed since"), std::string::npos) << err;
  EXPECT_NE(err.find("--rebuild"), std::string::npos) << err;
  // A query that needs the model is refused too (the index's embeddings are the old model's)...
  EXPECT_EQ(f.cli("search --db " + q(f.db) + " 'words never searched before'", &out, &err), 1);
  EXPECT_NE(err.find("changed since"), std::string::npos) << err;
  // ...while texts already embedded by the index's own model still answer.
  EXPECT_EQ(f.cli("search --db " + q(f.db) + " 'a tone after the text change'", &out, &err), 0) << err;
  // --rebuild takes the new model.
  ASSERT_EQ(f.cli("index " + q(f.lib) + " --db " + q(f.db) + " --rebuild --json -q", &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["indexed"], 2);
  ASSERT_EQ(f.cli("status --db " + q(f.db) + " --json", &out, &err), 0) << err;
  EXPECT_NE(nlohmann::json::parse(out)["model"]["content_hash"], content);
}

}  // namespace
}  // namespace clap
