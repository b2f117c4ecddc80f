// `clapsearch embed`: audio files and texts in, one embedding per input out, in the order
// given. An input that fails gets its error and the others are still embedded.
#pragma once
#include <string>
#include <vector>

#include "service/model.h"

namespace clap::service {

struct EmbedInput {
  std::string value;  // a path (audio) or a text
  bool is_audio = false;
};

struct EmbedOutput {
  EmbedInput input;
  std::vector<float> embedding;  // empty when error is set
  std::string error;
};

struct EmbedRequest {
  std::string model;
  hub::HubOptions model_options;  // --config / --tokenizer
  std::vector<EmbedInput> inputs;
  int batch = 8;       // windows / texts per model call
  int threads = 0;
  double hop_s = 5.0;  // between windows of files longer than one window
  Precision audio_precision = Precision::F32;
  Precision text_precision = Precision::F32;
  Notice warn;         // warnings (text cut at the model's limit, collapsed text tower)
};

struct EmbedResult {
  int dim = 0;
  std::vector<EmbedOutput> outputs;  // in input order
};

// Throws clap::Error only when the model cannot be opened.
EmbedResult embed_inputs(const EmbedRequest& request);

}  // namespace clap::service
