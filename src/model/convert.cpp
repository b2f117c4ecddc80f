#include "model/convert.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/text_file.h"
#include "core/error.h"
#include "core/sha256.h"
#include "model/laion.h"

namespace clap {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

const char* torch_dtype_name(DType d) {
  switch (d) {
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    default: return "float32";
  }
}

// One tensor of the output: a view of the checkpoint, or bytes made here (a synthesized buffer).
struct OutputTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const TensorView* source = nullptr;
  std::vector<uint8_t> made;
  size_t nbytes() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return static_cast<size_t>(n) * dtype_size(dtype);
  }
};

std::vector<uint8_t> int64_bytes(const std::vector<int64_t>& v) {
  std::vector<uint8_t> b(v.size() * 8);
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Swin's relative_position_index for a window of w x w (as transformers computes it).
std::vector<int64_t> relative_position_index(int64_t w) {
  std::vector<int64_t> out(static_cast<size_t>(w * w * w * w));
  for (int64_t i = 0; i < w * w; ++i)
    for (int64_t j = 0; j < w * w; ++j) {
      const int64_t dh = i / w - j / w + w - 1, dw = i % w - j % w + w - 1;
      out[static_cast<size_t>(i * w * w + j)] = dh * (2 * w - 1) + dw;
    }
  return out;
}

// Adds what transformers' ClapModel holds as persistent buffers but a LAION checkpoint may lack.
void synthesize_buffers(std::map<std::string, OutputTensor>& out, const ClapConfig& config, std::vector<std::string>& made) {
  auto add = [&](const std::string& name, std::vector<int64_t> shape, std::vector<int64_t> values) {
    if (out.count(name)) return;
    OutputTensor t;
    t.dtype = DType::I64;
    t.shape = std::move(shape);
    t.made = int64_bytes(values);
    out[name] = std::move(t);
    made.push_back(name);
  };
  const int64_t positions = config.text.max_position_embeddings;
  if (out.count("text_model.embeddings.word_embeddings.weight")) {
    std::vector<int64_t> ids(static_cast<size_t>(positions));
    for (int64_t i = 0; i < positions; ++i) ids[static_cast<size_t>(i)] = i;
    add("text_model.embeddings.position_ids", {1, positions}, ids);
    add("text_model.embeddings.token_type_ids", {1, positions}, std::vector<int64_t>(static_cast<size_t>(positions), 0));
  }
  std::vector<std::string> tables, norms;
  for (const auto& [name, t] : out) {
    if (ends_with(name, ".relative_position_bias_table")) tables.push_back(name);
    if (ends_with(name, ".running_mean")) norms.push_back(name);
  }
  const int64_t w = config.audio.window_size;
  for (const std::string& table : tables) {  // ...relative_position_bias_table -> ...relative_position_index
    const std::string stem = table.substr(0, table.size() - std::string("bias_table").size());
    add(stem + "index", {w * w, w * w}, relative_position_index(w));
  }
  for (const std::string& mean : norms) add(mean.substr(0, mean.size() - 12) + "num_batches_tracked", {}, {0});
}

void emit_floats(const std::vector<float>& values, DType to, const ByteSink& sink);

void emit_converted(const TensorView& t, DType to, const ByteSink& sink) {
  if (t.dtype == to || !dtype_is_float(t.dtype)) {
    if (t.nbytes) sink(t.data, t.nbytes);
    return;
  }
  emit_floats(tensor_to_float(t), to, sink);
}

void emit_floats(const std::vector<float>& values, DType to, const ByteSink& sink) {
  constexpr size_t kChunk = 1 << 16;
  std::vector<uint8_t> buf;
  for (size_t start = 0; start < values.size(); start += kChunk) {
    const size_t n = std::min(kChunk, values.size() - start);
    buf.resize(n * dtype_size(to));
    for (size_t i = 0; i < n; ++i) {
      const float v = values[start + i];
      if (to == DType::F32) {
        std::memcpy(buf.data() + 4 * i, &v, 4);
      } else {
        const uint16_t h = to == DType::F16 ? float_to_half(v) : float_to_bfloat16(v);
        std::memcpy(buf.data() + 2 * i, &h, 2);
      }
    }
    sink(buf.data(), buf.size());
  }
}

std::vector<uint8_t> float_bytes(const std::vector<float>& values, DType to) {
  std::vector<uint8_t> out;
  emit_floats(values, to, [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  });
  return out;
}

}  // namespace

