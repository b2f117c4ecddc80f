#include "model/config.h"

#include <cmath>
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>

#include "core/error.h"
#include "core/json_integer.h"
#include "core/json_problem.h"
#include "core/text_file.h"

namespace clap {
namespace {

using nlohmann::json;

std::string read_text(const std::string& path) { return read_text_file(path, "model config"); }

json parse(const std::string& text, const std::string& where) {
  try {
    json j = json::parse(text);
    if (!j.is_object()) throw Error(where + ": expected a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw Error(where + ": invalid JSON (" + json_problem(text, e) + ")");
  }
}

// An integer field must hold a number in its type's range (core/json_integer.h); other types
// are left to get<T>, which reports them.
template <typename T>
void check_integer_range(const json& v, const std::string& what) {
  if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    if (v.is_number() && !json_number_fits<T>(v)) throw Error(what + " is out of range: " + v.dump());
  } else if constexpr (requires { typename T::value_type; } && !std::is_same_v<T, std::string>) {
    if (v.is_array())
      for (const json& e : v) check_integer_range<typename T::value_type>(e, what);
  }
}

// What a field of type T must hold, in words, and whether `v` holds it. nlohmann's own get<T>()
// converts true to 1 for a number and 8.5 to 8 for an integer, and its messages are library
// text ("[json.exception.type_error.302] type must be boolean, but is string"): the type is
// checked here first and refused in the user's terms.
template <typename T>
const char* expected_type() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_integral_v<T>) return "a whole number";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a text";
  else return "a list of whole numbers";  // std::vector<int>, the one list type read here
}
template <typename T>
bool holds_type(const json& v) {
  if constexpr (std::is_same_v<T, bool>) return v.is_boolean();
  else if constexpr (std::is_integral_v<T>) return v.is_number_integer() || (v.is_number_float() && std::trunc(v.get<double>()) == v.get<double>());
  else if constexpr (std::is_floating_point_v<T>) return v.is_number();
  else if constexpr (std::is_same_v<T, std::string>) return v.is_string();
  else return v.is_array() && std::all_of(v.begin(), v.end(), [](const json& e) { return holds_type<typename T::value_type>(e); });
}
// "a text (\"abc\")", "true", "a list": what the file holds, for the message.
std::string found_value(const json& v) {
  if (v.is_string()) return "a text (" + v.dump() + ")";
  // json_echo, not dump(): a list of 100,000 nested lists overflowed dump()'s recursion (H16S-1).
  if (v.is_array()) return "a list (" + json_echo(v, 40) + ")";
  if (v.is_object()) return "an object";
  return v.dump();  // a number or a boolean, as written
}
template <typename T>
void check_type(const json& v, const std::string& what) {
  if (!holds_type<T>(v)) throw Error(what + " has the wrong type: expected " + expected_type<T>() + ", found " + found_value(v));
}

// Reads j[key] into out when present and not null; names the key on type errors.
template <typename T>
void get(const json& j, const char* key, T& out, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  const std::string what = where + ": field '" + key + "'";
  check_type<T>(*it, what);
  check_integer_range<T>(*it, what);
  out = it->get<T>();
}

// Reads array element j[index] into out; names the field (`where`) on type errors.
template <typename T>
void get(const json& j, size_t index, T& out, const std::string& where) {
  if (index >= j.size()) throw Error(where + ": has no element " + std::to_string(index));
  check_type<T>(j[index], where);
  check_integer_range<T>(j[index], where);
  out = j[index].get<T>();
}

void get_act(const json& j, const char* key, Activation& out, const std::string& where) {
  std::string name;
  get(j, key, name, where);
  if (!name.empty()) out = parse_activation(name, where + " field '" + key + "'");
}

// A value that shapes the computation outside what any model can have: refused naming the file
// and the key (issue 33: depths of 0 loaded, skipped a stage's weights and gave another embedding).
[[noreturn]] void bad_value(const std::string& where, const std::string& key, const std::string& why) {
  throw Error(where + ": field '" + key + "' " + why);
}
void positive(const std::string& where, const char* key, int64_t v) {
  if (v <= 0) bad_value(where, key, "must be positive, not " + std::to_string(v));
}
void positive_finite(const std::string& where, const char* key, double v) {
  if (!(v > 0) || !std::isfinite(v)) bad_value(where, key, "must be a positive number, not " + json(v).dump());
}
std::string str(int64_t v) { return std::to_string(v); }

