// AdamW with PyTorch's semantics (torch.optim.AdamW): decoupled weight decay applied to the
// parameter before the Adam step, bias-corrected first and second moments, eps added to the
// corrected root of the second moment.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace clap::train {

struct AdamWSettings {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
};

class AdamW {
 public:
  explicit AdamW(AdamWSettings settings) : s_(settings) {}
  // Registers a parameter tensor (its moments start at zero); returns its slot.
  size_t add(size_t size);
  // One step for every registered tensor: params[i] -= ... using grads[i]. Call once per batch
  // with the tensors in registration order.
  void step(const std::vector<std::vector<double>*>& params, const std::vector<const std::vector<double>*>& grads);
  int64_t steps() const { return t_; }

 private:
  AdamWSettings s_;
  int64_t t_ = 0;
  std::vector<std::vector<double>> m_, v_;
};

}  // namespace clap::train
