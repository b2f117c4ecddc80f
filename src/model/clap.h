// The public CLAP engine: both towers, projections, feature extraction and tokenisation
// behind one small API (load, embed_audio, embed_text). Outputs are L2-normalised.
//
// A model is immutable once loaded (each tower's packed weights are built once, thread-safely,
// at load or on the tower's first call: LoadOptions::prepare_audio) and can be shared: any number of threads may embed
// with it at once, each with its own ClapState (scratch buffers, thread count, warnings).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/config.h"

namespace clap {

// Precision of a tower's GEMMs (the audio tower's linear layers and convolutions, 97 % of its
// FLOPs; the text encoder's linear layers: LoadOptions::text_precision). Bf16: inputs and weights rounded to bfloat16, float32 sums (tensor/linear.h);
// LayerNorm, attention, softmax, GELU and residuals stay float32.
// Int8: most layers' weights int8 per output channel and inputs int8 per row, int32 sums
// (tensor/linear.h); the layers int8 hurts most stay bf16 (kHtsatInt8Layers, model/htsat.h).
enum class Precision { F32, BF16, I8 };
const char* precision_name(Precision precision);  // "fp32", "bf16", "int8"
// "fp32" / "bf16" / "int8"; throws clap::Error naming the choices otherwise.
Precision parse_precision(const std::string& name);
// The GEMM kernel this CPU runs the audio tower's layers with in `precision` ("avx512",
// "avx512-bf16", "avx2-bf16", ...; tensor/linear.h).
const char* audio_gemm_kernel(Precision precision);

struct LoadOptions {
  Precision audio_precision = Precision::F32;
  // The text tower's encoder layers: F32, BF16 or I8, packed once, on the first text call, as
  // tensor/linear.h describes (BF16 / I8: embeddings within cosine 0.999 / 0.995 of fp32, 2-3x /
  // 3-4x faster, a half / a quarter of the memory).
  Precision text_precision = Precision::F32;
  // Load (copy and pack) the audio tower at load instead of on the first audio call (a server
  // that will embed audio anyway and wants every request equally fast). Packing takes a few
  // hundred ms and a copy of the audio weights; text-only use leaves it off.
  bool prepare_audio = false;
  // The same for the text tower (its encoder packed, its embedding tables copied).
  //
  // A tower, once loaded, never reads the weights file again: what it reads on every call is
  // copied out of the memory map and its layers are packed. When both are loaded the file is
  // closed. A tower not loaded yet is read from the file mapped at load on its first use; when
  // that file was written to in the meantime (rewritten in place), that use is a clap::Error
  // naming the file, never a crash or a mix of two files' weights (hostile pass 10, H10C-4).
  // A process that must go on answering whatever happens to the file loads both at load.
  bool prepare_text = false;
  // With Precision::I8: which layers are int8 (htsat.h, htsat_int8_layers); "" = the measured
  // default, kHtsatInt8Layers. For measuring which layers int8 hurts (tests), not a user setting:
  // an index records only the precision.
  std::string int8_layers;
};

// Threads a ClapState with threads = 0 uses: every core the process may run on.
int default_thread_count();

// What one embedding call needs besides the model, owned by the caller and reused across
// calls: scratch buffers (kept between calls, so a steady stream of calls allocates nothing
// large), the number of threads a call may use (applied to the calling thread for the call's
// duration only) and where warnings go. One call at a time per state.
class ClapState {
 public:
  using WarningHandler = std::function<void(const std::string&)>;

  // threads: 0 = default_thread_count(). on_warning: null = warnings dropped.
  explicit ClapState(int threads = 0, WarningHandler on_warning = nullptr);
  ~ClapState();
  ClapState(ClapState&&) noexcept;
  ClapState& operator=(ClapState&&) noexcept;

  int threads() const { return threads_; }  // >= 1
  void warn(const std::string& message) const;

  struct Scratch;  // the model's buffers (model/clap_impl.h)
  Scratch& scratch() { return *scratch_; }

