#include "model/weights.h"

#include <cmath>
#include <cstring>
#include <map>
#include <tuple>

#include "core/error.h"

namespace clap {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

uint64_t fnv1a(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Deterministic random tensor: N(0, 1/fan_in) for matrices, small noise around 1 for norm
// scales, positive running variances; mirrors how the golden generator drew its weights.
std::vector<float> random_tensor(const std::string& name, const std::vector<int64_t>& shape, uint64_t seed) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  // splitmix64 stream -> uniform(-1, 1); scaled by sqrt(3)·σ it has standard deviation σ.
  uint64_t state = fnv1a(name, seed);
  auto uniform = [&state] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return static_cast<float>(static_cast<double>(z >> 40) / double(1ull << 24) * 2.0 - 1.0);
  };
  const float sqrt3 = 1.7320508f;
  const bool is_norm = name.find("norm") != std::string::npos || name.find("LayerNorm") != std::string::npos ||
                       name.find("fusion_model") != std::string::npos;
  if (ends_with(name, "running_var")) {
    for (auto& x : v) x = 1.0f + 0.5f * uniform();
  } else if (ends_with(name, "running_mean")) {
    for (auto& x : v) x = 0.1f * sqrt3 * uniform();
  } else if (name.find("logit_scale") != std::string::npos) {
    for (auto& x : v) x = std::log(1.0f / 0.07f);
  } else if (shape.size() >= 2) {
    int64_t fan_in = 1;
    for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
    if (name.find("embeddings") != std::string::npos || name.find("relative_position_bias_table") != std::string::npos)
      fan_in = 100;
    const float scale = sqrt3 / std::sqrt(static_cast<float>(fan_in));
    for (auto& x : v) x = scale * uniform();
  } else if (ends_with(name, "weight") && is_norm) {
    for (auto& x : v) x = 1.0f + 0.1f * sqrt3 * uniform();
  } else {
    for (auto& x : v) x = 0.05f * sqrt3 * uniform();
  }
  return v;
}

}  // namespace

std::unique_ptr<WeightSource> WeightSource::from_checkpoint(std::unique_ptr<Checkpoint> checkpoint) {
  auto ws = std::make_unique<WeightSource>();
  ws->path_ = checkpoint->path();
  ws->file_ = std::move(checkpoint);
  return ws;
}

std::unique_ptr<WeightSource> WeightSource::random(uint64_t seed) {
  auto ws = std::make_unique<WeightSource>();
  ws->path_ = "<random weights, seed " + std::to_string(seed) + ">";
  ws->seed_ = seed;
  ws->random_ = true;
  return ws;
}

bool WeightSource::has(const std::string& name) const { return random_ || (file_ && file_->find(name)); }

const float* WeightSource::get(const std::string& name, const std::vector<int64_t>& shape, WeightUse use) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  // BatchNorm statistics are buffers, not parameters (as PyTorch counts them).
  const int64_t counted = ends_with(name, "running_mean") || ends_with(name, "running_var") ? 0 : n;
  if (random_) {
    owned_.push_back(random_tensor(name, shape, seed_));
    generated_.emplace_back(name, shape, owned_.back().data());
    parameters_ += counted;
    bytes_ += static_cast<size_t>(n) * 4;
    return owned_.back().data();
  }
  const TensorView* t = file_->find(name);
  // A tower loaded after the rest asks for its tensors a second time: counted once.
  const bool first = read_.insert(name).second;
  if (!t) {
    errors_.push_back("missing tensor '" + name + "' (expected shape " + shape_str(shape) + ")");
    return nullptr;
  }
  if (t->shape != shape) {
    errors_.push_back("tensor '" + name + "' has shape " + t->shape_string() + ", expected " + shape_str(shape));
    return nullptr;
  }
  if (!dtype_is_float(t->dtype)) {
    errors_.push_back("tensor '" + name + "' has dtype " + std::string(dtype_name(t->dtype)) + ", expected a float type");
    return nullptr;
  }
  if (first) {
    parameters_ += counted;
    bytes_ += static_cast<size_t>(n) * 4;
  }
  const bool in_place = t->dtype == DType::F32 && reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0;
  if (in_place && (use == WeightUse::Packed || !copy_kept_))
    return reinterpret_cast<const float*>(t->data);  // read in place from the mapping
  if (in_place) {
    const float* mapped = reinterpret_cast<const float*>(t->data);
    owned_.emplace_back(mapped, mapped + n);
    file_->release(t->data, t->nbytes);  // the copy is what is read from now on
    return owned_.back().data();
  }
  owned_.push_back(tensor_to_float(*t));
  if (first) copied_ += static_cast<size_t>(n) * 4;
  return owned_.back().data();
}