const std::vector<std::string>& tokenizer_file_names() {
  static const std::vector<std::string> names = {"vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
                                                 "special_tokens_map.json"};
  return names;
}

std::string converted_config_text(const ModelFiles& files, const ClapConfig& config, DType dtype) {
  if (!files.config.empty()) return read_text_file(files.config, "model config");
  return config.to_json_text(torch_dtype_name(dtype));
}

std::string converted_preprocessor_text(const ModelFiles& files, const ClapConfig& config) {
  if (!files.preprocessor.empty()) return read_text_file(files.preprocessor, "preprocessor config");
  return config.features.to_json_text();
}

ConvertReport write_hugging_face_weights(const ModelFiles& files, DType dtype, const ByteSink& sink,
                                         const std::map<std::string, std::vector<float>>& replace) {
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
    throw Error(std::string("cannot write floats as ") + dtype_name(dtype) + " (F32, F16 or BF16)");
  ConvertReport report;
  laion::Renaming renaming;
  auto checkpoint = laion::open_in_hugging_face_names(files.weights, &renaming);
  report.source_format = checkpoint->format();
  report.dropped = renaming.dropped;
  report.config_inferred = files.config.empty();
  report.config = ClapModel::read_config(files);

  std::map<std::string, OutputTensor> out;  // sorted by name, as the file is
  for (const TensorView& t : checkpoint->tensors()) {
    OutputTensor o;
    o.dtype = dtype_is_float(t.dtype) ? dtype : t.dtype;
    o.shape = t.shape;
    o.source = &t;
    const auto r = replace.find(t.name);
    if (r != replace.end()) {
      if (!dtype_is_float(t.dtype) || r->second.size() != static_cast<size_t>(t.nbytes / dtype_size(t.dtype)))
        throw Error(files.weights + ": tensor " + t.name + " cannot be replaced by " + std::to_string(r->second.size()) +
                    " values (it has " + std::to_string(t.nbytes / dtype_size(t.dtype)) + ")");
      o.source = nullptr;
      o.made = float_bytes(r->second, o.dtype);
    }
    out[t.name] = std::move(o);
  }
  for (const auto& [name, values] : replace)
    if (!out.count(name)) throw Error(files.weights + ": no tensor " + name + " to replace");
  synthesize_buffers(out, report.config, report.synthesized);

  // In the order transformers' own files have (and the golden model.safetensors): metadata, then
  // tensors by name, each as dtype, shape, data_offsets.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const auto& [name, t] : out) {
    header[name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');
  const uint64_t header_size = h.size();
  sink(&header_size, 8);  // little-endian host
  sink(h.data(), h.size());
  for (const auto& [name, t] : out) {
    if (t.source) emit_converted(*t.source, t.dtype, sink);
    else if (!t.made.empty()) sink(t.made.data(), t.made.size());
  }
  report.tensors = out.size();
  report.weights_bytes = 8 + header_size + offset;
  return report;
}

std::string audio_tensors_sha256(const ModelFiles& files) {
  auto checkpoint = laion::open_in_hugging_face_names(files.weights);
  std::map<std::string, const TensorView*> audio;
  for (const TensorView& t : checkpoint->tensors())
    if (dtype_is_float(t.dtype) && (t.name.rfind("audio_model.", 0) == 0 || t.name.rfind("audio_projection.", 0) == 0))
      audio[t.name] = &t;
  Sha256 h;
  for (const auto& [name, t] : audio) {
    std::string head = name + "\t";
    for (int64_t d : t->shape) head += std::to_string(d) + ",";
    h.update(head + "\n");
    emit_converted(*t, DType::F32, [&](const void* p, size_t n) { h.update(p, n); });
  }
  return h.hex_digest();
}

std::string hugging_face_weights_sha256(const ModelFiles& files) {
  Sha256 h;
  write_hugging_face_weights(files, DType::F32, [&](const void* p, size_t n) { h.update(p, n); });
  return h.hex_digest();
}

ConvertReport convert_model(const ModelFiles& files, const std::string& out_dir, const ConvertOptions& options) {
  std::error_code ec;
  const fs::path target = fs::absolute(out_dir).lexically_normal();
  const fs::path dest = target.filename().empty() ? target.parent_path() : target;
  if (fs::exists(dest, ec)) {
    if (!fs::is_directory(dest, ec)) throw Error(dest.string() + ": exists and is not a folder");
    if (!fs::is_empty(dest, ec) && !options.force)
      throw Error(dest.string() + ": the folder is not empty (pass --force to replace it)");
  }
  fs::create_directories(dest.parent_path(), ec);
  const fs::path partial = dest.parent_path() / ("." + dest.filename().string() + ".partial-" + std::to_string(::getpid()));
  fs::remove_all(partial, ec);
  if (!fs::create_directory(partial, ec)) throw Error(partial.string() + ": cannot create: " + ec.message());
  ConvertReport report;
  try {
    auto write_text = [&](const std::string& name, const std::string& text) {
      std::ofstream f(partial / name, std::ios::binary | std::ios::trunc);
      f << text;
      f.flush();
      if (!f) throw Error((dest / name).string() + ": cannot write");
      report.files.push_back(name);
    };
    // Weights first: a file that cannot be read fails before anything else is written.
    {
      std::ofstream f(partial / "model.safetensors", std::ios::binary | std::ios::trunc);
      if (!f) throw Error((partial / "model.safetensors").string() + ": cannot write");
      ConvertReport w = write_hugging_face_weights(
          files, options.dtype,
          [&](const void* p, size_t n) { f.write(static_cast<const char*>(p), static_cast<std::streamsize>(n)); },
          options.replace);
      f.flush();
      if (!f) throw Error((dest / "model.safetensors").string() + ": write failed (disk full?)");
      report = std::move(w);
      report.files = {"model.safetensors"};
    }
    write_text("config.json", converted_config_text(files, report.config, options.dtype));
    write_text("preprocessor_config.json", converted_preprocessor_text(files, report.config));
    if (!files.tokenizer_dir.empty())
      for (const std::string& name : tokenizer_file_names()) {
        const fs::path from = fs::path(files.tokenizer_dir) / name;
        if (!fs::exists(from, ec)) continue;
        fs::copy_file(from, partial / name, fs::copy_options::overwrite_existing, ec);
        if (ec) throw Error(from.string() + ": cannot copy: " + ec.message());
        report.files.push_back(name);
      }
    for (const auto& [name, text] : options.extra_files) write_text(name, text);
    // Into place: the old folder (empty, or replaced with --force) goes only once the new one is whole.
    if (fs::exists(dest, ec)) {
      const fs::path old = dest.parent_path() / ("." + dest.filename().string() + ".old-" + std::to_string(::getpid()));
      fs::rename(dest, old, ec);
      if (ec) throw Error(dest.string() + ": cannot replace: " + ec.message());
      fs::rename(partial, dest, ec);
      if (ec) {
        fs::rename(old, dest);
        throw Error(dest.string() + ": cannot move the conversion into place: " + ec.message());
      }
      fs::remove_all(old, ec);
    } else {
      fs::rename(partial, dest, ec);
      if (ec) throw Error(dest.string() + ": cannot move the conversion into place: " + ec.message());
    }
  } catch (...) {
    fs::remove_all(partial, ec);
    throw;
  }
  report.out_dir = dest.string();
  return report;
}

}  // namespace clap
