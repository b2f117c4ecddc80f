// The central directory of a zip archive held in memory (a memory-mapped file): entry names
// and where each entry's bytes lie. Only what reading a `torch.save` archive needs: stored
// (uncompressed) entries are handed out in place; compressed ones are listed, with their
// method, so the caller can refuse them by name. Zip64 records are understood (archives and
// entries over 4 GiB). Every offset and size is checked against the archive's bytes.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace clap {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;            // 0 = stored; anything else is compressed
  uint64_t size = 0;              // uncompressed size
  uint64_t compressed_size = 0;
  uint64_t data_offset = 0;       // of the entry's (possibly compressed) bytes in the archive
  uint32_t crc32 = 0;             // of the uncompressed bytes, as the directory records it
};

class ZipDirectory {
 public:
  // Parses the directory of `archive`; `what` names the file in messages. Throws clap::Error.
  ZipDirectory(std::span<const uint8_t> archive, const std::string& what);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;  // nullptr when absent
  // The bytes of a stored entry; throws naming the entry when it is compressed.
  std::span<const uint8_t> stored_bytes(const ZipEntry& entry) const;

  // True when `bytes` start like a zip archive (a local file header or an empty archive).
  static bool looks_like_zip(std::span<const uint8_t> bytes);

 private:
  std::span<const uint8_t> archive_;
  std::string what_;
  std::vector<ZipEntry> entries_;
  std::map<std::string, size_t> index_;
};

}  // namespace clap
