#include "model/convert.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
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

namespace {

// The names a conversion may write into its folder: what a previous run of the same command
// left there, and so the only files --force replaces.
std::set<std::string> output_names(const ConvertOptions& options) {
  std::set<std::string> names = {"model.safetensors", "config.json", "preprocessor_config.json"};
  for (const std::string& n : tokenizer_file_names()) names.insert(n);
  for (const auto& [name, text] : options.extra_files) names.insert(name);
  return names;
}

// `path` as it is reached (symbolic links resolved as far as it exists), for comparisons.
fs::path resolved(const fs::path& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  return ec ? fs::absolute(path).lexically_normal() : p;
}

bool is_within(const fs::path& path, const fs::path& folder) {
  const std::string p = path.string(), f = folder.string();
  if (f == "/") return true;
  return p.size() >= f.size() && p.compare(0, f.size(), f) == 0 && (p.size() == f.size() || p[f.size()] == '/');
}

// Refuses an output folder that is, or holds, anything the conversion reads.
void check_not_input(const ModelFiles& files, const fs::path& dest) {
  const fs::path out = resolved(dest);
  for (const std::string& input : {files.weights, files.config, files.preprocessor, files.tokenizer_dir}) {
    if (input.empty()) continue;
    const fs::path in = resolved(input);
    if (is_within(in, out) || is_within(out, in))
      throw Error(dest.string() + ": the output folder " + (is_within(in, out) ? "holds" : "is inside") + " the input (" + input +
                  "); write to another folder");
  }
}

// A non-empty folder is replaced (with force) only when everything in it is a file the
// conversion writes; otherwise it is refused, naming what else is there.
void check_out_folder(const fs::path& dest, const ConvertOptions& options) {
  std::error_code ec;
  // The output folder is made, its parent is not (as for --db and output files: a typo in the
  // path is an error, not a new folder tree).
  if (!fs::is_directory(dest.parent_path(), ec))
    throw Error(dest.string() + ": cannot create: the folder " + dest.parent_path().string() + " does not exist");
  // A symbolic link to a folder: the finished conversion replaces the output folder as a whole
  // (a rename), which a link cannot take; the link's target is the folder meant.
  if (fs::is_symlink(dest, ec))
    throw Error(dest.string() + ": is a symbolic link" + (fs::is_directory(dest, ec) ? " to the folder " + fs::canonical(dest, ec).string() : std::string()) +
                "; give the folder itself as the output");
  if (!fs::exists(dest, ec)) return;
  if (!fs::is_directory(dest, ec)) throw Error(dest.string() + ": exists and is not a folder");
  if (fs::is_empty(dest, ec)) return;
  if (!options.force) throw Error(dest.string() + ": the folder is not empty (pass --force to replace a previous conversion)");
  const std::set<std::string> ours = output_names(options);
  std::vector<std::string> unexpected;
  for (fs::directory_iterator it(dest, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const fs::file_status st = it->symlink_status(ec);
    if (!ours.count(name) || !(fs::is_regular_file(st) || fs::is_symlink(st))) unexpected.push_back(name);
  }
  if (ec) throw Error(dest.string() + ": cannot list: " + ec.message());
  if (!unexpected.empty()) {
    std::sort(unexpected.begin(), unexpected.end());
    std::string list;
    for (size_t i = 0; i < unexpected.size() && i < 20; ++i) {
      if (i) list += ", ";
      list += unexpected[i];
    }
    if (unexpected.size() > 20) list += ", ... (" + std::to_string(unexpected.size()) + " in all)";
    throw Error(dest.string() + ": not a previous output of this command, --force replaces only that; it also holds: " + list);
  }
}

fs::path output_folder(const std::string& out_dir) {
  const fs::path target = fs::absolute(out_dir).lexically_normal();
  return target.filename().empty() ? target.parent_path() : target;
}

}  // namespace

void check_conversion_target(const ModelFiles& files, const std::string& out_dir, const ConvertOptions& options) {
  const fs::path dest = output_folder(out_dir);
  check_not_input(files, dest);
  check_out_folder(dest, options);
}

ConvertReport convert_model(const ModelFiles& files, const std::string& out_dir, const ConvertOptions& options) {
  std::error_code ec;
  const fs::path dest = output_folder(out_dir);
  check_not_input(files, dest);
  check_out_folder(dest, options);
  // Built by appending: GCC 12 warns (-Wrestrict) on `"." + std::string`.
  std::string partial_name = ".";
  partial_name += dest.filename().string();
  partial_name += ".partial-" + std::to_string(::getpid());
  const fs::path partial = dest.parent_path() / partial_name;
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
    if (!fs::exists(dest, ec)) {
      // A new folder appears whole, or not at all.
      fs::rename(partial, dest, ec);
      if (ec) throw Error(dest.string() + ": cannot move the conversion into place: " + ec.message());
    } else {
      // Into an existing folder (empty, or a previous conversion with --force): checked again
      // just before (nothing else may have appeared meanwhile), then each file is renamed over
      // its old version; files of the previous conversion this one does not write go, and
      // nothing else in the folder is touched.
      check_out_folder(dest, options);
      for (const std::string& name : report.files) {
        fs::rename(partial / name, dest / name, ec);
        if (ec) throw Error((dest / name).string() + ": cannot move into place: " + ec.message());
      }
      const std::set<std::string> written(report.files.begin(), report.files.end());
      for (const std::string& name : output_names(options))
        if (!written.count(name)) fs::remove(dest / name, ec);
      fs::remove_all(partial, ec);
    }
  } catch (...) {
    fs::remove_all(partial, ec);
    throw;
  }
  report.out_dir = dest.string();
  return report;
}

void remove_conversion(const ConvertReport& report) {
  if (report.out_dir.empty()) return;
  std::error_code ec;
  for (const std::string& name : report.files) fs::remove(fs::path(report.out_dir) / name, ec);
  fs::remove(report.out_dir, ec);  // only when nothing else is left in it
}

}  // namespace clap
