// Model resolution: a local snapshot folder, or a Hugging Face hub id ("org/name",
// "org/name@revision") fetched into the shared Hugging Face cache ($HF_HOME/hub).
#pragma once
#include <string>

namespace clap::index {

inline constexpr const char* kDefaultModel = "laion/larger_clap_music_and_speech";

struct ResolvedModel {
  std::string dir;       // local snapshot folder with config.json, model.safetensors, ...
  std::string id;        // hub id, or the folder's absolute path for local models
  std::string revision;  // commit hash for hub models, "local" for folders
};

struct HubOptions {
  bool quiet = false;  // no progress bar
};

// Throws clap::Error with a clear message (not found, offline, 404, checksum mismatch...).
ResolvedModel resolve_model(const std::string& spec, const HubOptions& options = {});

}  // namespace clap::index
