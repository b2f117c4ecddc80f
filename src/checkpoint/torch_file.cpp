#include "checkpoint/torch_file.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "checkpoint/pickle.h"
#include "checkpoint/zip_directory.h"
#include "core/error.h"

namespace clap {
namespace {

constexpr int64_t kMaxElements = int64_t(1) << 48;

std::string shape_text(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// The one <name>/data.pkl of the archive, and the <name>/ prefix of its other entries.
const ZipEntry& find_pickle(const ZipDirectory& zip, const std::string& what, std::string* prefix) {
  const ZipEntry* found = nullptr;
  for (const ZipEntry& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash == std::string::npos || e.name.compare(slash, std::string::npos, "/data.pkl") != 0) continue;
    if (found) throw Error(what + ": the archive holds two pickles (" + found->name + ", " + e.name + "); not a torch.save file");
    found = &e;
    *prefix = e.name.substr(0, slash + 1);
  }
  if (!found) throw Error(what + ": a zip archive without <name>/data.pkl: not a PyTorch checkpoint");
  return *found;
}

// Builds one tensor of the state dict from its pickled view of a storage.
void add_tensor(const ZipDirectory& zip, const std::string& prefix, const pickle::Pickle& p, const pickle::TensorRef& ref,
                const std::string& name, const std::string& what, TorchStateDict& out) {
  auto fail = [&](const std::string& why) { throw Error(what + ": tensor '" + name + "': " + why); };
  const pickle::StorageRef& storage = p.storages[ref.storage];
  const size_t esize = dtype_size(storage.dtype);
  const ZipEntry* entry = zip.find(prefix + "data/" + storage.key);
  if (!entry) fail("its storage '" + storage.key + "' is not in the archive (" + prefix + "data/" + storage.key + ")");
  const std::span<const uint8_t> bytes = zip.stored_bytes(*entry);
  if (storage.numel > kMaxElements || static_cast<uint64_t>(storage.numel) * esize != bytes.size())
    fail("its storage '" + storage.key + "' should hold " + std::to_string(storage.numel) + " x " + dtype_name(storage.dtype) +
         " but has " + std::to_string(bytes.size()) + " bytes");
  // Bounds: every element the view reaches lies inside the storage; no two elements overlap.
  int64_t numel = 1;
  __int128 last = ref.offset;  // 128 bits: sizes and strides up to 2^48 multiply without overflow
  if (ref.offset < 0) fail("a negative storage offset");
  for (size_t d = 0; d < ref.shape.size(); ++d) {
    if (ref.shape[d] < 0 || ref.stride[d] < 0) fail("a negative size or stride");
    if (ref.shape[d] != 0 && numel > kMaxElements / ref.shape[d]) fail("shape " + shape_text(ref.shape) + " is too large");
    numel *= ref.shape[d];
  }
  if (numel > 0) {
    for (size_t d = 0; d < ref.shape.size(); ++d) {
      if (ref.stride[d] > kMaxElements) fail("stride " + shape_text(ref.stride) + " is too large");
      last += static_cast<__int128>(ref.shape[d] - 1) * ref.stride[d];
      if (last > kMaxElements) fail("the view reaches past any storage");
    }
    if (last >= storage.numel)
      fail("shape " + shape_text(ref.shape) + ", stride " + shape_text(ref.stride) + " at offset " + std::to_string(ref.offset) +
           " reaches element " + std::to_string(static_cast<int64_t>(last)) + " of a storage of " + std::to_string(storage.numel) +
           " (the storage is shorter than the tensor)");
    // Non-overlap: with dimensions sorted by stride, each stride must step over everything the
    // smaller ones reach.
    std::vector<size_t> dims;
    for (size_t d = 0; d < ref.shape.size(); ++d)
      if (ref.shape[d] > 1) dims.push_back(d);
    std::sort(dims.begin(), dims.end(), [&](size_t a, size_t b) { return ref.stride[a] < ref.stride[b]; });
    __int128 reach = 0;
    for (size_t d : dims) {
      if (ref.stride[d] <= reach) fail("stride " + shape_text(ref.stride) + " makes elements overlap");
      reach += static_cast<__int128>(ref.shape[d] - 1) * ref.stride[d];
    }
  }
  TensorView t;
  t.name = name;
  t.dtype = storage.dtype;
  t.shape = ref.shape;
  t.nbytes = static_cast<size_t>(numel) * esize;
  bool contiguous = true;
  int64_t expected = 1;
  for (size_t d = ref.shape.size(); d-- > 0;) {
    if (ref.shape[d] != 1 && ref.stride[d] != expected) contiguous = false;
    expected *= ref.shape[d];
  }
  if (numel == 0) {
    t.data = bytes.data();
  } else if (contiguous) {
    t.data = bytes.data() + static_cast<size_t>(ref.offset) * esize;
  } else {  // gather, row-major
    std::vector<uint8_t> copy(t.nbytes);
    std::vector<int64_t> index(ref.shape.size(), 0);
    for (int64_t i = 0; i < numel; ++i) {
      int64_t at = ref.offset;
      for (size_t d = 0; d < index.size(); ++d) at += index[d] * ref.stride[d];
      std::memcpy(copy.data() + static_cast<size_t>(i) * esize, bytes.data() + static_cast<size_t>(at) * esize, esize);
      for (size_t d = index.size(); d-- > 0;) {
        if (++index[d] < ref.shape[d]) break;
        index[d] = 0;
      }
    }
    out.copies.push_back(std::move(copy));
    t.data = out.copies.back().data();
  }
  out.tensors.push_back(std::move(t));
}

bool holds_tensors(const pickle::Pickle& p, const pickle::Value& dict) {
  for (size_t i = 1; i < dict.items.size(); i += 2)
    if (p.at(dict.items[i]).kind == pickle::Kind::Tensor) return true;
  return false;
}

}  // namespace

bool is_legacy_torch_file(std::span<const uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x80 && bytes[1] <= 5 && !ZipDirectory::looks_like_zip(bytes);
}

TorchStateDict read_torch_state_dict(std::span<const uint8_t> archive, const std::string& what) {
  if (is_legacy_torch_file(archive))
    throw Error(what + ": a PyTorch file in the legacy format (torch.save before PyTorch 1.6), which clapsearch does not "
                "read. Re-save it with a newer PyTorch: torch.save(torch.load(\"OLD\", map_location=\"cpu\"), \"NEW.pt\")");
  const ZipDirectory zip(archive, what);
  std::string prefix;
  const ZipEntry& pkl = find_pickle(zip, what, &prefix);
  if (const ZipEntry* order = zip.find(prefix + "byteorder")) {
    const auto b = zip.stored_bytes(*order);
    const std::string text(reinterpret_cast<const char*>(b.data()), b.size());
    if (text != "little") throw Error(what + ": saved on a '" + text + "'-endian machine; only little-endian files are read");
  }
  const pickle::Pickle p = pickle::read(zip.stored_bytes(pkl), what + " (" + pkl.name + ")");

  TorchStateDict out;
  const pickle::Value* dict = &p.at(p.root);
  if (dict->kind != pickle::Kind::Dict)
    throw Error(what + ": holds no state dict (the pickled object is not a dict)");
  out.layout = "state dict";
  for (const char* key : {"state_dict", "model"}) {
    const pickle::Value* inner = p.get(*dict, key);
    if (inner && inner->kind == pickle::Kind::Dict && holds_tensors(p, *inner)) {
      out.layout = "training checkpoint";
      if (const pickle::Value* epoch = p.get(*dict, "epoch"); epoch && epoch->kind == pickle::Kind::Int)
        out.layout += " (epoch " + std::to_string(epoch->integer) + ")";
      dict = inner;
      break;
    }
  }
  if (!holds_tensors(p, *dict)) throw Error(what + ": holds no tensors (neither a state dict nor a checkpoint with one)");
  std::vector<std::string> seen;
  for (size_t i = 0; i + 1 < dict->items.size(); i += 2) {
    const pickle::Value& key = p.at(dict->items[i]);
    const pickle::Value& value = p.at(dict->items[i + 1]);
    if (value.kind != pickle::Kind::Tensor || key.kind != pickle::Kind::String) {
      ++out.ignored_entries;
      continue;
    }
    std::string name = key.text;
    if (name.rfind("module.", 0) == 0) {
      name.erase(0, 7);
      out.had_module_prefix = true;
    }
    add_tensor(zip, prefix, p, p.tensors[static_cast<size_t>(value.integer)], name, what, out);
    seen.push_back(name);
  }
  std::sort(seen.begin(), seen.end());
  const auto dup = std::adjacent_find(seen.begin(), seen.end());
  if (dup != seen.end()) throw Error(what + ": tensor '" + *dup + "' appears twice in the state dict");
  return out;
}

}  // namespace clap
