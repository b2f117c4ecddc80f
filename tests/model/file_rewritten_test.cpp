// A model whose weights file is rewritten in place while it is loaded (hostile pass 10, H10C-4):
// the weights were read in place from a memory map, so a truncated file killed the process
// (SIGBUS) at the next call and a file rewritten with other bytes was read mixed with the old
// one. A loaded tower now never reads the file again; a tower loaded on first use after the file
// changed is a clear error; a file renamed over the name changes nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/clap.h"
#include "model/clap_impl.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;

// A copy of a golden model folder that the test may rewrite.
std::string model_copy(const std::string& name) {
  const std::string dir = test::temp_dir() + "/rewritten-" + name;
  fs::remove_all(dir);
  fs::copy(test::case_dir("tiny-unfused"), dir, fs::copy_options::recursive);
  return dir;
}

// Rewrites the file in place with `bytes` changed in their second half (same size, same header).
void rewrite_in_place(const std::string& path, std::string bytes) {
  for (size_t i = bytes.size() / 2; i < bytes.size(); ++i) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);  // truncated, then written: as `cp` does
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct Inputs {
  std::vector<std::vector<float>> clips;
  std::vector<std::span<const float>> spans;
  Inputs() {
    for (char x : {'a', 'b'}) clips.push_back(test::golden_clip(x));
    spans.assign(clips.begin(), clips.end());
  }
};

TEST(ModelFileRewritten, LoadedTowersAnswerAsBeforeWhenTheFileIsTruncatedOrRewritten) {
  const Inputs in;
  const auto reference = ClapModel::load(test::case_dir("tiny-unfused"));
  const std::vector<float> text = reference->embed_text({"cold drums in the rain"});
  const std::vector<float> other_text = reference->embed_text({"a choir singing"});
  const std::vector<float> audio = reference->embed_audio(in.spans);

  const std::string dir = model_copy("both");
  LoadOptions both;
  both.prepare_audio = both.prepare_text = true;
  const auto model = ClapModel::load(dir, both);
  const std::string weights = dir + "/model.safetensors", bytes = test::read_file(weights);
  fs::resize_file(weights, 1000);  // was SIGBUS at the next call
  EXPECT_EQ(model->embed_text({"cold drums in the rain"}), text);
  rewrite_in_place(weights, bytes);
  EXPECT_EQ(model->embed_text({"a choir singing"}), other_text);
  EXPECT_EQ(model->embed_audio(in.spans), audio);
}

TEST(ModelFileRewritten, ATowerLoadedLaterRefusesARewrittenFileAndKeepsARenamedOne) {
  const Inputs in;
  const auto reference = ClapModel::load(test::case_dir("tiny-unfused"));
  const std::vector<float> text = reference->embed_text({"female vocalist"});
  const std::vector<float> audio = reference->embed_audio(in.spans);

  // Text used, then the file rewritten: the text tower answers as before; the audio tower, never
  // loaded, is refused with the file's name instead of read from the new bytes.
  const std::string dir = model_copy("lazy");
  const auto model = ClapModel::load(dir);
  EXPECT_EQ(model->embed_text({"female vocalist"}), text);
  EXPECT_FALSE(model->impl().audio_kernels_built()) << "text-only use must not load the audio tower";
  rewrite_in_place(dir + "/model.safetensors", test::read_file(dir + "/model.safetensors"));
  EXPECT_EQ(model->embed_text({"female vocalist"}), text);
  try {
    (void)model->embed_audio(in.spans);
    ADD_FAILURE() << "the audio tower was read from a rewritten file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/model.safetensors: the model file was written to since the model was loaded"),
              std::string::npos)
        << e.what();
  }

  // A new file renamed over the name (the safe way to replace a model): the loaded file's bytes
  // are still what a tower loaded later reads.
  const std::string kept = model_copy("renamed");
  const auto renamed = ClapModel::load(kept);
  EXPECT_EQ(renamed->embed_text({"female vocalist"}), text);
  fs::copy_file(test::case_dir("tiny-fused") + "/model.safetensors", kept + "/new.safetensors");
  fs::rename(kept + "/new.safetensors", kept + "/model.safetensors");
  EXPECT_EQ(renamed->embed_audio(in.spans), audio);
}

}  // namespace
}  // namespace clap
