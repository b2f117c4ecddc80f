// The pickle reader (checkpoint/pickle.h) on arbitrary bytes as a torch.save data.pkl: every
// opcode it knows, the refused globals and opcodes, the memo, MARKs and the limits. What it
// returns must be a well-formed arena: every index (items, root, storages, tensors) in range.
#include <cstdint>
#include <span>

#include "checkpoint/pickle.h"
#include "core/error.h"
#include "fuzz_util.h"

namespace {

void check(const clap::pickle::Pickle& p, const clap::pickle::Limits& limits) {
  using clap::pickle::Kind;
  const size_t n = p.values.size();
  FUZZ_CHECK(n <= limits.max_objects);
  FUZZ_CHECK(p.root < n);
  for (const clap::pickle::Value& v : p.values) {
    for (uint32_t i : v.items) FUZZ_CHECK(i < n);
    if (v.kind == Kind::Dict) FUZZ_CHECK(v.items.size() % 2 == 0);
    if (v.kind == Kind::Storage) FUZZ_CHECK(v.integer >= 0 && static_cast<size_t>(v.integer) < p.storages.size());
    if (v.kind == Kind::Tensor) FUZZ_CHECK(v.integer >= 0 && static_cast<size_t>(v.integer) < p.tensors.size());
    if (v.kind != Kind::Tuple && v.kind != Kind::List && v.kind != Kind::Dict) FUZZ_CHECK(v.items.empty());
  }
  for (const clap::pickle::StorageRef& s : p.storages) FUZZ_CHECK(s.numel >= 0);
  for (const clap::pickle::TensorRef& t : p.tensors) {
    FUZZ_CHECK(t.storage < p.storages.size());
    FUZZ_CHECK(t.shape.size() == t.stride.size());
    FUZZ_CHECK(t.shape.size() <= 32);
  }
  // The lookups the torch reader makes.
  const clap::pickle::Value& root = p.at(p.root);
  for (const char* key : {"state_dict", "model", "epoch"}) (void)p.get(root, key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  // Once with small limits (their refusals), once with the defaults.
  clap::pickle::Limits small;
  small.max_objects = 256;
  small.max_mark_depth = 8;
  for (const clap::pickle::Limits& limits : {small, clap::pickle::Limits{}}) {
    try {
      check(clap::pickle::read(bytes, "data.pkl", limits), limits);
    } catch (const clap::Error&) {
      // A clear refusal is the expected outcome for a damaged or hostile pickle.
    }
  }
  return 0;
}
