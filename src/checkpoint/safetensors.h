// Reader for the safetensors format (https://huggingface.co/docs/safetensors):
// 8-byte little-endian header length, a JSON header, then raw little-endian tensor bytes.
// The file is memory-mapped; F32 tensors are used in place, other float dtypes converted.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/tensor_view.h"
#include "core/mapped_file.h"

namespace clap {

class SafeTensors {
 public:
  // Maps and fully validates the file; throws clap::Error naming the file (and tensor).
  explicit SafeTensors(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const TensorView* find(const std::string& name) const;  // nullptr if absent
  const TensorView& at(const std::string& name) const;     // throws if absent
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // See MappedFile::release (pointers outside the file are ignored).
  void release(const void* p, size_t bytes) const { file_.release(p, bytes); }
  bool changed() const { return file_.changed(); }  // See MappedFile::changed

  // Any float dtype converted to float32 (copy). Integer dtypes are rejected.
  std::vector<float> to_float(const TensorView& tensor) const;
  // Any integer dtype converted to int64 (copy).
  std::vector<int64_t> to_int64(const TensorView& tensor) const;

 private:
  MappedFile file_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Writes a safetensors file (tests, exports). Tensors are written in name order.
struct TensorData {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
void write_safetensors(const std::string& path, const std::map<std::string, TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
TensorData tensor_from_floats(const std::vector<float>& values, std::vector<int64_t> shape);

}  // namespace clap
