// A trainable CLAP projection head (linear1 -> ReLU -> linear2 -> L2 normalisation) in double
// precision: it owns its parameters, its forward pass keeps the activations the backward pass
// needs, and the backward pass returns the gradient of every parameter. Fine-tuning trains the
// heads and the logit scale on the towers' frozen pooled outputs (issue: fine-tuning); a
// batch of a few hundred pairs takes milliseconds, so double costs nothing and keeps the
// gradients exact enough to compare with PyTorch's float64 autograd.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"

namespace clap::train {

struct HeadParameters {
  int64_t in = 0, hidden = 0, out = 0;
  std::vector<double> w1, b1, w2, b2;  // [hidden, in], [hidden], [out, hidden], [out] (PyTorch's Linear layout)

  // Reads <prefix>.linear1.{weight,bias} and <prefix>.linear2.{weight,bias}. Throws clap::Error
  // naming a missing or mis-shaped tensor.
  static HeadParameters from_checkpoint(const Checkpoint& checkpoint, const std::string& prefix);
  static HeadParameters zeros_like(const HeadParameters& p);
  // The four tensors in PyTorch's names under `prefix`, as float32 (for a model file).
  std::vector<std::pair<std::string, std::vector<float>>> to_float_tensors(const std::string& prefix) const;
};

// What the forward pass keeps for the backward pass (n rows).
struct HeadActivations {
  int64_t n = 0;
  std::vector<double> input;      // [n, in]
  std::vector<double> hidden;     // [n, hidden], after ReLU
  std::vector<double> projected;  // [n, out], before normalisation
  std::vector<double> norm;       // [n], |projected|
  std::vector<double> embedded;   // [n, out], normalised
};

// x: n rows of `in` values (float32 pooled outputs). Fills `acts`; returns acts.embedded.
const std::vector<double>& head_forward(const HeadParameters& head, const float* x, int64_t n, HeadActivations& acts);

// Given d loss / d embedded ([n, out]), accumulates the parameter gradients into `grad`
// (same shapes as the head; zero it first).
void head_backward(const HeadParameters& head, const HeadActivations& acts, const std::vector<double>& d_embedded,
                   HeadParameters& grad);

}  // namespace clap::train
