#include "index/identity.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/text_file.h"
#include "core/error.h"
#include "core/file_hash.h"
#include "core/sha256.h"
#include "index/window_settings.h"
#include "model/clap.h"
#include "model/config.h"
#include "model/convert.h"

namespace clap::index {

namespace fs = std::filesystem;

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

// What defines a model, worked out once: its files, its settings (a checkpoint's config is
// inferred by opening it, so only once) and the texts of its two config files.
struct Definition {
  ModelFiles files;
  ClapConfig config;
  bool converted = false;         // weights not in safetensors: identified by their conversion
  std::string config_text;        // config.json as given, or as a conversion writes it
  std::string preprocessor_text;  // likewise; "" for a safetensors folder without one
};

Definition define(const hub::ResolvedModel& resolved) {
  Definition d;
  d.files = model_files_of(resolved);
  d.config = ClapModel::read_config(d.files);
  d.converted = !is_safetensors_file(d.files.weights);
  d.config_text = d.files.config.empty() ? converted_config_text(d.files, d.config, DType::F32)
                                         : read_text_file(d.files.config, "model config");
  if (!d.files.preprocessor.empty()) d.preprocessor_text = read_text_file(d.files.preprocessor, "preprocessor config");
  else if (d.converted || d.files.config.empty()) d.preprocessor_text = converted_preprocessor_text(d.files, d.config);
  return d;
}

// sha256 over config.json followed by preprocessor_config.json (when there is one).
std::string config_hash(const Definition& d) { return sha256_hex(d.config_text + d.preprocessor_text); }

// sha256 over (name, sha256) of every part, in hub::model_files() order.
std::string content_hash(const Definition& d) {
  Sha256 h;
  std::error_code ec;
  for (const std::string& name : hub::model_files()) {
    std::string digest;
    if (name == "config.json") {
      digest = sha256_hex(d.config_text);
    } else if (name == "model.safetensors") {
      digest = d.converted ? cached_file_digest(d.files.weights, "hf-safetensors-f32",
                                                [&] { return hugging_face_weights_sha256(d.files); })
                           : file_digest(d.files.weights);
    } else if (name == "preprocessor_config.json") {
      if (!d.preprocessor_text.empty()) digest = sha256_hex(d.preprocessor_text);
    } else if (!d.files.tokenizer_dir.empty() && fs::exists(fs::path(d.files.tokenizer_dir) / name, ec)) {
      digest = file_digest((fs::path(d.files.tokenizer_dir) / name).string());
    }
    if (!digest.empty()) h.update(name + "\t" + digest + "\n");
  }
  return h.hex_digest();
}

// sha256 over the audio side: its config (as parsed, so formatting does not count), the front
// end's settings and the audio tensors (model/convert.h; cached per weights file).
std::string audio_hash(const Definition& d) {
  const nlohmann::json config = nlohmann::json::parse(d.config.to_json_text("float32"));
  Sha256 h;
  h.update("audio_config\t" + config.at("audio_config").dump() + "\n");
  h.update("features\t" + d.config.features.to_json_text());
  h.update("tensors\t" + cached_file_digest(d.files.weights, "audio-tensors-f32",
                                              [&] { return audio_tensors_sha256(d.files); }) +
           "\n");
  return h.hex_digest();
}

}  // namespace

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

void check_window_settings_named(double window_s, double hop_s, const std::string& window_option, const std::string& hop_option) {
  if (!(window_s >= kMinWindowSeconds))
    throw InvalidArgument(window_option + " " + number_text(window_s) + " s: at least " + number_text(kMinWindowSeconds) + " s");
  if (!(hop_s >= kMinHopSeconds))
    throw InvalidArgument(hop_option + " " + number_text(hop_s) + " s: at least " + number_text(kMinHopSeconds) +
                " s (every window is one model run: a 0.5 s hop already makes 10 times the default work)");
  if (hop_s > window_s + 1e-9)
    throw InvalidArgument(hop_option + " " + number_text(hop_s) + " s is longer than " + window_option + " " + number_text(window_s) +
                " s: audio between windows would be left out");
}

void check_window_settings(double window_s, double hop_s, const std::string& window_option) {
  check_window_settings_named(window_s, hop_s, window_option, "--hop");
}

ModelSpec describe_model(const hub::ResolvedModel& resolved, double window_s, double hop_s, double silence_db,
                         const std::string& precision) {
  (void)parse_precision(precision);  // a known name
  ModelSpec m;
  m.resolved = resolved;
  const Definition definition = define(resolved);
  const ClapConfig& config = definition.config;
  const FeatureConfig& features = config.features;
  m.sample_rate = features.sampling_rate;
  m.max_samples = features.nb_max_samples;
  check_window_settings(window_s, hop_s);
  if (!(silence_db >= -200 && silence_db <= 0))
    throw InvalidArgument("--silence-db " + number_text(silence_db) + ": must be between -200 and 0 dBFS");
  const double max_s = double(m.max_samples) / m.sample_rate;
  // Compared in double: llround of a product past int64 (`--window 1e20`) is undefined (it gave
  // INT64_MIN here, so the check passed and the run failed later on "window and hop must be
  // positive", or on a damaged-index message about its own new file: hostile pass 12, H12C-3).
  // llround(x) > max_samples exactly when x >= max_samples + 0.5.
  if (!(window_s * m.sample_rate < double(m.max_samples) + 0.5))
    throw InvalidArgument("--window " + number_text(window_s) + " s is longer than the model's input (" + number_text(max_s) + " s)");
  if (std::llround(hop_s * m.sample_rate) < 1) throw InvalidArgument("--hop is shorter than one sample");
  m.identity.id = resolved.id;
  m.identity.revision = resolved.revision;
  m.identity.config_hash = config_hash(definition);
  m.identity.content_hash = content_hash(definition);
  m.identity.audio_hash = audio_hash(definition);
  // Hints for opening the model again: --config / --tokenizer as given, and a checkpoint file's
  // tokenizer folder (found in the cache or given).
  m.identity.config_path = resolved.config_file;
  if (!resolved.weights_file.empty() || !resolved.tokenizer_dir.empty()) m.identity.tokenizer_path = resolved.tokenizer_dir;
  m.identity.window_s = window_s;
  m.identity.hop_s = hop_s;
  m.identity.dim = config.projection_dim;
  m.identity.silence_db = silence_db;
  m.identity.precision = precision;
  return m;
}

std::string model_spec_of(const store::ModelIdentity& identity) {
  if (identity.revision.empty() || identity.revision == "local") return identity.id;
  return identity.id + "@" + identity.revision;
}

}  // namespace clap::index
