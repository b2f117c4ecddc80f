#include "model/roberta.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "tensor/ops.h"

namespace clap {

RobertaWeights load_roberta(const TextConfig& c, WeightSource& src, const std::string& prefix) {
  RobertaWeights w;
  const int64_t h = c.hidden_size;
  w.word_embeddings = src.get(prefix + ".embeddings.word_embeddings.weight", {c.vocab_size, h});
  w.position_embeddings = src.get(prefix + ".embeddings.position_embeddings.weight", {c.max_position_embeddings, h});
  w.token_type_embeddings = src.get(prefix + ".embeddings.token_type_embeddings.weight", {c.type_vocab_size, h});
  w.embeddings_norm = src.norm(prefix + ".embeddings.LayerNorm", h);
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = prefix + ".encoder.layer." + std::to_string(i);
    RobertaLayerWeights l;
    l.query = src.linear(p + ".attention.self.query", h, h);
    l.key = src.linear(p + ".attention.self.key", h, h);
    l.value = src.linear(p + ".attention.self.value", h, h);
    l.attention_output = src.linear(p + ".attention.output.dense", h, h);
    l.attention_norm = src.norm(p + ".attention.output.LayerNorm", h);
    l.intermediate = src.linear(p + ".intermediate.dense", h, c.intermediate_size);
    l.output = src.linear(p + ".output.dense", c.intermediate_size, h);
    l.output_norm = src.norm(p + ".output.LayerNorm", h);
    w.layers.push_back(l);
  }
  w.pooler = src.linear(prefix + ".pooler.dense", h, h);
  return w;
}

void roberta_forward(const TextConfig& c, const RobertaWeights& w, const int64_t* ids, int length, float* pooled,
                     TextTrace* trace) {
  const int64_t h = c.hidden_size, heads = c.num_attention_heads, hd = h / heads, n = length;
  const float eps = static_cast<float>(c.layer_norm_eps);
  // Positions count non-pad tokens from padding_idx + 1 (RoBERTa's create_position_ids_from_input_ids).
  if (n + c.pad_token_id >= c.max_position_embeddings)
    throw Error("text of " + std::to_string(n) + " tokens exceeds the model's position limit");
  std::vector<float> x(static_cast<size_t>(n * h));
  int64_t position = c.pad_token_id;
  for (int64_t t = 0; t < n; ++t) {
    if (ids[t] < 0 || ids[t] >= c.vocab_size) throw Error("token id " + std::to_string(ids[t]) + " outside the vocabulary");
    const bool pad = ids[t] == c.pad_token_id;
    const int64_t pos = pad ? c.pad_token_id : ++position;
    const float* we = w.word_embeddings + ids[t] * h;
    const float* pe = w.position_embeddings + pos * h;
    const float* te = w.token_type_embeddings;
    for (int64_t i = 0; i < h; ++i) x[t * h + i] = we[i] + te[i] + pe[i];
  }
  layer_norm(x.data(), n, h, w.embeddings_norm.weight, w.embeddings_norm.bias, eps, x.data());
  if (trace) (*trace)["hidden_state_0"] = x;

  std::vector<float> q(x.size()), k(x.size()), v(x.size()), ctx(x.size()), tmp(x.size()), scratch(static_cast<size_t>(attention_scratch_floats(n, hd)));
  std::vector<float> mlp(static_cast<size_t>(n * c.intermediate_size));
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (size_t li = 0; li < w.layers.size(); ++li) {
    const RobertaLayerWeights& l = w.layers[li];
    linear(x.data(), n, h, l.query.weight, l.query.bias, h, q.data());
    linear(x.data(), n, h, l.key.weight, l.key.bias, h, k.data());
    linear(x.data(), n, h, l.value.weight, l.value.bias, h, v.data());
    for (int64_t hh = 0; hh < heads; ++hh)
      attention_head(q.data() + hh * hd, k.data() + hh * hd, v.data() + hh * hd, h, n, hd, scale, nullptr, nullptr,
                     ctx.data() + hh * hd, h, scratch.data());
    linear(ctx.data(), n, h, l.attention_output.weight, l.attention_output.bias, h, tmp.data());
    add_inplace(tmp.data(), x.data(), n * h);
    layer_norm(tmp.data(), n, h, l.attention_norm.weight, l.attention_norm.bias, eps, x.data());
    linear(x.data(), n, h, l.intermediate.weight, l.intermediate.bias, c.intermediate_size, mlp.data());
    apply_activation(c.hidden_act, mlp.data(), n * c.intermediate_size);
    linear(mlp.data(), n, c.intermediate_size, l.output.weight, l.output.bias, h, tmp.data());
    add_inplace(tmp.data(), x.data(), n * h);
    layer_norm(tmp.data(), n, h, l.output_norm.weight, l.output_norm.bias, eps, x.data());
    if (trace) (*trace)["hidden_state_" + std::to_string(li + 1)] = x;
  }
  linear(x.data(), 1, h, w.pooler.weight, w.pooler.bias, h, pooled);
  apply_activation(Activation::Tanh, pooled, h);
}

}  // namespace clap