 private:
  int threads_ = 1;
  WarningHandler on_warning_;
  std::unique_ptr<Scratch> scratch_;
};

// Where a model's parts come from. A Hugging Face folder holds them all; a LAION checkpoint file
// (.pt) has weights only: its config is inferred from tensor shapes (model/laion.h) and its
// tokenizer comes from elsewhere (roberta-base's files).
struct ModelFiles {
  std::string weights;        // model.safetensors, pytorch_model.bin, a .pt, or a *.index.json of shards
  std::string config;         // config.json; "" = inferred from the weights
  std::string preprocessor;   // preprocessor_config.json; "" = the published front end for the config
  std::string tokenizer_dir;  // folder with vocab.json + merges.txt or tokenizer.json; "" = none
  std::string no_tokenizer_hint;  // why there is none and what to do (the error of a text query)

  // The files of a Hugging Face folder. Weights: model.safetensors, else
  // model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json (when none is
  // there, model.safetensors, which load() reports missing). Throws clap::Error when `dir` is
  // not a folder.
  static ModelFiles in_folder(const std::string& dir);
};

// The weights file names a Hugging Face folder may hold, in order of preference.
const std::vector<std::string>& weights_file_names();

class ClapModel {
 public:
  // Loads a Hugging Face snapshot folder (config.json, model.safetensors, preprocessor_config.json,
  // vocab.json + merges.txt or tokenizer.json). Throws clap::Error naming the file/tensor.
  static std::unique_ptr<ClapModel> load(const std::string& model_dir, const LoadOptions& options = {});
  // Loads a model from its parts (a LAION .pt, a folder's files with another config, ...).
  static std::unique_ptr<ClapModel> load(const ModelFiles& files, const LoadOptions& options = {});
  // The settings the model of `files` has (config + features), without loading it: a given
  // config is read; an inferred one opens the checkpoint (a memory map and its index only).
  static ClapConfig read_config(const ModelFiles& files);
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
  // Results do not depend on how clips are grouped into batches, nor on the thread count.
  std::vector<float> embed_audio(ClapState& state, const std::vector<std::span<const float>>& clips,
                                 int batch = 8) const;
  // Texts -> n x embedding_dim normalised embeddings. Texts longer than the position limit
  // are cut at it (with a warning to the state's handler); `max_tokens` > 0 cuts at that many
  // tokens (bos and eos included) instead, silently, as LAION's tokenizer does at 77. Up to
  // `batch` texts share each pass over the text tower's weights; results do not depend on the
  // batching. `cut`, when given, gets one flag per text: 1 for a text cut at the position limit
  // (the warned cut), so a caller that caches the embedding can tell it apart.
  std::vector<float> embed_text(ClapState& state, const std::vector<std::string>& texts, int batch = 16,
                                size_t max_tokens = 0, std::vector<uint8_t>* cut = nullptr) const;

  // The towers' pooled outputs, before the projection heads (n x audio or text hidden size):
  // what fine-tuning trains the heads on (train/). Same batching and determinism as embed_*.
  std::vector<float> audio_pooled(ClapState& state, const std::vector<std::span<const float>>& clips, int batch = 8) const;
  std::vector<float> text_pooled(ClapState& state, const std::vector<std::string>& texts, int batch = 16) const;

  // The same with a temporary state: all cores, warnings dropped, buffers freed after the call.
  std::vector<float> embed_audio(const std::vector<std::span<const float>>& clips, int batch = 8) const;
  std::vector<float> embed_text(const std::vector<std::string>& texts, int batch = 16) const;

  Precision audio_precision() const;  // LoadOptions::audio_precision
  Precision text_precision() const;   // LoadOptions::text_precision
  float logit_scale_audio() const;  // exp(logit_scale_a)
  float logit_scale_text() const;   // exp(logit_scale_t)
  int64_t parameter_count() const;
  size_t weight_bytes() const;
  size_t copied_weight_bytes() const;  // weights converted (F16/BF16) instead of used in place
  const std::string& weights_format() const;  // "safetensors", "PyTorch training checkpoint (epoch 15)", ...
  bool has_tokenizer() const;
  // For models made by random(): writes model.safetensors into dir (config files are the caller's).
  void save_random_snapshot(const std::string& dir) const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit ClapModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace clap
