// Reading a `torch.save` file (PyTorch >= 1.6: a zip archive of <name>/data.pkl, the pickled
// object, and <name>/data/<key>, one raw little-endian storage per key) without PyTorch and
// without running anything it contains (checkpoint/pickle.h). The tensors of its state dict are
// views of the mapped archive: contiguous ones are used in place, others are copied out once
// (at most the archive's size in all).
#pragma once
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "checkpoint/tensor_view.h"

namespace clap {

struct TorchStateDict {
  std::vector<TensorView> tensors;          // names as stored, minus a "module." prefix
  std::deque<std::vector<uint8_t>> copies;  // bytes of the non-contiguous tensors
  std::string layout;                       // "training checkpoint (epoch 15)" | "state dict"
  bool had_module_prefix = false;
  int64_t ignored_entries = 0;              // non-tensor values inside the state dict
};

// A file that starts with the pickled magic number of torch.save before PyTorch 1.6.
bool is_legacy_torch_file(std::span<const uint8_t> bytes);

// The state dict of a torch.save archive: the object itself when it is a dict of tensors, or its
// "state_dict" (LAION training checkpoints) or "model" entry. Everything else in the file (an
// optimizer's state, epoch, ...) is parsed but never materialised. `what` names the file in
// messages. Throws clap::Error.
TorchStateDict read_torch_state_dict(std::span<const uint8_t> archive, const std::string& what);

}  // namespace clap