void validate(const AudioConfig& a, const std::string& w) {
  positive(w, "window_size", a.window_size);
  positive(w, "num_mel_bins", a.num_mel_bins);
  positive(w, "spec_size", a.spec_size);
  positive(w, "patch_size", a.patch_size);
  positive(w, "patch_stride", std::min(a.patch_stride[0], a.patch_stride[1]));
  positive(w, "hidden_size", a.hidden_size);
  positive(w, "aff_block_r", a.aff_block_r);
  positive_finite(w, "mlp_ratio", a.mlp_ratio);
  positive_finite(w, "layer_norm_eps", a.layer_norm_eps);
  if (a.num_mel_bins > 1024) bad_value(w, "num_mel_bins", "is out of range (at most 1024): " + str(a.num_mel_bins));
  if (a.spec_size % a.num_mel_bins != 0)
    bad_value(w, "spec_size", str(a.spec_size) + " is not a multiple of num_mel_bins " + str(a.num_mel_bins));
  if (a.patch_stride[0] != a.patch_size || a.patch_stride[1] != a.patch_size)
    bad_value(w, "patch_stride", "must equal patch_size " + str(a.patch_size) + " (overlapping patches are not supported)");
  if (a.spec_size % a.patch_size != 0)
    bad_value(w, "spec_size", str(a.spec_size) + " is not a multiple of patch_size " + str(a.patch_size));
  for (size_t i = 0; i < a.depths.size(); ++i)
    if (a.depths[i] < 1 || a.depths[i] > 1024)
      bad_value(w, "depths", "stage " + str(int64_t(i)) + " has " + str(a.depths[i]) + " blocks (at least 1, at most 1024)");
  // The patch grid halves at every stage; a window larger than a stage's grid is refused.
  int64_t grid = a.spec_size / a.patch_size;
  for (size_t i = 0; i < a.depths.size(); ++i, grid = (grid + 1) / 2)
    if (grid < a.window_size)
      bad_value(w, "window_size", str(a.window_size) + " is larger than stage " + str(int64_t(i)) + "'s patch grid of " +
                                      str(grid) + " (spec_size / patch_size, halved per stage)");
  if (a.enable_fusion && a.patch_embeds_hidden_size % a.aff_block_r != 0)
    bad_value(w, "aff_block_r", str(a.aff_block_r) + " does not divide patch_embeds_hidden_size " +
                                    str(a.patch_embeds_hidden_size));
  if (static_cast<double>(a.patch_embeds_hidden_size) * a.mlp_ratio < 1 ||
      static_cast<double>(a.patch_embeds_hidden_size) * a.mlp_ratio * std::pow(2.0, double(a.depths.size())) > 1e9)
    bad_value(w, "mlp_ratio", json(a.mlp_ratio).dump() + " gives an MLP width out of range");
}

void validate(const TextConfig& t, const std::string& w) {
  positive(w, "vocab_size", t.vocab_size);
  positive(w, "num_hidden_layers", t.num_hidden_layers);
  positive(w, "intermediate_size", t.intermediate_size);
  positive(w, "max_position_embeddings", t.max_position_embeddings);
  positive(w, "type_vocab_size", t.type_vocab_size);
  positive_finite(w, "layer_norm_eps", t.layer_norm_eps);
  for (const auto& [key, id] : {std::pair<const char*, int>{"pad_token_id", t.pad_token_id}, {"bos_token_id", t.bos_token_id},
                                {"eos_token_id", t.eos_token_id}})
    if (id < 0 || id >= t.vocab_size) bad_value(w, key, str(id) + " is not a token of the vocabulary (vocab_size " + str(t.vocab_size) + ")");
  // RoBERTa numbers positions from pad_token_id + 1: at least one token must fit.
  if (t.max_position_embeddings < int64_t{t.pad_token_id} + 2)
    bad_value(w, "max_position_embeddings", str(t.max_position_embeddings) + " leaves no position after pad_token_id " +
                                                str(t.pad_token_id) + " (positions start at pad_token_id + 1)");
}

}  // namespace

