// Internals of ClapModel, visible to tests (stage-by-stage parity) and benchmarks.
#pragma once
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

struct ClapModel::Impl {
  ClapConfig config;
  std::unique_ptr<WeightSource> source;
  HtsatWeights audio;
  mutable std::once_flag audio_kernels_packed;  // pack_htsat_kernels on first audio use
  RobertaWeights text;
  ProjectionWeights audio_projection, text_projection;
  float logit_scale_a = 0, logit_scale_t = 0;  // raw log scales
  std::unique_ptr<MelExtractor> mel;
  std::optional<Tokenizer> tokenizer;

  // Audio features (batch x channels x frames x mels) -> normalised embeddings (batch x dim).
  // pooled / projected, when given, receive the intermediate rows (tests).
  void audio_from_features(const float* features, int batch, int channels, int frames, int mels, const uint8_t* is_longer,
                           float* embeddings, Trace* trace = nullptr, std::vector<float>* pooled = nullptr,
                           std::vector<float>* projected = nullptr) const;
  // One token sequence -> normalised embedding (dim floats).
  void text_from_ids(const int64_t* ids, int length, float* embedding, TextTrace* trace = nullptr,
                     std::vector<float>* pooled = nullptr, std::vector<float>* projected = nullptr) const;
  // Token sequences -> normalised embeddings (ids.size() x dim), all through the text tower
  // together; each equals text_from_ids on that sequence alone.
  void texts_from_ids(const std::vector<std::vector<int64_t>>& ids, float* embeddings) const;
  // Longest token sequence the position table allows (incl. <s> and </s>).
  size_t max_text_tokens() const;
};

}  // namespace clap
