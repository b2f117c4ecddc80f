#include "checkpoint/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_problem.h"

namespace clap {

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
    fail("header is not valid JSON (" + json_problem(std::string_view(header_begin, header_len), e) + ")");
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
    DType dtype;
    if (!dtype_from_name(entry["dtype"].get<std::string>(), &dtype)) tfail("unknown dtype '" + entry["dtype"].get<std::string>() + "'");
    const size_t esize = dtype_size(dtype);
    TensorView t;
    t.name = name;
    t.dtype = dtype;
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
    if (end - begin != numel * esize)
      tfail("shape " + t.shape_string() + " x " + dtype_name(dtype) + " needs " + std::to_string(numel * esize) +
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

std::vector<float> SafeTensors::to_float(const TensorView& t) const { return tensor_to_float(t); }
std::vector<int64_t> SafeTensors::to_int64(const TensorView& t) const { return tensor_to_int64(t); }

void write_safetensors(const std::string& path, const std::map<std::string, TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();  // dtype, shape, data_offsets: transformers' order
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
