#include "model/roberta.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "tensor/linear.h"
#include "tensor/ops.h"

namespace clap {

RobertaWeights load_roberta(const TextConfig& c, WeightSource& src, const std::string& prefix) {
  constexpr WeightUse kPacked = WeightUse::Packed;  // the encoder's layers (pack_roberta); the pooler is kept
  RobertaWeights w;
  const int64_t h = c.hidden_size;
  w.word_embeddings = src.get(prefix + ".embeddings.word_embeddings.weight", {c.vocab_size, h});
  w.position_embeddings = src.get(prefix + ".embeddings.position_embeddings.weight", {c.max_position_embeddings, h});
  w.token_type_embeddings = src.get(prefix + ".embeddings.token_type_embeddings.weight", {c.type_vocab_size, h});
  w.embeddings_norm = src.norm(prefix + ".embeddings.LayerNorm", h);
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = prefix + ".encoder.layer." + std::to_string(i);
    RobertaLayerWeights l;
    l.query = src.linear(p + ".attention.self.query", h, h, true, kPacked);
    l.key = src.linear(p + ".attention.self.key", h, h, true, kPacked);
    l.value = src.linear(p + ".attention.self.value", h, h, true, kPacked);
    l.attention_output = src.linear(p + ".attention.output.dense", h, h, true, kPacked);
    l.attention_norm = src.norm(p + ".attention.output.LayerNorm", h);
    l.intermediate = src.linear(p + ".intermediate.dense", h, c.intermediate_size, true, kPacked);
    l.output = src.linear(p + ".output.dense", c.intermediate_size, h, true, kPacked);
    l.output_norm = src.norm(p + ".output.LayerNorm", h);
    w.layers.push_back(l);
  }
  w.pooler = src.linear(prefix + ".pooler.dense", h, h);
  return w;
}

RobertaKernels pack_roberta(const RobertaWeights& w, WeightType type,
                            const std::function<void(const LinearWeights&)>& release) {
  const auto pack = [&](std::initializer_list<LinearWeights> layers) {
    PackedLinear packed = pack_linear(std::span<const LinearWeights>(layers.begin(), layers.size()), type);
    if (release)
      for (const LinearWeights& l : layers) release(l);
    return packed;
  };
  RobertaKernels k;
  k.type = type;
  for (const RobertaLayerWeights& l : w.layers)
    k.layers.push_back({pack({l.query, l.key, l.value}), pack({l.attention_output}), pack({l.intermediate}), pack({l.output})});
  return k;
}

