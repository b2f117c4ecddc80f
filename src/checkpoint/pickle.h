// A pickle reader for exactly what `torch.save` writes (protocol 2, the opcodes a state dict and
// an optimizer state use), with no way to run code: the only globals it accepts are
// collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter and torch's
// typed storage classes, and "calling" one of them only records a value. Any other global
// (os.system, builtins.eval, ...) or opcode is refused with a message naming it.
//
// Objects live in one arena and refer to each other by index, so shared and even recursive
// structures (a list that contains itself) cost nothing and are never walked recursively. What
// a pickle can make the reader allocate is bounded by explicit limits: Limits::max_objects counts
// everything kept (values, the slots of tuples, lists and dicts, tensor dimensions, memo
// entries; a slot costs the input one byte, DUP or BINGET, so counting values alone would not
// bound them), and also bounds the stack; max_mark_depth bounds the MARKs. A tensor has at most
// 32 dimensions.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "checkpoint/tensor_view.h"

namespace clap::pickle {

enum class Kind : uint8_t { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Storage, Tensor };

// The globals a checkpoint may name.
enum class Global : uint8_t { OrderedDict, RebuildTensor, RebuildParameter, StorageType };

struct Value {
  Kind kind = Kind::None;
  int64_t integer = 0;    // Int, Bool; Storage/Tensor: index into storages/tensors
  double real = 0;        // Float
  std::string text;       // String, Bytes
  std::vector<uint32_t> items;  // Tuple, List; Dict: key, value, key, value, ...
  Global global = Global::OrderedDict;  // Global
  DType dtype = DType::F32;             // Global (a storage type)
};

// A storage named by the pickle's persistent id ('storage', type, key, location, numel): the
// archive entry <archive>/data/<key> holds its bytes.
struct StorageRef {
  DType dtype = DType::F32;
  std::string key;
  int64_t numel = 0;
};

// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): a view of a storage.
struct TensorRef {
  uint32_t storage = 0;  // index into Pickle::storages
  int64_t offset = 0;    // in elements
  std::vector<int64_t> shape, stride;
};

struct Limits {
  // The golden LAION training checkpoint (with optimizer state) needs 22 k; at the limit the
  // reader peaks near 200 MB (2 M values of 88 bytes).
  size_t max_objects = size_t(1) << 21;
  size_t max_mark_depth = 4096;  // a state dict nests a few levels
};

struct Pickle {
  std::vector<Value> values;
  std::vector<StorageRef> storages;
  std::vector<TensorRef> tensors;
  uint32_t root = 0;

  const Value& at(uint32_t index) const { return values[index]; }
  // A Dict's value for a string key (nullptr when absent or not a Dict).
  const Value* get(const Value& dict, const std::string& key) const;
};

// Runs the pickle; `what` names it in messages. Throws clap::Error.
Pickle read(std::span<const uint8_t> bytes, const std::string& what, const Limits& limits = {});

// "torch.FloatStorage" -> F32 etc.; false for any other name.
bool storage_dtype(const std::string& module, const std::string& name, DType* dtype);

}  // namespace clap::pickle