Activation parse_activation(const std::string& name, const std::string& where) {
  if (name == "relu") return Activation::Relu;
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::GeluTanh;
  if (name == "silu" || name == "swish") return Activation::Silu;
  if (name == "tanh") return Activation::Tanh;
  throw Error(where + ": unsupported activation '" + name + "'");
}

const char* activation_name(Activation activation) {
  switch (activation) {
    case Activation::Relu: return "relu";
    case Activation::Gelu: return "gelu";
    case Activation::GeluTanh: return "gelu_new";
    case Activation::Silu: return "silu";
    case Activation::Tanh: return "tanh";
  }
  return "gelu";
}

namespace {
// A whole number as an integer (14000, as Python writes an int), else a float.
json json_number(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)) && std::abs(v) < 1e15) return static_cast<int64_t>(v);
  return v;
}
}  // namespace

std::string FeatureConfig::to_json_text() const {
  json j = {{"feature_extractor_type", "ClapFeatureExtractor"},
            {"feature_size", feature_size},
            {"fft_window_size", fft_window_size},
            {"frequency_max", json_number(frequency_max)},
            {"frequency_min", json_number(frequency_min)},
            {"hop_length", hop_length},
            {"max_length_s", max_length_s},
            {"nb_frequency_bins", nb_frequency_bins},
            {"nb_max_samples", nb_max_samples},
            {"padding", padding},
            {"padding_side", "right"},
            {"padding_value", padding_value},
            {"processor_class", "ClapProcessor"},
            {"return_attention_mask", false},
            {"sampling_rate", sampling_rate},
            {"top_db", top_db ? json(*top_db) : json(nullptr)},
            {"truncation", truncation}};
  return j.dump(2) + "\n";
}

std::string ClapConfig::to_json_text(const std::string& torch_dtype) const {
  const AudioConfig& a = audio;
  json audio_json = {{"model_type", "clap_audio_model"},
                     {"window_size", a.window_size},
                     {"num_mel_bins", a.num_mel_bins},
                     {"spec_size", a.spec_size},
                     {"hidden_act", activation_name(a.hidden_act)},
                     {"patch_size", a.patch_size},
                     {"patch_stride", {a.patch_stride[0], a.patch_stride[1]}},
                     {"hidden_size", a.hidden_size},
                     {"depths", a.depths},
                     {"num_attention_heads", a.num_attention_heads},
                     {"enable_fusion", a.enable_fusion},
                     {"fusion_type", a.fusion_type.empty() ? json(nullptr) : json(a.fusion_type)},
                     {"patch_embed_input_channels", a.patch_embed_input_channels},
                     {"flatten_patch_embeds", a.flatten_patch_embeds},
                     {"patch_embeds_hidden_size", a.patch_embeds_hidden_size},
                     {"enable_patch_layer_norm", a.enable_patch_layer_norm},
                     {"qkv_bias", a.qkv_bias},
                     {"mlp_ratio", a.mlp_ratio},
                     {"aff_block_r", a.aff_block_r},
                     {"layer_norm_eps", a.layer_norm_eps},
                     {"projection_dim", projection_dim},
                     {"projection_hidden_act", activation_name(projection_hidden_act)}};
  const TextConfig& t = text;
  json text_json = {{"model_type", "clap_text_model"},
                    {"vocab_size", t.vocab_size},
                    {"hidden_size", t.hidden_size},
                    {"num_hidden_layers", t.num_hidden_layers},
                    {"num_attention_heads", t.num_attention_heads},
                    {"intermediate_size", t.intermediate_size},
                    {"hidden_act", activation_name(t.hidden_act)},
                    {"max_position_embeddings", t.max_position_embeddings},
                    {"type_vocab_size", t.type_vocab_size},
                    {"layer_norm_eps", t.layer_norm_eps},
                    {"pad_token_id", t.pad_token_id},
                    {"bos_token_id", t.bos_token_id},
                    {"eos_token_id", t.eos_token_id},
                    {"position_embedding_type", "absolute"},
                    {"projection_dim", projection_dim},
                    {"projection_hidden_act", activation_name(projection_hidden_act)}};
  json j = {{"architectures", {"ClapModel"}},
            {"model_type", "clap"},
            {"audio_config", audio_json},
            {"text_config", text_json},
            {"projection_dim", projection_dim},
            {"projection_hidden_act", activation_name(projection_hidden_act)},
            {"hidden_size", t.hidden_size},
            {"logit_scale_init_value", logit_scale_init_value},
            {"torch_dtype", torch_dtype}};
  return j.dump(2) + "\n";
}

