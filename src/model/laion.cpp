#include "model/laion.h"

#include <cmath>
#include <map>

#include "core/error.h"

namespace clap::laion {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}
bool contains(const std::string& s, const std::string& x) { return s.find(x) != std::string::npos; }

void replace_once(std::string& s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
}

bool laion_only(const std::string& name) {
  for (const char* prefix : {"audio_branch.spectrogram_extractor.", "audio_branch.logmel_extractor.",
                             "audio_branch.tscam_conv.", "audio_branch.head.", "text_transform.", "audio_transform."})
    if (starts_with(name, prefix)) return true;
  return ends_with(name, ".attn_mask");
}

std::string hugging_face_name(std::string n) {
  if (starts_with(n, "text_branch.")) return "text_model." + n.substr(12);
  if (starts_with(n, "audio_branch.")) {
    n = "audio_model.audio_encoder." + n.substr(13);
    replace_once(n, ".bn0.", ".batch_norm.");
    replace_once(n, ".norm1.", ".layernorm_before.");
    replace_once(n, ".norm2.", ".layernorm_after.");
    replace_once(n, ".attn.proj.", ".attention.output.dense.");
    replace_once(n, ".attn.relative_position_", ".attention.self.relative_position_");
    replace_once(n, ".mlp.fc1.", ".intermediate.dense.");
    replace_once(n, ".mlp.fc2.", ".output.dense.");
    return n;
  }
  for (const char* head : {"audio_projection.", "text_projection."}) {
    if (!starts_with(n, head)) continue;
    const std::string rest = n.substr(std::string(head).size());
    if (starts_with(rest, "0.")) return head + std::string("linear1.") + rest.substr(2);
    if (starts_with(rest, "2.")) return head + std::string("linear2.") + rest.substr(2);
  }
  return n;
}

int64_t count_indexed(const Checkpoint& c, const std::string& prefix, const std::string& suffix) {
  int64_t n = 0;
  while (c.find(prefix + std::to_string(n) + suffix)) ++n;
  return n;
}

const TensorView& need(const Checkpoint& c, const std::string& name, size_t rank) {
  const TensorView* t = c.find(name);
  if (!t) throw Error(c.path() + ": cannot infer the architecture: tensor '" + name + "' is missing");
  if (t->shape.size() != rank)
    throw Error(c.path() + ": cannot infer the architecture: tensor '" + name + "' has shape " + t->shape_string() +
                ", expected " + std::to_string(rank) + " dimensions");
  return *t;
}

int to_int(int64_t v, const Checkpoint& c, const std::string& what) {
  if (v <= 0 || v > (int64_t(1) << 30)) throw Error(c.path() + ": cannot infer the architecture: " + what + " is " + std::to_string(v));
  return static_cast<int>(v);
}

}  // namespace

bool has_laion_names(const Checkpoint& checkpoint) {
  for (const TensorView& t : checkpoint.tensors())
    if (starts_with(t.name, "audio_branch.") || starts_with(t.name, "text_branch.")) return true;
  return false;
}

Renaming rename_to_hugging_face(Checkpoint& checkpoint) {
  Renaming r;
  std::vector<TensorView> out;
  for (const TensorView& t : checkpoint.tensors()) {
    if (laion_only(t.name)) {
      r.dropped.push_back(t.name);
      continue;
    }
    std::string name = hugging_face_name(t.name);
    if (starts_with(name, "audio_model.") && contains(name, ".attn.qkv.")) {
      // query, key and value stacked along dim 0: three row blocks, each contiguous.
      if (t.shape.empty() || t.shape[0] % 3 != 0)
        throw Error(checkpoint.path() + ": tensor '" + t.name + "' has shape " + t.shape_string() + ", not 3 stacked blocks");
      const size_t part = t.nbytes / 3;
      const char* parts[] = {"query", "key", "value"};
      for (int i = 0; i < 3; ++i) {
        TensorView v = t;
        v.name = name;
        replace_once(v.name, ".attn.qkv.", std::string(".attention.self.") + parts[i] + ".");
        v.shape[0] = t.shape[0] / 3;
        v.data = t.data + part * i;
        v.nbytes = part;
        out.push_back(std::move(v));
      }
      r.renamed += 3;
      continue;
    }
    TensorView v = t;
    v.name = name;
    if ((name == "logit_scale_a" || name == "logit_scale_t") && v.shape.empty()) v.shape = {1};
    out.push_back(std::move(v));
    ++r.renamed;
  }
  checkpoint.set_tensors(std::move(out));
  return r;
}