void roberta_forward(const TextConfig& c, const RobertaWeights& w, const RobertaKernels& kernels,
                     const std::vector<std::span<const int64_t>>& sequences, float* pooled, TextTrace* trace) {
  if (kernels.layers.size() != w.layers.size())
    throw Error("internal: roberta_forward with kernels packed from other weights");
  const int64_t h = c.hidden_size, heads = c.num_attention_heads, hd = h / heads;
  const float eps = static_cast<float>(c.layer_norm_eps);
  // All tokens of all sequences are rows of one matrix for the linear layers (row-independent
  // kernels: a text's result does not depend on the others); attention stays per sequence.
  std::vector<int64_t> first(sequences.size() + 1, 0);
  for (size_t s = 0; s < sequences.size(); ++s) {
    const int64_t n = static_cast<int64_t>(sequences[s].size());
    // Positions count non-pad tokens from padding_idx + 1 (RoBERTa's create_position_ids_from_input_ids).
    if (n + c.pad_token_id >= c.max_position_embeddings)
      throw Error("text of " + std::to_string(n) + " tokens exceeds the model's position limit");
    first[s + 1] = first[s] + n;
  }
  const int64_t rows = first.back();
  std::vector<float> x(static_cast<size_t>(rows * h));
  for (size_t s = 0; s < sequences.size(); ++s) {
    int64_t position = c.pad_token_id;
    for (int64_t t = 0; t < static_cast<int64_t>(sequences[s].size()); ++t) {
      const int64_t id = sequences[s][t];
      if (id < 0 || id >= c.vocab_size) throw Error("token id " + std::to_string(id) + " outside the vocabulary");
      const bool pad = id == c.pad_token_id;
      const int64_t pos = pad ? c.pad_token_id : ++position;
      const float* we = w.word_embeddings + id * h;
      const float* pe = w.position_embeddings + pos * h;
      const float* te = w.token_type_embeddings;
      float* xr = x.data() + (first[s] + t) * h;
      for (int64_t i = 0; i < h; ++i) xr[i] = we[i] + te[i] + pe[i];
    }
  }
  layer_norm(x.data(), rows, h, w.embeddings_norm.weight, w.embeddings_norm.bias, eps, x.data());
  if (trace) (*trace)["hidden_state_0"] = x;

  int64_t longest = 0;
  for (const auto& seq : sequences) longest = std::max<int64_t>(longest, static_cast<int64_t>(seq.size()));
  // Per token: query | key | value (rows of 3h), from one packed layer.
  const int64_t ld = 3 * h;
  std::vector<float> qkv(static_cast<size_t>(rows * ld)), ctx(x.size());
  std::vector<float> scratch(static_cast<size_t>(attention_scratch_floats(longest, hd)));
  std::vector<float> mlp(static_cast<size_t>(rows * c.intermediate_size));
  LinearScratch linear_scratch;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // GELU in the intermediate GEMM's epilogue when the model uses it (every CLAP text tower).
  const bool fused_gelu = c.hidden_act == Activation::Gelu;
  // Moves each sequence's first token (<s>) to row s (rows only move down: in place).
  const auto first_tokens_to_front = [&](std::vector<float>& m) {
    for (size_t s = 0; s < sequences.size(); ++s)
      if (first[s] != static_cast<int64_t>(s))
        std::memcpy(m.data() + s * h, m.data() + first[s] * h, sizeof(float) * h);
  };
  const int64_t count = static_cast<int64_t>(sequences.size());
  int64_t live = rows;  // rows the layer computes after its attention
  for (size_t li = 0; li < w.layers.size(); ++li) {
    const RobertaLayerWeights& l = w.layers[li];
    const RobertaLayerKernels& lk = kernels.layers[li];
    linear(x.data(), rows, h, lk.qkv.view(), qkv.data(), ld, Epilogue::None, nullptr, &linear_scratch);
    const float *qp = qkv.data(), *kp = qp + h, *vp = qp + 2 * h;
    for (size_t s = 0; s < sequences.size(); ++s) {
      const int64_t n = first[s + 1] - first[s];
      for (int64_t hh = 0; hh < heads; ++hh)
        attention_head(qp + first[s] * ld + hh * hd, kp + first[s] * ld + hh * hd, vp + first[s] * ld + hh * hd, ld, n, hd,
                       scale, nullptr, nullptr, ctx.data() + first[s] * h + hh * hd, h, scratch.data());
    }
    // The pooler reads only each sequence's first token, and after the last layer's attention
    // (which needs every token's key and value) no row depends on another: the rest of that
    // layer runs on the first tokens alone (a sixth of the tower for short texts). The same
    // bits, since the kernels treat rows independently. A trace keeps every token.
    if (li + 1 == w.layers.size() && !trace) {
      first_tokens_to_front(ctx);
      first_tokens_to_front(x);
      live = count;
    }
    // Post-LN: x = LayerNorm(x + dense(ctx)), the residual added in the GEMM's epilogue.
    linear(ctx.data(), live, h, lk.attention_output.view(), x.data(), h, Epilogue::AddResidual, nullptr, &linear_scratch);
    layer_norm(x.data(), live, h, l.attention_norm.weight, l.attention_norm.bias, eps, x.data());
    linear(x.data(), live, h, lk.intermediate.view(), mlp.data(), c.intermediate_size,
           fused_gelu ? Epilogue::Gelu : Epilogue::None, nullptr, &linear_scratch);
    if (!fused_gelu) apply_activation(c.hidden_act, mlp.data(), live * c.intermediate_size);
    linear(mlp.data(), live, c.intermediate_size, lk.output.view(), x.data(), h, Epilogue::AddResidual, nullptr,
           &linear_scratch);
    layer_norm(x.data(), live, h, l.output_norm.weight, l.output_norm.bias, eps, x.data());
    if (trace) (*trace)["hidden_state_" + std::to_string(li + 1)] = x;
  }
  // Pooler: the first token (<s>) of each sequence.
  if (live == rows) first_tokens_to_front(x);
  linear(x.data(), count, h, w.pooler, pooled, h);
  apply_activation(Activation::Tanh, pooled, count * h);
}

void roberta_forward(const TextConfig& c, const RobertaWeights& w, const RobertaKernels& kernels, const int64_t* ids,
                     int length, float* pooled, TextTrace* trace) {
  roberta_forward(c, w, kernels, {std::span<const int64_t>(ids, static_cast<size_t>(length))}, pooled, trace);
}

}  // namespace clap
