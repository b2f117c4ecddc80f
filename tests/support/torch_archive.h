// Hand-built torch.save files for the checkpoint tests and the fuzz seeds: pickle bytes written
// opcode by opcode, and stored (uncompressed) zip archives in the layout torch.save writes
// (<name>/data.pkl, <name>/data/<key>, <name>/version; tensor data 64-byte aligned by padding the
// local header's extra field; data descriptors; zip64 end records). Nothing here uses Python.
#pragma once
#include "support/golden.h"  // read_file
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace clap::test {

// Pickle bytes, one opcode per call. Opcodes are the pickle module's (Lib/pickletools.py).
class PickleWriter {
 public:
  PickleWriter& proto(int version = 2);
  PickleWriter& op(uint8_t opcode);          // any single opcode byte, valid or not
  PickleWriter& raw(const std::string& bytes);
  PickleWriter& stop() { return op('.'); }
  PickleWriter& mark() { return op('('); }
  PickleWriter& none() { return op('N'); }
  PickleWriter& boolean(bool v) { return op(v ? 0x88 : 0x89); }
  PickleWriter& integer(int64_t v);  // BININT1 / BININT2 / BININT / LONG1, as pickle chooses
  PickleWriter& long1(const std::string& little_endian);  // LONG1 with these bytes
  PickleWriter& real(double v);      // BINFLOAT
  PickleWriter& text(const std::string& s);   // BINUNICODE
  PickleWriter& global(const std::string& module, const std::string& name);        // GLOBAL
  PickleWriter& stack_global(const std::string& module, const std::string& name);  // 2 x BINUNICODE, STACK_GLOBAL
  PickleWriter& put(uint32_t key);  // BINPUT / LONG_BINPUT
  PickleWriter& get(uint32_t key);  // BINGET / LONG_BINGET
  PickleWriter& empty_tuple() { return op(')'); }
  PickleWriter& empty_list() { return op(']'); }
  PickleWriter& empty_dict() { return op('}'); }
  PickleWriter& tuple() { return op('t'); }   // MARK ... TUPLE
  PickleWriter& tuple1() { return op(0x85); }
  PickleWriter& tuple2() { return op(0x86); }
  PickleWriter& tuple3() { return op(0x87); }
  PickleWriter& list() { return op('l'); }
  PickleWriter& dict() { return op('d'); }
  PickleWriter& append() { return op('a'); }
  PickleWriter& appends() { return op('e'); }
  PickleWriter& setitem() { return op('s'); }
  PickleWriter& setitems() { return op('u'); }
  PickleWriter& reduce() { return op('R'); }
  PickleWriter& binpersid() { return op('Q'); }
  PickleWriter& build() { return op('b'); }

  PickleWriter& int_tuple(const std::vector<int64_t>& values);  // MARK ints TUPLE
  // The persistent id torch.save writes for a storage, then BINPERSID:
  // ('storage', torch.<storage_class>, key, 'cpu', numel).
  PickleWriter& storage(const std::string& storage_class, const std::string& key, int64_t numel);
  // A tensor as torch.save writes it: torch._utils._rebuild_tensor_v2(storage, offset, size,
  // stride, False, OrderedDict()).
  PickleWriter& tensor(const std::string& storage_class, const std::string& key, int64_t storage_numel, int64_t offset,
                       const std::vector<int64_t>& shape, const std::vector<int64_t>& stride);

  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// One entry of a hand-built zip archive. `method` and `flags` are written as given (the data
// are always stored as they are); `zip64` writes its sizes and offset in a zip64 extra field.
struct ZipFileSpec {
  std::string name;
  std::string data;
  uint16_t method = 0;
  uint16_t flags = 0x0808;  // torch.save's: data descriptor follows, UTF-8 name
  bool zip64 = false;
};

// Where the parts of a written archive lie, for tests that damage one field.
struct ZipLayout {
  std::string bytes;
  std::vector<size_t> local_headers, central_records;  // per entry, in order
  size_t directory_offset = 0, directory_size = 0;
  size_t zip64_end = 0, zip64_locator = 0, end_record = 0;  // offsets (zip64 ones 0 when absent)
};

// A zip archive laid out as torch.save writes one; with zip64_end the zip64 end record and
// locator precede the classic end record (torch.save always writes them).
ZipLayout zip_archive(const std::vector<ZipFileSpec>& files, bool zip64_end = true);

// A torch.save archive: <name>/data.pkl, <name>/data/<key> for each storage, <name>/version.
std::string torch_archive(const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& storages,
                          const std::string& name = "archive");

// `bytes` written to `path`; returns the path.
std::string write_file(const std::string& path, const std::string& bytes);

// Little-endian field patches and raw value bytes.
void put_le(std::string& bytes, size_t offset, uint64_t value, int width);
uint64_t get_le(const std::string& bytes, size_t offset, int width);
template <class T>
std::string raw_values(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// An archive cut to its first `keep` bytes, followed by its own central directory and end
// records (offsets adjusted to where they now lie): a file truncated in its data whose
// directory still claims every entry.
std::string cut_keeping_directory(const std::string& archive, size_t keep);

}  // namespace clap::test