FeatureConfig FeatureConfig::from_json_file(const std::string& path) { return from_json_text(read_text(path), path); }

FeatureConfig FeatureConfig::from_json_text(const std::string& text, const std::string& where) {
  json j = parse(text, where);
  FeatureConfig c;
  get(j, "feature_size", c.feature_size, where);
  get(j, "sampling_rate", c.sampling_rate, where);
  get(j, "hop_length", c.hop_length, where);
  get(j, "max_length_s", c.max_length_s, where);
  get(j, "fft_window_size", c.fft_window_size, where);
  get(j, "padding_value", c.padding_value, where);
  get(j, "frequency_min", c.frequency_min, where);
  get(j, "frequency_max", c.frequency_max, where);
  if (j.contains("top_db") && !j["top_db"].is_null()) {
    double top_db = 0;
    get(j, "top_db", top_db, where);  // a wrong type is a clap::Error naming the field (found by fuzz_config)
    c.top_db = top_db;
  }
  get(j, "truncation", c.truncation, where);
  get(j, "padding", c.padding, where);
  c.nb_max_samples = static_cast<long>(c.max_length_s) * c.sampling_rate;
  c.nb_frequency_bins = c.fft_window_size / 2 + 1;
  get(j, "nb_max_samples", c.nb_max_samples, where);
  get(j, "nb_frequency_bins", c.nb_frequency_bins, where);
  if (c.truncation != "fusion" && c.truncation != "rand_trunc")
    throw Error(where + ": unsupported truncation '" + c.truncation + "' (expected fusion or rand_trunc)");
  // The reference's three ways to fill a short clip (any other word silently meant zeros there,
  // and so here: a typo changed every embedding).
  if (c.padding != "repeatpad" && c.padding != "repeat" && c.padding != "pad")
    throw Error(where + ": unsupported padding '" + c.padding + "' (expected repeatpad, repeat or pad)");
  if (c.sampling_rate <= 0 || c.hop_length <= 0 || c.fft_window_size <= 0 || c.nb_max_samples <= 0 || c.feature_size <= 0)
    throw Error(where + ": sampling_rate, hop_length, fft_window_size, nb_max_samples and feature_size must be positive");
  if (c.nb_frequency_bins != c.fft_window_size / 2 + 1)
    throw Error(where + ": nb_frequency_bins must be fft_window_size/2+1");
  // The feature extractor holds an (fft_window_size/2+1) x feature_size mel bank of doubles: a
  // damaged value must be refused, not allocated (fuzz_config: fft_window_size 2^30 asked for
  // 8 GB). Published CLAP models use 1024 and 64; the limits leave wide room (at most 128 MB).
  if (c.fft_window_size > 32768 || c.feature_size > 1024)
    throw Error(where + ": fft_window_size (at most 32768) or feature_size (at most 1024) out of range");
  if (c.fft_window_size < 2 || (c.fft_window_size & (c.fft_window_size - 1)) != 0)
    bad_value(where, "fft_window_size", str(c.fft_window_size) + " is not a power of two (radix-2 FFT sizes only)");
  if (c.hop_length > c.fft_window_size)
    bad_value(where, "hop_length", str(c.hop_length) + " is larger than fft_window_size " + str(c.fft_window_size) +
                                       " (samples between frames would be skipped)");
  if (c.sampling_rate > 768000) bad_value(where, "sampling_rate", str(c.sampling_rate) + " is out of range (at most 768000)");
  // Refused even when nb_max_samples is given (which then sets the clip length): a negative
  // length is a damaged file, whatever field wins.
  positive(where, "max_length_s", c.max_length_s);
  if (c.nb_max_samples < c.fft_window_size)
    bad_value(where, "nb_max_samples", std::to_string(c.nb_max_samples) + " is shorter than one FFT window (" +
                                           str(c.fft_window_size) + " samples)");
  if (c.feature_size > c.nb_frequency_bins)
    bad_value(where, "feature_size", str(c.feature_size) + " mel bins from " + str(c.nb_frequency_bins) +
                                         " frequency bins would leave mel filters empty");
  if (!(c.frequency_min >= 0) || !std::isfinite(c.frequency_min))
    bad_value(where, "frequency_min", "must be 0 or more, not " + json(c.frequency_min).dump());
  if (!(c.frequency_max > c.frequency_min) || !std::isfinite(c.frequency_max))
    bad_value(where, "frequency_max", json(c.frequency_max).dump() + " must be above frequency_min " + json(c.frequency_min).dump());
  if (c.frequency_max > c.sampling_rate / 2.0)
    bad_value(where, "frequency_max", json(c.frequency_max).dump() + " is above the Nyquist frequency (sampling_rate / 2 = " +
                                          json(c.sampling_rate / 2.0).dump() + ")");
  if (c.top_db && (!(*c.top_db > 0) || !std::isfinite(*c.top_db)))
    bad_value(where, "top_db", "must be a positive number or null, not " + json(*c.top_db).dump());
  if (!std::isfinite(c.padding_value)) bad_value(where, "padding_value", "must be a finite number");
  return c;
}

