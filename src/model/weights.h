// Plain weight structs and the loader that fills them: the matrices a tower packs point into the
// memory-mapped checkpoint until they are packed; every other tensor (norms, biases, embedding
// and position tables, the projections) is copied out of it, so that a loaded tower never reads
// the file again (a file rewritten in place under a running process: hostile pass 10, H10C-4). A struct field names the checkpoint tensor it comes from; every missing or
// mis-shaped tensor is collected and reported by name before any compute.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "tensor/linear.h"

namespace clap {

// Linear layers are tensor/linear.h's LinearWeights in the checkpoint's layout (Rows):
// <prefix>.weight [out, in], <prefix>.bias [out] (null when the layer has no bias).

struct NormWeights {  // LayerNorm <prefix>.weight / .bias [dim]
  const float* weight = nullptr;
  const float* bias = nullptr;
  int64_t dim = 0;
};

struct BatchNormWeights {  // eval-mode BatchNorm: weight, bias, running_mean, running_var [dim]
  const float* weight = nullptr;
  const float* bias = nullptr;
  const float* running_mean = nullptr;
  const float* running_var = nullptr;
  int64_t dim = 0;
};

struct ConvWeights {  // Conv2d <prefix>.weight [out, in, kh, kw], .bias [out]
  const float* weight = nullptr;
  const float* bias = nullptr;
  int64_t out = 0, in = 0, kh = 0, kw = 0;

  // The convolution as a linear layer over flattened in x kh x kw patches.
  LinearWeights as_linear() const { return {in * kh * kw, out, WeightLayout::Rows, WeightType::F32, weight, bias}; }
};

// How the model reads a tensor: only once, when it packs it (the weight matrices of the layers a
// tower packs: read in place from the mapping, whose pages are then released), or on every call
// (kept: copied out of the mapping when the source copies, see copy_kept).
enum class WeightUse { Kept, Packed };

// Hands out float32 tensors by checkpoint name. From a checkpoint, F32 data is read in place
// (memory-mapped) or copied (copy_kept); F16/BF16/F64 are converted once. In random mode, values
// are drawn deterministically from (seed, name) with sensible scales per kind of tensor.
class WeightSource {
 public:
  static std::unique_ptr<WeightSource> from_checkpoint(std::unique_ptr<Checkpoint> checkpoint);
  static std::unique_ptr<WeightSource> random(uint64_t seed);

  // Returns the tensor or null after recording an error (missing / wrong shape / not float).
  const float* get(const std::string& name, const std::vector<int64_t>& shape, WeightUse use = WeightUse::Kept);
  bool has(const std::string& name) const;

  LinearWeights linear(const std::string& prefix, int64_t in, int64_t out, bool bias = true,
                       WeightUse use = WeightUse::Kept);
  NormWeights norm(const std::string& prefix, int64_t dim);
  BatchNormWeights batch_norm(const std::string& prefix, int64_t dim);
  ConvWeights conv(const std::string& prefix, int64_t out, int64_t in, int64_t kh, int64_t kw,
                   WeightUse use = WeightUse::Kept);

  // From now on, kept tensors are copied out of the checkpoint (and their mapped pages dropped)
  // instead of handed out in place: for a tower that will run (false: the tensors are only
  // checked, and the struct made of them is thrown away).
  void copy_kept(bool copy) { copy_kept_ = copy; }
  // Closes the checkpoint: nothing handed out in place may be read after this. What was copied
  // stays. The counts below stay.
  void close_file() { file_.reset(); }
  bool file_open() const { return file_ != nullptr; }
  // The checkpoint's file written to since it was opened, or "" (Checkpoint::changed_file).
  std::string changed_file() const { return file_ ? file_->changed_file() : ""; }

  // Random mode: writes every generated tensor as a safetensors checkpoint (benchmarks time
  // the real loading path on it).
  void save_generated(const std::string& path) const;

  // The layer's weight matrix will not be read again (it was repacked): its memory-mapped
  // pages are dropped. No-op for generated or converted tensors.
  void release(const LinearWeights& layer) const;

  // Throws one clap::Error listing every problem recorded so far, and - once the whole model is
  // loaded - every tensor of the checkpoint that nothing read (a checkpoint of another
  // architecture, or a config.json that does not match the weights: issue 33), except the
  // buffers a checkpoint carries beside the weights (unused_tensor_allowed).
  // unused = false: only the problems of the tensors asked for (a tower loaded after the rest).
  void check(bool unused = true) const;
  // Buffers PyTorch saves that the model recomputes: position_ids, token_type_ids,
  // relative_position_index, num_batches_tracked, attention masks.
  static bool unused_tensor_allowed(const std::string& name);

  const std::string& path() const { return path_; }
  int64_t parameters_used() const { return parameters_; }
  size_t bytes_used() const { return bytes_; }      // float32 bytes of the weights handed out
  size_t bytes_copied() const { return copied_; }   // bytes converted from another float type

 private:
  std::string path_;
  std::unique_ptr<Checkpoint> file_;
  uint64_t seed_ = 0;
  bool random_ = false;
  bool copy_kept_ = false;
  std::deque<std::vector<float>> owned_;
  std::vector<std::tuple<std::string, std::vector<int64_t>, const float*>> generated_;
  std::vector<std::string> errors_;
  std::set<std::string> read_;  // the checkpoint's tensors handed out (or looked for)
  int64_t parameters_ = 0;
  size_t bytes_ = 0, copied_ = 0;
};

}  // namespace clap
