// Model and preprocessor settings read from a Hugging Face snapshot's config.json
// (ClapConfig, diff-to-defaults form) and preprocessor_config.json (ClapFeatureExtractor).
// Missing keys take the reference defaults (transformers 4.38).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "tensor/activation.h"

namespace clap {

Activation parse_activation(const std::string& name, const std::string& where);
const char* activation_name(Activation activation);  // the name parse_activation reads

struct AudioConfig {  // ClapAudioConfig (HTSAT)
  int window_size = 8;
  int num_mel_bins = 64;
  int spec_size = 256;
  Activation hidden_act = Activation::Gelu;
  int patch_size = 4;
  int patch_stride[2] = {4, 4};
  int hidden_size = 768;
  std::vector<int> depths = {2, 2, 6, 2};
  std::vector<int> num_attention_heads = {4, 8, 16, 32};
  bool enable_fusion = false;
  std::string fusion_type;  // "" (None) or the value from config.json
  int patch_embed_input_channels = 1;
  bool flatten_patch_embeds = true;
  int patch_embeds_hidden_size = 96;
  bool enable_patch_layer_norm = true;
  bool qkv_bias = true;
  double mlp_ratio = 4.0;
  int aff_block_r = 4;
  double layer_norm_eps = 1e-5;
};

struct TextConfig {  // ClapTextConfig (RoBERTa)
  int vocab_size = 50265;
  int hidden_size = 768;
  int num_hidden_layers = 12;
  int num_attention_heads = 12;
  int intermediate_size = 3072;
  Activation hidden_act = Activation::Gelu;
  int max_position_embeddings = 514;
  int type_vocab_size = 1;
  double layer_norm_eps = 1e-12;
  int pad_token_id = 1;
  int bos_token_id = 0;
  int eos_token_id = 2;
};

struct FeatureConfig {  // ClapFeatureExtractor
  int feature_size = 64;
  int sampling_rate = 48000;
  int hop_length = 480;
  int max_length_s = 10;
  int fft_window_size = 1024;
  double padding_value = 0.0;
  double frequency_min = 0;
  double frequency_max = 14000;
  std::optional<double> top_db;
  std::string truncation = "fusion";  // "fusion" | "rand_trunc"
  std::string padding = "repeatpad";  // "repeatpad" | "repeat" | anything else = zero pad
  long nb_max_samples = 480000;       // max_length_s * sampling_rate unless given
  int nb_frequency_bins = 513;        // fft_window_size / 2 + 1

  static FeatureConfig from_json_file(const std::string& path);  // throws clap::Error
  static FeatureConfig from_json_text(const std::string& text, const std::string& where);
  // preprocessor_config.json as transformers' ClapFeatureExtractor writes it (keys sorted).
  std::string to_json_text() const;
};

struct ClapConfig {
  AudioConfig audio;
  TextConfig text;
  FeatureConfig features;
  int projection_dim = 512;
  Activation projection_hidden_act = Activation::Relu;
  double logit_scale_init_value = 1.0 / 0.07;

  static ClapConfig from_json_file(const std::string& path);  // config.json; features left default
  static ClapConfig from_json_text(const std::string& text, const std::string& where);
  // config.json for transformers' ClapModel (every setting written out, keys sorted);
  // torch_dtype names the weights' float type ("float32", "float16", "bfloat16").
  std::string to_json_text(const std::string& torch_dtype = "float32") const;
};

}  // namespace clap
