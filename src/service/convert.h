// `clapsearch convert`: any model clapsearch loads (a LAION .pt, pytorch_model.bin, a folder, a
// hub id) written as a Hugging Face folder (model/convert.h).
#pragma once
#include <string>

#include "hub/hub.h"
#include "model/convert.h"

namespace clap::service {

struct ConvertRequest {
  std::string model;             // as --model takes it
  hub::HubOptions model_options; // --config / --tokenizer
  std::string out_dir;
  ConvertOptions options;
};

struct ConvertResult {
  hub::ResolvedModel resolved;
  ModelFiles files;
  ConvertReport report;
};

// Resolves, converts, and loads the result once to prove it loads (a conversion clapsearch
// could not read back is an error, and the folder is removed). Throws clap::Error.
ConvertResult convert(const ConvertRequest& request);

}  // namespace clap::service
