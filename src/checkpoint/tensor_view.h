// A tensor inside a checkpoint: name, element type, shape and where its bytes are (a view of
// a memory-mapped file or of a buffer its checkpoint owns), and the conversions to what the
// engine computes with.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace clap {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);
bool dtype_is_float(DType dtype);
bool dtype_from_name(const std::string& name, DType* dtype);  // "F32" -> F32

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // points into the mapped file
  size_t nbytes = 0;

  int64_t numel() const;
  std::string shape_string() const;  // "[64, 16]"
};

// Any float dtype as float32 / any integer dtype as int64 (copies). Throw clap::Error naming the
// tensor for the other kind.
std::vector<float> tensor_to_float(const TensorView& tensor);
std::vector<int64_t> tensor_to_int64(const TensorView& tensor);

float half_to_float(uint16_t h);
float bfloat16_to_float(uint16_t b);
// Round to nearest, ties to even (as PyTorch's .half() / .bfloat16()); NaN stays NaN.
uint16_t float_to_half(float f);
uint16_t float_to_bfloat16(float f);

}  // namespace clap