ClapConfig ClapConfig::from_json_file(const std::string& path) { return from_json_text(read_text(path), path); }

ClapConfig ClapConfig::from_json_text(const std::string& text, const std::string& where) {
  json j = parse(text, where);
  ClapConfig c;
  get(j, "projection_dim", c.projection_dim, where);
  get_act(j, "projection_hidden_act", c.projection_hidden_act, where);
  get(j, "logit_scale_init_value", c.logit_scale_init_value, where);

  if (j.contains("audio_config") && j["audio_config"].is_object()) {
    const json& a = j["audio_config"];
    std::string w = where + " audio_config";
    AudioConfig& ac = c.audio;
    get(a, "window_size", ac.window_size, w);
    get(a, "num_mel_bins", ac.num_mel_bins, w);
    get(a, "spec_size", ac.spec_size, w);
    get_act(a, "hidden_act", ac.hidden_act, w);
    get(a, "patch_size", ac.patch_size, w);
    if (a.contains("patch_stride") && !a["patch_stride"].is_null()) {
      // [h, w] or one number for both; a wrong type is a clap::Error naming the field (fuzz_config
      // found nlohmann's own exception escaping here).
      const json& stride = a["patch_stride"];
      if (stride.is_array() && stride.size() == 2) {
        get(stride, size_t{0}, ac.patch_stride[0], w + " field 'patch_stride'");
        get(stride, size_t{1}, ac.patch_stride[1], w + " field 'patch_stride'");
      } else {
        get(a, "patch_stride", ac.patch_stride[0], w);
        ac.patch_stride[1] = ac.patch_stride[0];
      }
    }
    get(a, "hidden_size", ac.hidden_size, w);
    get(a, "depths", ac.depths, w);
    get(a, "num_attention_heads", ac.num_attention_heads, w);
    get(a, "enable_fusion", ac.enable_fusion, w);
    get(a, "fusion_type", ac.fusion_type, w);
    get(a, "patch_embed_input_channels", ac.patch_embed_input_channels, w);
    get(a, "flatten_patch_embeds", ac.flatten_patch_embeds, w);
    get(a, "patch_embeds_hidden_size", ac.patch_embeds_hidden_size, w);
    get(a, "enable_patch_layer_norm", ac.enable_patch_layer_norm, w);
    get(a, "qkv_bias", ac.qkv_bias, w);
    get(a, "mlp_ratio", ac.mlp_ratio, w);
    get(a, "aff_block_r", ac.aff_block_r, w);
    get(a, "layer_norm_eps", ac.layer_norm_eps, w);
    if (ac.depths.size() != ac.num_attention_heads.size() || ac.depths.empty())
      throw Error(w + ": depths and num_attention_heads must be non-empty and of equal length");
    if (ac.fusion_type == "channel_map")
      throw Error(w + ": fusion_type 'channel_map' is not supported (no published CLAP checkpoint uses it)");
    // The names Hugging Face's ClapAudioConfig documents (its model, like this one, runs the 2-D
    // AFF block whichever is named); another word is a typo, refused rather than ignored.
    static const char* const kFusionTypes[] = {"", "daf_1d", "aff_1d", "daf_2d", "aff_2d", "iaff_2d"};
    if (std::find(std::begin(kFusionTypes), std::end(kFusionTypes), ac.fusion_type) == std::end(kFusionTypes))
      throw Error(w + ": unsupported fusion_type '" + ac.fusion_type + "' (expected aff_2d, another of Hugging Face's names, or null)");
    if (!ac.flatten_patch_embeds) throw Error(w + ": flatten_patch_embeds=false is not supported");
    if (ac.patch_embed_input_channels != 1) throw Error(w + ": patch_embed_input_channels must be 1");
  }
  if (j.contains("text_config") && j["text_config"].is_object()) {
    const json& t = j["text_config"];
    std::string w = where + " text_config";
    TextConfig& tc = c.text;
    get(t, "vocab_size", tc.vocab_size, w);
    get(t, "hidden_size", tc.hidden_size, w);
    get(t, "num_hidden_layers", tc.num_hidden_layers, w);
    get(t, "num_attention_heads", tc.num_attention_heads, w);
    get(t, "intermediate_size", tc.intermediate_size, w);
    get_act(t, "hidden_act", tc.hidden_act, w);
    get(t, "max_position_embeddings", tc.max_position_embeddings, w);
    get(t, "type_vocab_size", tc.type_vocab_size, w);
    get(t, "layer_norm_eps", tc.layer_norm_eps, w);
    get(t, "pad_token_id", tc.pad_token_id, w);
    get(t, "bos_token_id", tc.bos_token_id, w);
    get(t, "eos_token_id", tc.eos_token_id, w);
    std::string pos = "absolute";
    get(t, "position_embedding_type", pos, w);
    if (pos != "absolute") throw Error(w + ": position_embedding_type '" + pos + "' is not supported");
    // Checked before the division below (fuzz_config: 0 heads divided by zero).
    if (tc.hidden_size <= 0 || tc.num_attention_heads <= 0)
      throw Error(w + ": hidden_size and num_attention_heads must be positive");
    if (tc.hidden_size % tc.num_attention_heads != 0)
      throw Error(w + ": hidden_size must be a multiple of num_attention_heads");
  }
  // Stage i is patch_embeds_hidden_size << i wide. Checked before the shift and the division
  // (fuzz_config: 0 heads divided by zero; many stages or a negative width overflow the shift).
  if (c.audio.patch_embeds_hidden_size <= 0 || c.audio.depths.size() > 16)
    throw Error(where + " audio_config: patch_embeds_hidden_size must be positive and there can be at most 16 stages");
  for (size_t i = 0; i < c.audio.depths.size(); ++i) {
    const int64_t dim = int64_t{c.audio.patch_embeds_hidden_size} << i;  // < 2^31 · 2^15: no overflow
    if (c.audio.num_attention_heads[i] <= 0)
      throw Error(where + " audio_config: stage " + std::to_string(i) + " head count must be positive");
    if (dim % c.audio.num_attention_heads[i] != 0)
      throw Error(where + " audio_config: stage " + std::to_string(i) + " width " + std::to_string(dim) +
                  " is not a multiple of its head count");
  }
  validate(c.audio, where + " audio_config");
  // The last stage's width is what the audio projection reads.
  if (const int64_t last = int64_t{c.audio.patch_embeds_hidden_size} << (c.audio.depths.size() - 1); last != c.audio.hidden_size)
    bad_value(where + " audio_config", "hidden_size",
              str(c.audio.hidden_size) + " is not the last stage's width " + str(last) +
                  " (patch_embeds_hidden_size x 2^(stages - 1))");
  validate(c.text, where + " text_config");
  positive(where, "projection_dim", c.projection_dim);
  if (!std::isfinite(c.logit_scale_init_value)) bad_value(where, "logit_scale_init_value", "must be a finite number");
  return c;
}

}  // namespace clap
