// Writing a model in Hugging Face's layout: config.json, model.safetensors (every tensor of
// transformers' ClapModel under its own name), preprocessor_config.json and the tokenizer files,
// so that ClapModel.from_pretrained / ClapProcessor.from_pretrained and clapsearch load it.
// The input is anything ClapModel::load reads (a LAION .pt, pytorch_model.bin, a folder).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/tensor_view.h"
#include "model/clap.h"

namespace clap {

// Receives the bytes of a file being written, in order.
using ByteSink = std::function<void(const void* data, size_t size)>;

struct ConvertOptions {
  DType dtype = DType::F32;  // float tensors as F32, F16 or BF16; integer buffers stay as they are
  bool force = false;        // replace a non-empty output folder
  // Tensors (Hugging Face names) written with these values instead of the input's: a
  // fine-tuned projection head. Each must exist in the input with as many elements.
  std::map<std::string, std::vector<float>> replace;
  // More files written into the folder, name -> text (a training report); atomically with the rest.
  std::vector<std::pair<std::string, std::string>> extra_files;
};

struct ConvertReport {
  std::string out_dir;
  std::string source_format;             // Checkpoint::format() of the input
  ClapConfig config;                     // what the folder's config.json says
  bool config_inferred = false;          // from tensor shapes (no config given)
  size_t tensors = 0;                    // in model.safetensors
  uint64_t weights_bytes = 0;            // size of model.safetensors
  std::vector<std::string> dropped;      // LAION-only tensors left out
  std::vector<std::string> synthesized;  // buffers the input lacked, written with their defined values
  std::vector<std::string> files;        // written, in order
};

// Streams the model.safetensors of `files` (Hugging Face names, floats as `dtype`, keys sorted,
// metadata {"format": "pt"}) into `sink`. Missing buffers that transformers expects
// (position_ids, token_type_ids, relative_position_index, num_batches_tracked) are synthesized.
// `replace`: see ConvertOptions::replace.
ConvertReport write_hugging_face_weights(const ModelFiles& files, DType dtype, const ByteSink& sink,
                                         const std::map<std::string, std::vector<float>>& replace = {});

// sha256 of the model.safetensors that `convert_model` writes for `files` at F32: the weights'
// identity whatever file they came in (a .pt and its conversion have the same).
std::string hugging_face_weights_sha256(const ModelFiles& files);

// sha256 over the audio side's float tensors (audio_model.*, audio_projection.*; Hugging Face
// names in order, each name, shape and float32 values): equal for two models whose audio
// embeddings are the same whatever else differs (a text-only fine-tune and its base; a .pt and
// its conversion). Derived buffers (integer tensors) are left out: the config defines them.
std::string audio_tensors_sha256(const ModelFiles& files);

// The config.json / preprocessor_config.json text a conversion writes: the given file's bytes,
// else `config` (ClapModel::read_config(files)) serialised.
std::string converted_config_text(const ModelFiles& files, const ClapConfig& config, DType dtype);
std::string converted_preprocessor_text(const ModelFiles& files, const ClapConfig& config);

// The tokenizer files a conversion copies (those of hub::model_files() that exist).
const std::vector<std::string>& tokenizer_file_names();

// Writes the folder's files into a temporary folder beside `out_dir`, then into place: a new
// folder is renamed whole (an interrupted conversion leaves no folder that looks complete); in
// an existing one each file is renamed over its old version. Never deletes anything but the
// files it writes: refuses a non-empty `out_dir` unless options.force, and even then unless it
// holds only files a conversion writes (a previous output: the message lists anything else);
// refuses an `out_dir` that is, holds or is inside any input (weights, config, tokenizer
// folder). Throws clap::Error.
ConvertReport convert_model(const ModelFiles& files, const std::string& out_dir, const ConvertOptions& options = {});

// The refusals of convert_model, checked before any work (fine-tuning checks its --out first).
void check_conversion_target(const ModelFiles& files, const std::string& out_dir, const ConvertOptions& options = {});

// Undoes a conversion that turned out unusable: removes the files it wrote, and its folder
// only if that is then empty.
void remove_conversion(const ConvertReport& report);

}  // namespace clap
