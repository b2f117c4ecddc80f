// The fidelity report of `clapsearch doctor --fidelity DIR...` (and `bench --fidelity`, the name
// it had first): how far a lower precision moves embeddings and top-k rankings from fp32.
#pragma once
#include <string>
#include <vector>

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

}  // namespace clap::cli
