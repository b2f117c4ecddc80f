#include "checkpoint/torch_file.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <unordered_set>

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

// What the copies of non-contiguous views may take: the archive's size in all. Many names for
// transposed views of one storage would otherwise copy it once per name.
struct CopyBudget {
  size_t archive = 0, left = 0;
};

// Builds one tensor of the state dict from its pickled view of a storage.
void add_tensor(const ZipDirectory& zip, const std::string& prefix, const pickle::Pickle& p, const pickle::TensorRef& ref,
                const std::string& name, const std::string& what, CopyBudget& budget, TorchStateDict& out) {
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
  // The product of the non-zero dimensions is bounded too: an empty tensor of size
  // [0, 2^62, 2^62] would overflow the contiguity check's products and TensorView::numel.
  int64_t nonzero = 1;
  for (size_t d = 0; d < ref.shape.size(); ++d) {
    if (ref.shape[d] < 0 || ref.stride[d] < 0) fail("a negative size or stride");
    if (ref.shape[d] != 0 && nonzero > kMaxElements / ref.shape[d]) fail("shape " + shape_text(ref.shape) + " is too large");
    if (ref.shape[d] != 0) nonzero *= ref.shape[d];
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
    if (t.nbytes > budget.left)
      fail("its non-contiguous view would copy more than the archive's " + std::to_string(budget.archive) +
           " bytes in all (copies of views of the same storages, again and again)");
    budget.left -= t.nbytes;
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

// The legacy format starts with a pickled magic number: PROTO n (a protocol 4+ pickle then has
// a FRAME), LONG1 of 10 bytes, 0x1950a86a20f9469cfc6c. PROTO alone is not enough: 0x80 0x00..05
// also starts safetensors files whose header is 128, 384, 640, ... bytes long.
bool is_legacy_torch_file(std::span<const uint8_t> bytes) {
  static constexpr uint8_t kMagic[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  if (bytes.size() < 2 || bytes[0] != 0x80 || bytes[1] < 2 || bytes[1] > 5) return false;
  size_t at = 2;
  if (bytes.size() > at && bytes[at] == 0x95) at += 9;  // FRAME + its 8-byte length
  return bytes.size() >= at + sizeof kMagic && std::memcmp(bytes.data() + at, kMagic, sizeof kMagic) == 0;
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
  // Names are checked as they come: one long key repeated through the memo (BINGET, 2 bytes an
  // entry) would otherwise make a copy of it per entry before the check.
  std::unordered_set<std::string> seen;
  CopyBudget budget{archive.size(), archive.size()};
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
    if (!seen.insert(name).second) throw Error(what + ": tensor '" + name + "' appears twice in the state dict");
    add_tensor(zip, prefix, p, p.tensors[static_cast<size_t>(value.integer)], name, what, budget, out);
  }
  return out;
}

}  // namespace clap
