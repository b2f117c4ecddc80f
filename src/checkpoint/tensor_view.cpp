#include "checkpoint/tensor_view.h"

#include <cstring>

#include "core/error.h"

namespace clap {
namespace {

struct DTypeInfo {
  const char* name;
  DType dtype;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {"F64", DType::F64, 8}, {"F32", DType::F32, 4}, {"F16", DType::F16, 2}, {"BF16", DType::BF16, 2},
    {"I64", DType::I64, 8}, {"I32", DType::I32, 4}, {"I16", DType::I16, 2}, {"I8", DType::I8, 1},
    {"U8", DType::U8, 1},   {"BOOL", DType::BOOL, 1},
};

}  // namespace

bool dtype_from_name(const std::string& name, DType* dtype) {
  for (const auto& d : kDTypes)
    if (name == d.name) {
      *dtype = d.dtype;
      return true;
    }
  return false;
}

const char* dtype_name(DType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d.name;
  return "?";
}
size_t dtype_size(DType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d.size;
  return 0;
}
bool dtype_is_float(DType dtype) {
  return dtype == DType::F64 || dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorView::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) { mant <<= 1; --exp; }
      bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bfloat16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::vector<float> tensor_to_float(const TensorView& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  const uint8_t* p = t.data;
  switch (t.dtype) {
    case DType::F32:
      // An empty tensor (a 0 in its shape) has no buffer: memcpy's pointers must not be null
      // even for 0 bytes (found by fuzz_safetensors).
      if (t.nbytes > 0) std::memcpy(out.data(), p, t.nbytes);
      break;
    case DType::F64:
      for (size_t i = 0; i < out.size(); ++i) { double v; std::memcpy(&v, p + 8 * i, 8); out[i] = static_cast<float>(v); }
      break;
    case DType::F16:
      for (size_t i = 0; i < out.size(); ++i) { uint16_t v; std::memcpy(&v, p + 2 * i, 2); out[i] = half_to_float(v); }
      break;
    case DType::BF16:
      for (size_t i = 0; i < out.size(); ++i) { uint16_t v; std::memcpy(&v, p + 2 * i, 2); out[i] = bfloat16_to_float(v); }
      break;
    default: throw Error("tensor '" + t.name + "' has dtype " + dtype_name(t.dtype) + ", expected a float type");
  }
  return out;
}

std::vector<int64_t> tensor_to_int64(const TensorView& t) {
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  const uint8_t* p = t.data;
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.dtype) {
      case DType::I64: std::memcpy(&out[i], p + 8 * i, 8); break;
      case DType::I32: { int32_t v; std::memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
      case DType::I16: { int16_t v; std::memcpy(&v, p + 2 * i, 2); out[i] = v; break; }
      case DType::I8: out[i] = static_cast<int8_t>(p[i]); break;
      case DType::U8: case DType::BOOL: out[i] = p[i]; break;
      default: throw Error("tensor '" + t.name + "' has dtype " + dtype_name(t.dtype) + ", expected an integer type");
    }
  }
  return out;
}

}  // namespace clap
