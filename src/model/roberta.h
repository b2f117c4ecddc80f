// RoBERTa text encoder with pooler, as in Hugging Face ClapTextModel: embeddings (word +
// position + token type, LayerNorm) -> post-LN transformer layers -> tanh(dense(h[CLS])).
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/weights.h"

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

using TextTrace = std::map<std::string, std::vector<float>>;

// Sequences of token ids (no padding needed: each attends only within itself); their tokens
// share the linear layers, whose kernels treat rows independently, so a sequence's result
// does not depend on the others. pooled: sequences x hidden_size. Optional trace:
// hidden_state_<k> (all tokens x hidden).
void roberta_forward(const TextConfig& config, const RobertaWeights& weights,
                     const std::vector<std::span<const int64_t>>& sequences, float* pooled, TextTrace* trace = nullptr);

// One sequence.
void roberta_forward(const TextConfig& config, const RobertaWeights& weights, const int64_t* ids, int length,
                     float* pooled, TextTrace* trace = nullptr);

}  // namespace clap
