// The public CLAP engine: both towers, projections, feature extraction and tokenisation
// behind one small API (load, embed_audio, embed_text). Outputs are L2-normalised.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/config.h"

namespace clap {

struct LoadOptions {
  int threads = 0;  // 0 = all cores
};

class ClapModel {
 public:
  // Loads a Hugging Face snapshot folder (config.json, model.safetensors, preprocessor_config.json,
  // vocab.json + merges.txt or tokenizer.json). Throws clap::Error naming the file/tensor.
  static std::unique_ptr<ClapModel> load(const std::string& model_dir, const LoadOptions& options = {});
  // Builds the architecture of `config_json_path` with deterministic pseudo-random weights
  // (benchmarks and tests of full-size models without downloads). Uses the default
  // feature-extractor settings of the matching checkpoint and a tokenizer from `tokenizer_dir`
  // when given (otherwise text encoding is unavailable).
  static std::unique_ptr<ClapModel> random(const std::string& config_json_path, uint64_t seed = 1,
                                           const std::string& tokenizer_dir = "");
  ~ClapModel();

  const ClapConfig& config() const;
  int embedding_dim() const { return config().projection_dim; }
  int sample_rate() const { return config().features.sampling_rate; }
  int64_t window_samples() const { return config().features.nb_max_samples; }

  // Audio clips of 48 kHz mono samples -> n x embedding_dim normalised embeddings (row-major).
  // Each clip is processed like the reference processor called on that clip alone:
  // shorter clips are repeat-padded; longer ones use deterministic crops (see mel.h).
  // Results do not depend on how clips are grouped into batches.
  std::vector<float> embed_audio(const std::vector<std::span<const float>>& clips, int batch = 8) const;
  // Texts -> n x embedding_dim normalised embeddings. Texts longer than the position limit
  // are cut at it (a warning goes to stderr). Up to `batch` texts share each pass over the
  // text tower's weights; results do not depend on the batching.
  std::vector<float> embed_text(const std::vector<std::string>& texts, int batch = 16) const;

  float logit_scale_audio() const;  // exp(logit_scale_a)
  float logit_scale_text() const;   // exp(logit_scale_t)
  int64_t parameter_count() const;
  size_t weight_bytes() const;
  size_t copied_weight_bytes() const;  // weights converted (F16/BF16) instead of used in place
  bool has_tokenizer() const;
  // For models made by random(): writes model.safetensors into dir (config files are the caller's).
  void save_random_snapshot(const std::string& dir) const;

  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  explicit ClapModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Sets the number of threads used by all kernels (OpenMP + oneDNN). 0 = all cores.
void set_num_threads(int threads);
int num_threads();

}  // namespace clap
