#include "checkpoint/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "checkpoint/torch_file.h"
#include "checkpoint/zip_directory.h"
#include "core/error.h"
#include "core/json_problem.h"
#include "core/text_file.h"

namespace clap {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& path) {
  auto c = std::unique_ptr<Checkpoint>(new Checkpoint());
  c->path_ = path;
  if (!ends_with(path, ".index.json")) {
    c->add_file(path);
    c->set_tensors(std::move(c->tensors_));
    return c;
  }
  // A sharded checkpoint: the index names, for every tensor, the shard file (next to it) that holds it.
  const std::string text = read_text_file(path, "checkpoint index");
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw Error(path + ": not valid JSON (" + json_problem(text, e) + ")");
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw Error(path + ": a shard index without a \"weight_map\" object");
  std::set<std::string> shards;
  std::map<std::string, std::string> shard_of;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it.value().is_string()) throw Error(path + ": weight_map entry '" + it.key() + "' is not a file name");
    const std::string shard = it.value().get<std::string>();
    // Only files in the index's own folder: an index cannot point anywhere else.
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..")
      throw Error(path + ": weight_map entry '" + it.key() + "' names '" + shard + "', not a file next to the index");
    shards.insert(shard);
    shard_of[it.key()] = shard;
  }
  const fs::path dir = fs::path(path).parent_path();
  for (const std::string& shard : shards) c->add_file((dir / shard).string());
  c->format_ = "sharded " + c->format_ + " (" + std::to_string(shards.size()) + " files)";
  // Every tensor the index names must be in its shard.
  std::set<std::string> present;
  for (const TensorView& t : c->tensors_) present.insert(t.name);
  for (const auto& [name, shard] : shard_of)
    if (!present.count(name)) throw Error(path + ": tensor '" + name + "' is not in " + shard + " as the index says");
  c->set_tensors(std::move(c->tensors_));
  return c;
}

void Checkpoint::add_file(const std::string& file) {
  auto mapped = std::make_unique<MappedFile>(file);
  const std::span<const uint8_t> bytes(mapped->data(), mapped->size());
  if (ZipDirectory::looks_like_zip(bytes) || is_legacy_torch_file(bytes)) {
    TorchStateDict sd = read_torch_state_dict(bytes, file);
    safetensors_ = false;
    format_ = "PyTorch " + sd.layout;
    for (auto& copy : sd.copies) owned_.push_back(std::move(copy));  // deque: the views stay valid
    for (auto& t : sd.tensors) tensors_.push_back(std::move(t));
    files_.push_back(std::move(mapped));
    return;
  }
  // safetensors: an 8-byte header length, then the JSON header. Anything else is not a
  // checkpoint at all; saying "invalid safetensors" of it would send the user the wrong way.
  if (bytes.size() < 10 || bytes[8] != '{')
    throw Error(file + ": not a checkpoint file (neither a PyTorch file, zip or pickle, nor safetensors)");
  mapped.reset();
  auto st = std::make_unique<SafeTensors>(file);
  if (format_.empty()) format_ = "safetensors";
  for (const TensorView& t : st->tensors()) tensors_.push_back(t);
  safetensor_files_.push_back(std::move(st));
}

const TensorView* Checkpoint::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void Checkpoint::set_tensors(std::vector<TensorView> tensors) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorView& a, const TensorView& b) { return a.name < b.name; });
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < tensors.size(); ++i)
    if (!index.emplace(tensors[i].name, i).second) throw Error(path_ + ": tensor '" + tensors[i].name + "' appears twice");
  tensors_ = std::move(tensors);
  index_ = std::move(index);
}

const uint8_t* Checkpoint::own(std::vector<uint8_t> bytes) {
  owned_.push_back(std::move(bytes));
  return owned_.back().data();
}

void Checkpoint::release(const void* p, size_t bytes) const {
  for (const auto& f : files_) f->release(p, bytes);
  for (const auto& f : safetensor_files_) f->release(p, bytes);
}

std::string Checkpoint::changed_file() const {
  for (const auto& f : files_)
    if (f->changed()) return f->path();
  for (const auto& f : safetensor_files_)
    if (f->changed()) return f->path();
  return "";
}

}  // namespace clap
