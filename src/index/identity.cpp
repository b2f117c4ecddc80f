#include "index/identity.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/file_hash.h"
#include "core/sha256.h"
#include "model/config.h"
#include "model/convert.h"

namespace clap::index {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error(p.string() + ": cannot read");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

ModelFiles model_files_of(const hub::ResolvedModel& resolved) {
  ModelFiles files;
  if (resolved.weights_file.empty()) {
    files = ModelFiles::in_folder(resolved.dir);
  } else {
    files.weights = resolved.weights_file;
    files.no_tokenizer_hint = resolved.no_tokenizer_hint;
  }
  if (!resolved.config_file.empty()) {
    files.config = resolved.config_file;
    files.preprocessor = resolved.preprocessor_file;
  }
  if (!resolved.tokenizer_dir.empty()) files.tokenizer_dir = resolved.tokenizer_dir;
  return files;
}

namespace {

bool is_safetensors_file(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  return name.size() >= 12 && name.compare(name.size() - 12, 12, ".safetensors") == 0;
}

// sha256 of a file, by its verified hub blob name when it has one.
std::string file_digest(const std::string& path) {
  std::string digest = hub::cached_blob_sha256(path);
  return digest.empty() ? cached_sha256_file(path) : digest;
}

// The model's defining texts/files as (name, sha256), in hub::model_files() order.
std::vector<std::pair<std::string, std::string>> model_parts(const hub::ResolvedModel& resolved) {
  const ModelFiles files = model_files_of(resolved);
  const bool converted = !is_safetensors_file(files.weights);  // identified by its conversion
  std::vector<std::pair<std::string, std::string>> parts;
  std::error_code ec;
  for (const std::string& name : hub::model_files()) {
    std::string digest;
    if (name == "config.json") {
      digest = files.config.empty() ? sha256_hex(converted_config_text(files, DType::F32)) : file_digest(files.config);
    } else if (name == "model.safetensors") {
      digest = converted ? cached_file_digest(files.weights, "hf-safetensors-f32",
                                              [&] { return hugging_face_weights_sha256(files); })
                         : file_digest(files.weights);
    } else if (name == "preprocessor_config.json") {
      if (!files.preprocessor.empty()) digest = file_digest(files.preprocessor);
      else if (converted || files.config.empty()) digest = sha256_hex(converted_preprocessor_text(files));
    } else if (!files.tokenizer_dir.empty() && fs::exists(fs::path(files.tokenizer_dir) / name, ec)) {
      digest = file_digest((fs::path(files.tokenizer_dir) / name).string());
    }
    if (!digest.empty()) parts.emplace_back(name, digest);
  }
  return parts;
}

}  // namespace

std::string config_hash(const hub::ResolvedModel& resolved) {
  const ModelFiles files = model_files_of(resolved);
  const bool converted = !is_safetensors_file(files.weights);
  Sha256 h;  // the same texts model_parts hashes
  h.update(files.config.empty() ? converted_config_text(files, DType::F32) : read_file(files.config));
  if (!files.preprocessor.empty()) h.update(read_file(files.preprocessor));
  else if (converted || files.config.empty()) h.update(converted_preprocessor_text(files));
  return h.hex_digest();
}

std::string model_content_hash(const hub::ResolvedModel& resolved) {
  Sha256 h;
  for (const auto& [name, digest] : model_parts(resolved)) h.update(name + "\t" + digest + "\n");
  return h.hex_digest();
}

hub::HubOptions hub_options_of(const store::ModelIdentity& identity) {
  // Hints only: one that no longer exists is dropped (resolution then looks again, and the
  // content hash tells whether what it finds is the same).
  hub::HubOptions o;
  std::error_code ec;
  if (!identity.config_path.empty() && fs::exists(identity.config_path, ec)) o.config = identity.config_path;
  if (!identity.tokenizer_path.empty() && fs::exists(identity.tokenizer_path, ec)) o.tokenizer = identity.tokenizer_path;
  return o;
}

namespace {
std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace

void check_window_settings(double window_s, double hop_s, const std::string& window_option) {
  if (!(window_s >= kMinWindowSeconds))
    throw Error(window_option + " " + number_text(window_s) + " s: at least " + number_text(kMinWindowSeconds) + " s");
  if (!(hop_s >= kMinHopSeconds))
    throw Error("--hop " + number_text(hop_s) + " s: at least " + number_text(kMinHopSeconds) +
                " s (every window is one model run: a 0.5 s hop already makes 10 times the default work)");
  if (hop_s > window_s + 1e-9)
    throw Error("--hop " + number_text(hop_s) + " s is longer than " + window_option + " " + number_text(window_s) +
                " s: audio between windows would be left out");
}

ModelSpec describe_model(const hub::ResolvedModel& resolved, double window_s, double hop_s, double silence_db) {
  ModelSpec m;
  m.resolved = resolved;
  const ClapConfig config = ClapModel::read_config(model_files_of(resolved));
  const FeatureConfig& features = config.features;
  m.sample_rate = features.sampling_rate;
  m.max_samples = features.nb_max_samples;
  check_window_settings(window_s, hop_s);
  if (!(silence_db >= -200 && silence_db <= 0))
    throw Error("--silence-db " + number_text(silence_db) + ": must be between -200 and 0 dBFS");
  const double max_s = double(m.max_samples) / m.sample_rate;
  if (std::llround(window_s * m.sample_rate) > m.max_samples)
    throw Error("--window " + std::to_string(window_s) + " s is longer than the model's input (" + std::to_string(max_s) +
                " s)");
  if (std::llround(hop_s * m.sample_rate) < 1) throw Error("--hop is shorter than one sample");
  m.identity.id = resolved.id;
  m.identity.revision = resolved.revision;
  m.identity.config_hash = config_hash(resolved);
  m.identity.content_hash = model_content_hash(resolved);
  // Hints for opening the model again: --config / --tokenizer as given, and a checkpoint file's
  // tokenizer folder (found in the cache or given).
  m.identity.config_path = resolved.config_file;
  if (!resolved.weights_file.empty() || !resolved.tokenizer_dir.empty()) m.identity.tokenizer_path = resolved.tokenizer_dir;
  m.identity.window_s = window_s;
  m.identity.hop_s = hop_s;
  m.identity.dim = config.projection_dim;
  m.identity.silence_db = silence_db;
  return m;
}

std::string model_spec_of(const store::ModelIdentity& identity) {
  if (identity.revision.empty() || identity.revision == "local") return identity.id;
  return identity.id + "@" + identity.revision;
}

}  // namespace clap::index
