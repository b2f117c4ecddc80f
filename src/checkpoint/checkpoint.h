// The named tensors of a weights file, whatever format it comes in:
//   model.safetensors                      (checkpoint/safetensors.h)
//   a torch.save archive: .pt, .ckpt, pytorch_model.bin (checkpoint/torch_file.h)
//   a sharded set: *.index.json with {"weight_map": {tensor: shard file}} next to its shards
// Tensors are views of memory-mapped files; the few that cannot be (a torch view that is not
// contiguous) are copied once and owned here. A model reads what it needs out of them at load
// and closes the checkpoint (model/clap.h): the files are not read in place for longer.
#pragma once
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/safetensors.h"
#include "core/mapped_file.h"

namespace clap {

class Checkpoint {
 public:
  // Opens and fully validates `path` (format from its content; an .index.json by name).
  // Throws clap::Error naming the file and the reason.
  static std::unique_ptr<Checkpoint> open(const std::string& path);

  const std::string& path() const { return path_; }
  // "safetensors", "PyTorch state dict", "PyTorch training checkpoint (epoch 15)", "sharded ...".
  const std::string& format() const { return format_; }
  bool is_safetensors() const { return safetensors_; }

  const TensorView* find(const std::string& name) const;  // nullptr when absent
  const std::vector<TensorView>& tensors() const { return tensors_; }

  // Replaces the tensor table (a renaming: the views must point into this checkpoint's data or
  // buffers it owns). Throws on a name given twice.
  void set_tensors(std::vector<TensorView> tensors);
  // Keeps `bytes` alive as long as the checkpoint and returns where they now live.
  const uint8_t* own(std::vector<uint8_t> bytes);

  // See MappedFile::release (pointers outside the mapped files are ignored).
  void release(const void* p, size_t bytes) const;
  // The first of its files written to since it was opened (MappedFile::changed), or "".
  std::string changed_file() const;

 private:
  void add_file(const std::string& path);

  std::string path_, format_;
  bool safetensors_ = true;
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::vector<std::unique_ptr<SafeTensors>> safetensor_files_;
  std::deque<std::vector<uint8_t>> owned_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> index_;
};

}  // namespace clap
