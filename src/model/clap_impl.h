// Internals of ClapModel, visible to tests (stage-by-stage parity) and the benchmark.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include "model/clap.h"
#include "model/htsat.h"
#include "model/mel.h"
#include "model/projection.h"
#include "model/roberta.h"
#include "model/tokenizer.h"
#include "model/weights.h"

namespace clap {

struct ClapState::Scratch {
  HtsatScratch htsat;                  // the audio tower's activations
  std::vector<float> batch_features;   // log-mel features of the clips of one call
};

// Sets the calling thread's OpenMP thread count while it lives and restores the previous one.
// The count is per thread (an OpenMP ICV): other threads and later calls are not affected.
class ThreadCountScope {
 public:
  explicit ThreadCountScope(int threads);
  ~ThreadCountScope();
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;

 private:
  int saved_;
};

struct ClapModel::Impl {
  ClapConfig config;
  Precision audio_precision = Precision::F32;
  Precision text_precision = Precision::F32;
  std::string int8_layers;  // LoadOptions::int8_layers
  // The checkpoint, open until both towers are loaded (then closed: nothing of the model reads
  // the file any more), and the copies of the tensors the towers keep.
  std::unique_ptr<WeightSource> source;
  std::string weights_format;     // Checkpoint::format() of the weights file
  std::string no_tokenizer_hint;  // ModelFiles::no_tokenizer_hint
  // A tower's weights: filled at load (LoadOptions::prepare_*) or on the tower's first use, with
  // its kept tensors copied out of the checkpoint and its packed layers' pointers cleared once
  // packed (they pointed into the file). Empty until then.
  HtsatWeights audio;
  RobertaWeights text;
  ProjectionWeights audio_projection, text_projection;
  float logit_scale_a = 0, logit_scale_t = 0;  // raw log scales
  std::unique_ptr<MelExtractor> mel;
  std::optional<Tokenizer> tokenizer;

  // The audio tower loaded (its weights copied and packed) and its packed layers: at load when
  // asked, else on first use (by whichever thread gets there first; the others wait), then
  // shared read-only. The checkpoint pages of each packed layer are dropped, so a layer exists
  // once in memory. A tower loaded on first use is read from the checkpoint opened at load;
  // when that file was written to since (MappedFile::changed), a clap::Error says so instead of
  // mixing its new bytes with the tower already loaded.
  const HtsatKernels& audio_kernels() const;
  bool audio_kernels_built() const { return audio_kernels_built_.load(); }
  // The text tower, the same way, its encoder packed in the text precision.
  const RobertaKernels& text_kernels() const;
  bool text_kernels_built() const { return text_kernels_built_.load(); }
  // Whether a tower's weights are in `audio` / `text` (set at load for the towers prepared then).
  bool audio_weights_loaded = false, text_weights_loaded = false;

  // Audio features (batch x channels x frames x mels) -> normalised embeddings (batch x dim),
  // with the state's scratch buffers (the calling thread's thread count as it is).
  // pooled / projected, when given, receive the intermediate rows (tests).
  void audio_from_features(ClapState& state, const float* features, int batch, int channels, int frames, int mels,
                           const uint8_t* is_longer, float* embeddings, Trace* trace = nullptr,
                           std::vector<float>* pooled = nullptr, std::vector<float>* projected = nullptr) const;
  // One token sequence -> normalised embedding (dim floats).
  void text_from_ids(const int64_t* ids, int length, float* embedding, TextTrace* trace = nullptr,
                     std::vector<float>* pooled = nullptr, std::vector<float>* projected = nullptr) const;
  // Token sequences -> normalised embeddings (ids.size() x dim), all through the text tower
  // together; each equals text_from_ids on that sequence alone.
  // pooled_rows, when given, receives the tower's pooled outputs (ids.size() x text hidden).
  void texts_from_ids(const std::vector<std::vector<int64_t>>& ids, float* embeddings, float* pooled_rows = nullptr) const;
  // embed_audio / embed_text in batches; pooled_rows, when given, receives the towers' pooled
  // outputs (n x hidden) beside the embeddings (n x dim); cut, when given, one flag per text
  // (1: cut at the model's limit, the cut that is warned of).
  void audio_batches(ClapState& state, const std::vector<std::span<const float>>& clips, int batch, float* embeddings,
                     float* pooled_rows) const;
  void text_batches(ClapState& state, const std::vector<std::string>& texts, int batch, float* embeddings,
                    float* pooled_rows, size_t max_tokens = 0, std::vector<uint8_t>* cut = nullptr) const;
  // Longest token sequence the position table allows (incl. <s> and </s>).
  size_t max_text_tokens() const;

 private:
  mutable std::once_flag audio_kernels_once_;
  mutable std::unique_ptr<const HtsatKernels> audio_kernels_;
  mutable std::atomic<bool> audio_kernels_built_{false};
  mutable std::once_flag text_kernels_once_;
  mutable std::unique_ptr<const RobertaKernels> text_kernels_;
  mutable std::atomic<bool> text_kernels_built_{false};
  mutable std::mutex load_mutex_;  // one tower at a time reads the checkpoint
  // Under load_mutex_ (in a const method's call_once: the tower's fields are filled once, before
  // any reader sees the kernels).
  void load_tower_weights(bool audio_tower);
  void close_when_both_built();
};

}  // namespace clap