LinearWeights WeightSource::linear(const std::string& prefix, int64_t in, int64_t out, bool bias, WeightUse use) {
  LinearWeights w;  // checkpoint layout (Rows), float32
  w.in = in;
  w.out = out;
  w.weight = get(prefix + ".weight", {out, in}, use);
  if (bias) w.bias = get(prefix + ".bias", {out}, use);  // a packed layer's bias is packed with it
  return w;
}

NormWeights WeightSource::norm(const std::string& prefix, int64_t dim) {
  return {get(prefix + ".weight", {dim}), get(prefix + ".bias", {dim}), dim};
}

BatchNormWeights WeightSource::batch_norm(const std::string& prefix, int64_t dim) {
  BatchNormWeights w;
  w.dim = dim;
  w.weight = get(prefix + ".weight", {dim});
  w.bias = get(prefix + ".bias", {dim});
  w.running_mean = get(prefix + ".running_mean", {dim});
  w.running_var = get(prefix + ".running_var", {dim});
  return w;
}

ConvWeights WeightSource::conv(const std::string& prefix, int64_t out, int64_t in, int64_t kh, int64_t kw,
                               WeightUse use) {
  ConvWeights w;
  w.out = out;
  w.in = in;
  w.kh = kh;
  w.kw = kw;
  w.weight = get(prefix + ".weight", {out, in, kh, kw}, use);
  w.bias = get(prefix + ".bias", {out}, use);
  return w;
}

void WeightSource::save_generated(const std::string& path) const {
  std::map<std::string, TensorData> tensors;
  for (const auto& [name, shape, data] : generated_) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    tensors[name] = tensor_from_floats(std::vector<float>(data, data + n), shape);
  }
  write_safetensors(path, tensors, {{"format", "pt"}});
}

bool WeightSource::unused_tensor_allowed(const std::string& name) {
  for (const char* buffer : {"position_ids", "token_type_ids", "relative_position_index", "num_batches_tracked", "attn_mask"})
    if (ends_with(name, buffer)) return true;
  return false;
}

void WeightSource::check(bool unused) const {
  std::vector<std::string> problems = errors_;
  // A tensor nothing read: the checkpoint is not the model the configuration describes (a depth
  // of 0 would silently skip a stage's weights). Reported like a missing one.
  if (unused && file_ && !random_)
    for (const TensorView& t : file_->tensors())
      if (!read_.count(t.name) && !unused_tensor_allowed(t.name))
        problems.push_back("unused tensor '" + t.name + "' (shape " + t.shape_string() +
                           "): the configuration does not describe this checkpoint");
  if (problems.empty()) return;
  std::string msg = path_ + ": " + std::to_string(problems.size()) + " weight problem(s):";
  const size_t shown = std::min<size_t>(problems.size(), 20);
  for (size_t i = 0; i < shown; ++i) msg += "\n  " + problems[i];
  if (shown < problems.size()) msg += "\n  ... and " + std::to_string(problems.size() - shown) + " more";
  throw Error(msg);
}

void WeightSource::release(const LinearWeights& layer) const {
  if (file_ && layer.weight && layer.layout == WeightLayout::Rows)
    file_->release(layer.weight, static_cast<size_t>(layer.in * layer.out) * sizeof(float));
}

}  // namespace clap
