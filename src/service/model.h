// Opening a model the one way every front end does: resolve a folder or hub id (downloading
// into the shared Hugging Face cache when needed), load it, and - the first time a model is
// used after a download - check its text tower, reporting a collapsed one loudly.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "hub/hub.h"
#include "model/clap.h"

namespace clap::service {

// Where loud messages go (a collapsed text tower); front ends print them.
using Notice = std::function<void(const std::string&)>;

struct ModelOpenOptions {
  hub::HubOptions hub;       // quiet: no download progress
  int threads = 0;           // threads of the first-use health check, 0 = all cores
  Notice warn;               // receives the collapsed-text-tower warning (null: dropped)
  Precision audio_precision = Precision::F32;  // LoadOptions::audio_precision
  Precision text_precision = Precision::F32;   // LoadOptions::text_precision
  bool prepare_audio = false;                  // LoadOptions::prepare_audio (load the audio tower at load)
  bool prepare_text = false;                   // LoadOptions::prepare_text (load the text tower at load)
};

struct OpenedModel {
  hub::ResolvedModel resolved;
  std::unique_ptr<ClapModel> model;
};

// Resolves and loads `spec`. Throws clap::Error with the reason (not found, offline, not a
// model folder, missing tensors...).
OpenedModel open_model(const std::string& spec, const ModelOpenOptions& options = {});

// Loads a model resolved before (same first-use check as open_model).
std::unique_ptr<ClapModel> load_model(const hub::ResolvedModel& resolved, const ModelOpenOptions& options = {});

}  // namespace clap::service
