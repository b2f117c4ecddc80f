#include "checkpoint/pickle.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "core/error.h"

namespace clap::pickle {
namespace {

struct StorageClass {
  const char* name;
  DType dtype;
};
constexpr StorageClass kStorageClasses[] = {
    {"FloatStorage", DType::F32}, {"HalfStorage", DType::F16},  {"BFloat16Storage", DType::BF16},
    {"DoubleStorage", DType::F64}, {"LongStorage", DType::I64}, {"IntStorage", DType::I32},
    {"ShortStorage", DType::I16},  {"CharStorage", DType::I8},  {"ByteStorage", DType::U8},
    {"BoolStorage", DType::BOOL},
};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "a bool";
    case Kind::Int: return "an int";
    case Kind::Float: return "a float";
    case Kind::String: return "a string";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "a tuple";
    case Kind::List: return "a list";
    case Kind::Dict: return "a dict";
    case Kind::Global: return "a class or function";
    case Kind::Storage: return "a storage";
    case Kind::Tensor: return "a tensor";
  }
  return "?";
}

// NumPy's limit; model weights have at most 5.
constexpr size_t kMaxDimensions = 32;

class Machine {
 public:
  Machine(std::span<const uint8_t> bytes, const std::string& what, const Limits& limits)
      : bytes_(bytes), what_(what), limits_(limits) {}

