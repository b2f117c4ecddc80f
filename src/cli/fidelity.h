// The fidelity report of `clapsearch doctor --fidelity DIR...` (and `bench --fidelity`, the name
// it had first): how far a lower precision moves embeddings and top-k rankings from fp32.
#pragma once
#include <string>
#include <vector>

#include "service/precision_choice.h"

namespace clap::cli {

struct FidelityOptions {
  std::string model, config, tokenizer;
  std::string precision = "fp32", text_precision = "fp32";
  std::vector<std::string> dirs;  // --fidelity DIR...
  int top = 10;
  int threads = 0;
  int batch = 8;
  bool json = false;
};

// Prints the report (text or --json) and returns the exit status.
int run_fidelity(const FidelityOptions& o);

// `doctor --fidelity DIR...` without --precision (or with --precision auto): the table
// `index --precision auto` chooses from, measured on a sample of the audio under DIR.
int run_precision_table(const FidelityOptions& o);

// A recorded or measured choice as lines of text: what was chosen and on what sample, then one
// line per precision (worst window cosine, top-10 agreement, ms per window, chosen or why not).
std::vector<std::string> precision_choice_lines(const service::PrecisionChoice& choice);

}  // namespace clap::cli
