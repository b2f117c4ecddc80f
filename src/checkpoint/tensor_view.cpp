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

uint16_t float_to_bfloat16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

uint16_t float_to_half(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to infinity (>= 65520)
  if (abs < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // below half the smallest subnormal
    const uint32_t exp = abs >> 23, mant = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exp;  // 14 + 23 - 10 - (exp - 127) - 1 + 1
    uint32_t half = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1), midway = 1u << (shift - 1);
    if (rest > midway || (rest == midway && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t h = ((abs - 0x38000000u) >> 13);  // rebias exponent 127 -> 15
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
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