  Pickle run() {
    while (true) {
      const size_t op_at = op_at_ = pos_;
      const uint8_t op = byte();
      switch (op) {
        case 0x80: {  // PROTO
          const uint8_t version = byte();
          if (version > 5) fail(op_at, "pickle protocol " + std::to_string(version) + " is not one Python writes");
          break;
        }
        case 0x95: skip(8); break;  // FRAME (protocol 4): the frame's length, its content follows inline
        case '.': {                 // STOP
          if (stack_.size() != 1 || !marks_.empty()) fail(op_at, "STOP with " + std::to_string(stack_.size()) + " values on the stack");
          out_.root = stack_.back();
          return std::move(out_);
        }
        case '(':  // MARK
          if (marks_.size() >= limits_.max_mark_depth)
            fail(op_at, "more than " + std::to_string(limits_.max_mark_depth) + " nested MARKs (a checkpoint nests a few)");
          marks_.push_back(stack_.size());
          break;
        case '0': pop(op_at); break;            // POP
        case '1': pop_mark(op_at); break;       // POP_MARK
        case '2': push(top(op_at)); break;      // DUP
        case 'N': push(make(Kind::None)); break;
        case 0x88: push(make_int(Kind::Bool, 1)); break;  // NEWTRUE
        case 0x89: push(make_int(Kind::Bool, 0)); break;  // NEWFALSE
        case 'J': push(make_int(Kind::Int, static_cast<int32_t>(le(4)))); break;  // BININT
        case 'K': push(make_int(Kind::Int, static_cast<int64_t>(le(1)))); break;  // BININT1
        case 'M': push(make_int(Kind::Int, static_cast<int64_t>(le(2)))); break;  // BININT2
        case 0x8a: push(make_long(op_at, le(1))); break;                          // LONG1
        case 0x8b: push(make_long(op_at, le(4))); break;                          // LONG4
        case 'G': {  // BINFLOAT: big-endian double
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | byte();
          double v;
          std::memcpy(&v, &bits, 8);
          Value x;
          x.kind = Kind::Float;
          x.real = v;
          push(add(std::move(x)));
          break;
        }
        case 'X': push(make_text(Kind::String, le(4))); break;     // BINUNICODE
        case 0x8c: push(make_text(Kind::String, le(1))); break;    // SHORT_BINUNICODE
        case 0x8d: push(make_text(Kind::String, le(8))); break;    // BINUNICODE8
        case 'T': push(make_text(Kind::Bytes, le(4))); break;      // BINSTRING
        case 'U': push(make_text(Kind::Bytes, le(1))); break;      // SHORT_BINSTRING
        case 'B': push(make_text(Kind::Bytes, le(4))); break;      // BINBYTES
        case 'C': push(make_text(Kind::Bytes, le(1))); break;      // SHORT_BINBYTES
        case ')': push(make(Kind::Tuple)); break;                  // EMPTY_TUPLE
        case 't': push(make_sequence(Kind::Tuple, pop_mark(op_at))); break;  // TUPLE
        case 0x85: case 0x86: case 0x87: {                         // TUPLE1..3
          const size_t n = op - 0x84u;
          if (stack_.size() < floor() + n) fail(op_at, "TUPLE" + std::to_string(n) + " on a short stack");
          std::vector<uint32_t> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push(make_sequence(Kind::Tuple, std::move(items)));
          break;
        }
        case ']': push(make(Kind::List)); break;                               // EMPTY_LIST
        case 'l': push(make_sequence(Kind::List, pop_mark(op_at))); break;     // LIST
        case 'a': {                                                            // APPEND
          const uint32_t v = pop(op_at);
          append(op_at, top(op_at), {v});
          break;
        }
        case 'e': {  // APPENDS
          std::vector<uint32_t> items = pop_mark(op_at);
          append(op_at, top(op_at), items);
          break;
        }
        case '}': push(make(Kind::Dict)); break;  // EMPTY_DICT
        case 'd': {                               // DICT
          std::vector<uint32_t> items = pop_mark(op_at);
          const uint32_t dict = make(Kind::Dict);
          set_items(op_at, dict, items);
          push(dict);
          break;
        }
        case 's': {  // SETITEM
          const uint32_t v = pop(op_at), k = pop(op_at);
          set_items(op_at, top(op_at), {k, v});
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<uint32_t> items = pop_mark(op_at);
          set_items(op_at, top(op_at), items);
          break;
        }
        case 'c': {  // GLOBAL "module\nname\n"
          const std::string module = line(op_at), name = line(op_at);
          push(make_global(op_at, module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const uint32_t name = pop(op_at), module = pop(op_at);
          if (kind(name) != Kind::String || kind(module) != Kind::String) fail(op_at, "STACK_GLOBAL needs two strings");
          push(make_global(op_at, out_.values[module].text, out_.values[name].text));
          break;
        }
        case 'R': {  // REDUCE: callable(*args)
          const uint32_t args = pop(op_at), callable = pop(op_at);
          push(reduce(op_at, callable, args));
          break;
        }
        case 'b': {  // BUILD: obj.__setstate__(state); the state of a dict or tensor carries nothing we use
          pop(op_at);
          const Kind k = kind(top(op_at));
          if (k != Kind::Dict && k != Kind::Tensor) fail(op_at, std::string("BUILD on ") + kind_name(k));
          break;
        }
        case 'Q': push(persistent(op_at, pop(op_at))); break;  // BINPERSID
        case 'q': memo_put(le(1)); break;                       // BINPUT
        case 'r': memo_put(le(4)); break;                       // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;               // MEMOIZE
        case 'h': push(memo_get(op_at, le(1))); break;          // BINGET
        case 'j': push(memo_get(op_at, le(4))); break;          // LONG_BINGET
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(op_at, std::string("opcode ") + hex +
                          (op >= 0x20 && op < 0x7f ? std::string(" ('") + static_cast<char>(op) + "')" : std::string()) +
                          " is not one torch.save writes");
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& why) const {
    throw Error(what_ + ": refused pickle (byte " + std::to_string(at) + "): " + why);
  }

  uint8_t byte() {
    if (pos_ >= bytes_.size()) fail(pos_, "the pickle ends without STOP (truncated)");
    return bytes_[pos_++];
  }
  void skip(uint64_t n) {
    if (n > bytes_.size() - pos_) fail(pos_, "the pickle ends early (truncated)");
    pos_ += n;
  }
  uint64_t le(int width) {
    if (static_cast<size_t>(width) > bytes_.size() - pos_) fail(pos_, "the pickle ends early (truncated)");
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | bytes_[pos_ + i];
    pos_ += width;
    return v;
  }
  std::string line(size_t op_at) {
    const size_t start = pos_;
    while (pos_ < bytes_.size() && bytes_[pos_] != '\n') {
      if (pos_ - start > 256) fail(op_at, "a GLOBAL name longer than 256 bytes");
      ++pos_;
    }
    if (pos_ >= bytes_.size()) fail(op_at, "the pickle ends inside a GLOBAL name (truncated)");
    std::string s(reinterpret_cast<const char*>(bytes_.data() + start), pos_ - start);
    ++pos_;
    return s;
  }

  // Everything the reader keeps costs a share of Limits::max_objects: a value, a slot of a
  // tuple, list or dict, a tensor dimension, a memo entry. A slot or a memo entry costs the input
  // only a byte or two (DUP, BINGET, PUT), so counting values alone would leave them unbounded.
  void charge(size_t n) {
    if (n > limits_.max_objects - used_)
      fail(op_at_, "more than " + std::to_string(limits_.max_objects) +
                       " objects (values, their slots, tensor dimensions and memo entries; a checkpoint makes tens of thousands)");
    used_ += n;
  }
  uint32_t add(Value v) {
    charge(1);
    out_.values.push_back(std::move(v));
    return static_cast<uint32_t>(out_.values.size() - 1);
  }
  uint32_t make(Kind k) {
    Value v;
    v.kind = k;
    return add(std::move(v));
  }
  uint32_t make_int(Kind k, int64_t i) {
    Value v;
    v.kind = k;
    v.integer = i;
    return add(std::move(v));
  }
  uint32_t make_long(size_t op_at, uint64_t n) {
    if (n > 8) fail(op_at, "an integer of " + std::to_string(n) + " bytes (wider than 64 bits)");
    if (n > bytes_.size() - pos_) fail(pos_, "the pickle ends early (truncated)");
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(bytes_[pos_ + i]) << (8 * i);
    if (n > 0 && n < 8 && (bytes_[pos_ + n - 1] & 0x80)) v |= ~uint64_t(0) << (8 * n);  // sign-extend
    pos_ += n;
    return make_int(Kind::Int, static_cast<int64_t>(v));
  }
  uint32_t make_text(Kind k, uint64_t n) {
    if (n > bytes_.size() - pos_) fail(pos_, "a string of " + std::to_string(n) + " bytes runs past the end of the pickle");
    Value v;
    v.kind = k;
    v.text.assign(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return add(std::move(v));
  }
  uint32_t make_sequence(Kind k, std::vector<uint32_t> items) {
    charge(items.size());
    Value v;
    v.kind = k;
    v.items = std::move(items);
    return add(std::move(v));
  }

  uint32_t make_global(size_t op_at, const std::string& module, const std::string& name) {
    Value v;
    v.kind = Kind::Global;
    if (module == "collections" && name == "OrderedDict") {
      v.global = Global::OrderedDict;
    } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
      v.global = Global::RebuildTensor;
    } else if (module == "torch._utils" && name == "_rebuild_parameter") {
      v.global = Global::RebuildParameter;
    } else if (storage_dtype(module, name, &v.dtype)) {
      v.global = Global::StorageType;
    } else {
      fail(op_at, "global '" + module + "." + name +
                      "' is not allowed (a checkpoint may only use torch tensors and storages and "
                      "collections.OrderedDict; anything else could run code)");
    }
    return add(std::move(v));
  }

  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(uint32_t v) {
    // DUP and BINGET push without making a value: the stack has its own bound.
    if (stack_.size() >= limits_.max_objects)
      fail(op_at_, "more than " + std::to_string(limits_.max_objects) + " values on the stack");
    stack_.push_back(v);
  }
  uint32_t top(size_t op_at) const {
    if (stack_.size() <= floor()) fail(op_at, "an opcode needs a value but the stack is empty");
    return stack_.back();
  }
  uint32_t pop(size_t op_at) {
    const uint32_t v = top(op_at);
    stack_.pop_back();
    return v;
  }
  std::vector<uint32_t> pop_mark(size_t op_at) {
    if (marks_.empty()) fail(op_at, "an opcode needs a MARK but there is none");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<uint32_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Kind kind(uint32_t v) const { return out_.values[v].kind; }

  void append(size_t op_at, uint32_t list, const std::vector<uint32_t>& items) {
    if (kind(list) != Kind::List) fail(op_at, std::string("APPEND to ") + kind_name(kind(list)));
    charge(items.size());
    auto& dest = out_.values[list].items;
    dest.insert(dest.end(), items.begin(), items.end());
  }
  void set_items(size_t op_at, uint32_t dict, const std::vector<uint32_t>& items) {
    if (kind(dict) != Kind::Dict) fail(op_at, std::string("SETITEM on ") + kind_name(kind(dict)));
    if (items.size() % 2 != 0) fail(op_at, "SETITEMS with an odd number of values");
    charge(items.size());
    auto& dest = out_.values[dict].items;
    dest.insert(dest.end(), items.begin(), items.end());
  }

  void memo_put(uint64_t key) {
    if (stack_.empty()) fail(op_at_, "PUT with an empty stack");
    const auto [it, added] = memo_.try_emplace(key, stack_.back());
    if (added) {
      charge(1);
    } else {
      it->second = stack_.back();
    }
  }
  uint32_t memo_get(size_t op_at, uint64_t key) const {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail(op_at, "GET of memo " + std::to_string(key) + ", which was never PUT");
    return it->second;
  }

  int64_t int_arg(size_t op_at, uint32_t v, const char* what) const {
    if (kind(v) != Kind::Int) fail(op_at, std::string(what) + " is " + kind_name(kind(v)) + ", not an int");
    return out_.values[v].integer;
  }
  std::vector<int64_t> int_tuple(size_t op_at, uint32_t v, const char* what) const {
    if (kind(v) != Kind::Tuple) fail(op_at, std::string(what) + " is " + kind_name(kind(v)) + ", not a tuple");
    std::vector<int64_t> out;
    out.reserve(out_.values[v].items.size());
    for (uint32_t item : out_.values[v].items) out.push_back(int_arg(op_at, item, what));
    return out;
  }

  // ('storage', <storage type>, key, location, numel) -> a storage of the archive.
  uint32_t persistent(size_t op_at, uint32_t pid) {
    const Value& t = out_.values[pid];
    if (t.kind != Kind::Tuple || t.items.size() != 5 || kind(t.items[0]) != Kind::String ||
        out_.values[t.items[0]].text != "storage")
      fail(op_at, "a persistent id that is not ('storage', type, key, location, size)");
    const Value& type = out_.values[t.items[1]];
    if (type.kind != Kind::Global || type.global != Global::StorageType) fail(op_at, "a storage whose type is not a torch storage class");
    if (kind(t.items[2]) != Kind::String) fail(op_at, "a storage whose key is not a string");
    StorageRef s;
    s.dtype = type.dtype;
    s.key = out_.values[t.items[2]].text;
    s.numel = int_arg(op_at, t.items[4], "a storage's size");
    if (s.numel < 0) fail(op_at, "storage '" + s.key + "' has a negative size");
    out_.storages.push_back(std::move(s));
    Value v;
    v.kind = Kind::Storage;
    v.integer = static_cast<int64_t>(out_.storages.size() - 1);
    return add(std::move(v));
  }

  uint32_t reduce(size_t op_at, uint32_t callable, uint32_t args) {
    const Value& f = out_.values[callable];
    if (f.kind != Kind::Global) fail(op_at, std::string("REDUCE calls ") + kind_name(f.kind));
    if (kind(args) != Kind::Tuple) fail(op_at, "REDUCE arguments are not a tuple");
    // Only the first four arguments are used: copying the whole tuple made a REDUCE of a huge
    // tuple, repeated through the memo, cost its size every time (quadratic in the input).
    const std::vector<uint32_t>& items = out_.values[args].items;
    const size_t argc = items.size();
    uint32_t a[4] = {};
    std::copy_n(items.begin(), std::min<size_t>(argc, 4), a);
    switch (f.global) {
      case Global::OrderedDict:
        if (argc != 0) fail(op_at, "OrderedDict called with arguments");
        return make(Kind::Dict);
      case Global::RebuildParameter:  // (tensor, requires_grad, backward_hooks)
        if (argc == 0 || kind(a[0]) != Kind::Tensor) fail(op_at, "_rebuild_parameter without a tensor");
        return a[0];
      case Global::RebuildTensor: {  // (storage, offset, size, stride, requires_grad, hooks[, metadata])
        if (argc < 4) fail(op_at, "_rebuild_tensor_v2 with " + std::to_string(argc) + " arguments");
        if (kind(a[0]) != Kind::Storage) fail(op_at, "_rebuild_tensor_v2 of something that is not a storage");
        TensorRef t;
        t.storage = static_cast<uint32_t>(out_.values[a[0]].integer);
        t.offset = int_arg(op_at, a[1], "a tensor's storage offset");
        // The size tuple is copied per tensor: a long one (cheap to write with DUP, reusable via
        // the memo) would cost its length again at every REDUCE.
        for (uint32_t shape : {a[2], a[3]})
          if (kind(shape) == Kind::Tuple && out_.values[shape].items.size() > kMaxDimensions)
            fail(op_at, "a tensor of " + std::to_string(out_.values[shape].items.size()) + " dimensions (at most " +
                            std::to_string(kMaxDimensions) + ")");
        t.shape = int_tuple(op_at, a[2], "a tensor's size");
        t.stride = int_tuple(op_at, a[3], "a tensor's stride");
        if (t.shape.size() != t.stride.size()) fail(op_at, "a tensor whose size and stride differ in length");
        charge(2 * t.shape.size());
        out_.tensors.push_back(std::move(t));
        Value v;
        v.kind = Kind::Tensor;
        v.integer = static_cast<int64_t>(out_.tensors.size() - 1);
        return add(std::move(v));
      }
      case Global::StorageType: break;
    }
    fail(op_at, "a storage class is not callable here");
  }

  std::span<const uint8_t> bytes_;
  const std::string& what_;
  Limits limits_;
  size_t pos_ = 0;
  size_t op_at_ = 0;  // where the current opcode starts, for messages
  size_t used_ = 0;   // of limits_.max_objects
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, uint32_t> memo_;
  Pickle out_;
};

}  // namespace

bool storage_dtype(const std::string& module, const std::string& name, DType* dtype) {
  if (module != "torch") return false;
  for (const auto& s : kStorageClasses)
    if (name == s.name) {
      *dtype = s.dtype;
      return true;
    }
  return false;
}

const Value* Pickle::get(const Value& dict, const std::string& key) const {
  if (dict.kind != Kind::Dict) return nullptr;
  const Value* found = nullptr;  // the last assignment wins, as in Python
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    const Value& k = values[dict.items[i]];
    if (k.kind == Kind::String && k.text == key) found = &values[dict.items[i + 1]];
  }
  return found;
}

Pickle read(std::span<const uint8_t> bytes, const std::string& what, const Limits& limits) {
  return Machine(bytes, what, limits).run();
}

}  // namespace clap::pickle
