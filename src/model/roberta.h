// RoBERTa text encoder with pooler, as in Hugging Face ClapTextModel: embeddings (word +
// position + token type, LayerNorm) -> post-LN transformer layers -> tanh(dense(h[CLS])).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/weights.h"
#include "tensor/linear.h"

namespace clap {

struct RobertaLayerWeights {  // text_model.encoder.layer.<i>
  LinearWeights query, key, value;     // attention.self.*
  LinearWeights attention_output;      // attention.output.dense
  NormWeights attention_norm;          // attention.output.LayerNorm
  LinearWeights intermediate;          // intermediate.dense
  LinearWeights output;                // output.dense
  NormWeights output_norm;             // output.LayerNorm
};

struct RobertaWeights {  // text_model
  const float* word_embeddings = nullptr;        // embeddings.word_embeddings [vocab, hidden]
  const float* position_embeddings = nullptr;    // embeddings.position_embeddings [max_pos, hidden]
  const float* token_type_embeddings = nullptr;  // embeddings.token_type_embeddings [types, hidden]
  NormWeights embeddings_norm;                   // embeddings.LayerNorm
  std::vector<RobertaLayerWeights> layers;
  LinearWeights pooler;                          // pooler.dense
};

RobertaWeights load_roberta(const TextConfig& config, WeightSource& source, const std::string& prefix);

// The encoder layers packed once into panels of the chosen precision (tensor/linear.h): per
// layer query|key|value as one layer, then the other three. The pooler and the embeddings stay
// the checkpoint's float32 rows (one row per text, and a table lookup).
struct RobertaLayerKernels {
  PackedLinear qkv, attention_output, intermediate, output;
};
struct RobertaKernels {
  WeightType type = WeightType::F32;
  std::vector<RobertaLayerKernels> layers;
};

// Reads only `weights`; `release` is told about each checkpoint layer once it is packed (so
// the caller can drop its memory-mapped pages: the layer then exists once in memory).
RobertaKernels pack_roberta(const RobertaWeights& weights, WeightType type,
                            const std::function<void(const LinearWeights&)>& release = {});

using TextTrace = std::map<std::string, std::vector<float>>;

// Sequences of token ids (no padding needed: each attends only within itself); their tokens
// share the linear layers, whose kernels treat rows independently, so a sequence's result
// does not depend on the others. pooled: sequences x hidden_size. Optional trace:
// hidden_state_<k> (all tokens x hidden). kernels: the encoder's packed layers (pack_roberta).
void roberta_forward(const TextConfig& config, const RobertaWeights& weights, const RobertaKernels& kernels,
                     const std::vector<std::span<const int64_t>>& sequences, float* pooled, TextTrace* trace = nullptr);

// One sequence.
void roberta_forward(const TextConfig& config, const RobertaWeights& weights, const RobertaKernels& kernels,
                     const int64_t* ids, int length, float* pooled, TextTrace* trace = nullptr);

}  // namespace clap
