#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

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

const DTypeInfo* dtype_by_name(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

}  // namespace

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

SafeTensors::SafeTensors(const std::string& path) : file_(path) {
  auto fail = [&](const std::string& why) { throw Error(path + ": invalid safetensors file: " + why); };
  if (file_.size() < 8) fail("shorter than the 8-byte header length");
  uint64_t header_len = 0;
  std::memcpy(&header_len, file_.data(), 8);  // little-endian host (x86-64)
  if (header_len > file_.size() - 8) fail("header length " + std::to_string(header_len) + " exceeds file size");
  if (header_len > 100u * 1024 * 1024) fail("header larger than 100 MB");
  const char* header_begin = reinterpret_cast<const char*>(file_.data() + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_begin, header_begin + header_len);
  } catch (const std::exception& e) {
    fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail("header is not a JSON object");
  const uint8_t* data_begin = file_.data() + 8 + header_len;
  const size_t data_size = file_.size() - 8 - header_len;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("__metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) fail("__metadata__ value for '" + m.key() + "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto tfail = [&](const std::string& why) { fail("tensor '" + name + "': " + why); };
    if (!entry.is_object()) tfail("entry is not an object");
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) tfail("missing dtype");
    if (!entry.contains("shape") || !entry["shape"].is_array()) tfail("missing shape");
    if (!entry.contains("data_offsets") || !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2)
      tfail("missing data_offsets [begin, end]");
    const DTypeInfo* dt = dtype_by_name(entry["dtype"].get<std::string>());
    if (!dt) tfail("unknown dtype '" + entry["dtype"].get<std::string>() + "'");
    TensorView t;
    t.name = name;
    t.dtype = dt->dtype;
    uint64_t numel = 1;
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned()) tfail("shape entries must be non-negative integers");
      uint64_t v = d.get<uint64_t>();
      if (v != 0 && numel > (uint64_t(1) << 48) / v) tfail("shape too large");
      numel *= v;
      t.shape.push_back(static_cast<int64_t>(v));
    }
    const auto& off = entry["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) tfail("data_offsets must be non-negative integers");
    uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end) tfail("data_offsets begin > end");
    if (end > data_size) tfail("byte range [" + std::to_string(begin) + ", " + std::to_string(end) +
                               ") lies outside the file's data section of " + std::to_string(data_size) + " bytes");
    if (end - begin != numel * dt->size)
      tfail("shape " + t.shape_string() + " x " + dt->name + " needs " + std::to_string(numel * dt->size) +
            " bytes but data_offsets cover " + std::to_string(end - begin));
    t.data = data_begin + begin;
    t.nbytes = end - begin;
    tensors_.push_back(std::move(t));
  }

  // No two tensors may share bytes.
  std::vector<size_t> order(tensors_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors_[a].data < tensors_[b].data; });
  for (size_t i = 1; i < order.size(); ++i) {
    const auto& prev = tensors_[order[i - 1]];
    const auto& cur = tensors_[order[i]];
    if (prev.nbytes > 0 && cur.nbytes > 0 && prev.data + prev.nbytes > cur.data)
      fail("tensors '" + prev.name + "' and '" + cur.name + "' overlap");
  }
  std::sort(tensors_.begin(), tensors_.end(), [](const TensorView& a, const TensorView& b) { return a.name < b.name; });
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

const TensorView* SafeTensors::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& SafeTensors::at(const std::string& name) const {
  const TensorView* t = find(name);
  if (!t) throw Error(path() + ": tensor '" + name + "' not found");
  return *t;
}

std::vector<float> SafeTensors::to_float(const TensorView& t) const {
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
    default: throw Error(path() + ": tensor '" + t.name + "' has dtype " + dtype_name(t.dtype) + ", expected a float type");
  }
  return out;
}

std::vector<int64_t> SafeTensors::to_int64(const TensorView& t) const {
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  const uint8_t* p = t.data;
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.dtype) {
      case DType::I64: std::memcpy(&out[i], p + 8 * i, 8); break;
      case DType::I32: { int32_t v; std::memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
      case DType::I16: { int16_t v; std::memcpy(&v, p + 2 * i, 2); out[i] = v; break; }
      case DType::I8: out[i] = static_cast<int8_t>(p[i]); break;
      case DType::U8: case DType::BOOL: out[i] = p[i]; break;
      default: throw Error(path() + ": tensor '" + t.name + "' has dtype " + dtype_name(t.dtype) + ", expected an integer type");
    }
  }
  return out;
}

void write_safetensors(const std::string& path, const std::map<std::string, TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    header[name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string h = header.dump();
  while ((h.size() % 8) != 0) h.push_back(' ');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path + ": cannot write");
  uint64_t n = h.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const auto& [name, t] : tensors) out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
  if (!out) throw Error(path + ": write failed");
}

TensorData tensor_from_floats(const std::vector<float>& values, std::vector<int64_t> shape) {
  TensorData t;
  t.dtype = DType::F32;
  t.shape = std::move(shape);
  t.bytes.resize(values.size() * 4);
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

}  // namespace clap