std::unique_ptr<Checkpoint> open_in_hugging_face_names(const std::string& path, Renaming* renaming) {
  auto checkpoint = Checkpoint::open(path);
  if (has_laion_names(*checkpoint)) {
    Renaming r = rename_to_hugging_face(*checkpoint);
    if (renaming) *renaming = std::move(r);
  }
  return checkpoint;
}

ClapConfig infer_config(const Checkpoint& c) {
  ClapConfig config;
  const std::string audio = "audio_model.audio_encoder.";
  AudioConfig& a = config.audio;
  const TensorView& proj = need(c, audio + "patch_embed.proj.weight", 4);
  a.patch_embeds_hidden_size = to_int(proj.shape[0], c, "the patch embedding width");
  a.patch_size = to_int(proj.shape[2], c, "the patch size");
  a.patch_stride[0] = a.patch_stride[1] = a.patch_size;
  a.num_mel_bins = to_int(need(c, audio + "batch_norm.weight", 1).shape[0], c, "the mel bin count");
  a.enable_fusion = c.find(audio + "patch_embed.mel_conv2d.weight") != nullptr;
  const int64_t stages = count_indexed(c, audio + "layers.", ".blocks.0.layernorm_before.weight");
  if (stages < 1 || stages > 16) throw Error(c.path() + ": cannot infer the architecture: " + std::to_string(stages) + " HTSAT stages");
  a.depths.clear();
  a.num_attention_heads.clear();
  for (int64_t i = 0; i < stages; ++i) {
    const std::string stage = audio + "layers." + std::to_string(i) + ".blocks.";
    a.depths.push_back(to_int(count_indexed(c, stage, ".layernorm_before.weight"), c, "a stage's depth"));
    const TensorView& table = need(c, stage + "0.attention.self.relative_position_bias_table", 2);
    a.num_attention_heads.push_back(to_int(table.shape[1], c, "a stage's head count"));
    // (2w - 1)^2 relative positions
    const int64_t span = std::llround(std::sqrt(static_cast<double>(table.shape[0])));
    if (span * span != table.shape[0] || span % 2 == 0)
      throw Error(c.path() + ": cannot infer the window size from relative_position_bias_table " + table.shape_string());
    a.window_size = to_int((span + 1) / 2, c, "the window size");
    if (i == 0) {
      const TensorView& fc1 = need(c, stage + "0.intermediate.dense.weight", 2);
      a.mlp_ratio = static_cast<double>(fc1.shape[0]) / static_cast<double>(a.patch_embeds_hidden_size);
      a.qkv_bias = c.find(stage + "0.attention.self.query.bias") != nullptr;
    }
  }
  a.hidden_size = to_int(need(c, audio + "norm.weight", 1).shape[0], c, "the audio width");
  if (a.enable_fusion) {
    const TensorView& local = need(c, audio + "patch_embed.fusion_model.local_att.0.weight", 4);
    a.aff_block_r = to_int(a.patch_embeds_hidden_size / std::max<int64_t>(local.shape[0], 1), c, "the AFF reduction");
  }

  TextConfig& t = config.text;
  const TensorView& words = need(c, "text_model.embeddings.word_embeddings.weight", 2);
  t.vocab_size = to_int(words.shape[0], c, "the vocabulary size");
  t.hidden_size = to_int(words.shape[1], c, "the text width");
  t.max_position_embeddings = to_int(need(c, "text_model.embeddings.position_embeddings.weight", 2).shape[0], c, "the position count");
  t.type_vocab_size = to_int(need(c, "text_model.embeddings.token_type_embeddings.weight", 2).shape[0], c, "the token type count");
  t.num_hidden_layers = to_int(count_indexed(c, "text_model.encoder.layer.", ".attention.self.query.weight"), c, "the text layer count");
  t.intermediate_size = to_int(need(c, "text_model.encoder.layer.0.intermediate.dense.weight", 2).shape[0], c, "the text MLP width");
  t.num_attention_heads = std::max(1, t.hidden_size / 64);  // RoBERTa's 64-wide heads; see the header
  if (t.hidden_size % t.num_attention_heads != 0) t.num_attention_heads = 1;

  config.projection_dim = to_int(need(c, "audio_projection.linear2.weight", 2).shape[0], c, "the projection width");
  config.projection_hidden_act = Activation::Relu;
  config.features.frequency_min = 50;
  config.features.frequency_max = 14000;
  config.features.truncation = a.enable_fusion ? "fusion" : "rand_trunc";
  return config;
}

}  // namespace clap::laion
