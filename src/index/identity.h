// The model identity an index records (see store.h), worked out from a resolved model folder
// without loading its weights: hub id and revision from resolution, a hash of the two config
// files, the embedding size and the model's input length from them.
#pragma once
#include <cstdint>
#include <string>

#include "hub/hub.h"
#include "model/clap.h"
#include "store/store.h"

namespace clap::index {

struct ModelSpec {
  hub::ResolvedModel resolved;
  store::ModelIdentity identity;
  int sample_rate = 48000;       // the feature extractor's rate
  int64_t max_samples = 480000;  // the longest clip the model takes (nb_max_samples)
};

// The parts ClapModel::load takes for a resolved model: the folder's files, with a checkpoint
// file, --config and --tokenizer in place of the folder's own.
ModelFiles model_files_of(const hub::ResolvedModel& resolved);

// The hub options that open the model an index records again (its --config/--tokenizer hints).
hub::HubOptions hub_options_of(const store::ModelIdentity& identity);

// Reads the model's config (inferred for a checkpoint file) and fills the identity:
//  - config_hash: sha256 over config.json followed by preprocessor_config.json (when present);
//  - content_hash, what the model is whatever path or name it is reached by: sha256 over the
//    name and sha256 of every model file (hub::model_files(): weights, configs, tokenizer). A hub
//    blob's hash is its file name (verified at download); a local file's is computed once and
//    cached by file identity (core/file_hash.h), so queries never re-read the weights.
// A model whose weights are not a safetensors file (a LAION .pt, pytorch_model.bin) is
// identified by the folder `clapsearch convert` makes of it (model/convert.h): its config.json,
// model.safetensors (F32, its digest cached like a file's) and preprocessor_config.json as that
// folder would hold them. So an index built from a .pt accepts its conversion, and the other
// way round.
// Throws clap::Error when a window is longer than the model's input, or hop/window <= 0.
// Bounds on the window settings, so that no setting makes unbounded work (a 0.0001 s hop would
// mean 300,000 model runs per 30 s of audio): window >= 1 s, 0.5 s <= hop <= window. Throws
// clap::Error naming the option. The index, `like --chunk/--hop` and the server all check here.
inline constexpr double kMinWindowSeconds = 1.0;
inline constexpr double kMinHopSeconds = 0.5;
// `window_option` names the window's option in messages (`like` calls it --chunk).
void check_window_settings(double window_s, double hop_s, const std::string& window_option = "--window");

// The identity an index records for `resolved` with these settings. precision: the audio
// tower's ("fp32", "bf16"; model/clap.h), checked.
ModelSpec describe_model(const hub::ResolvedModel& resolved, double window_s, double hop_s, double silence_db,
                         const std::string& precision = "fp32");

// The spec to resolve again a model recorded in an index: "org/name@revision" for hub
// models, the folder for local ones.
std::string model_spec_of(const store::ModelIdentity& identity);

}  // namespace clap::index
