#include "checkpoint/zip_directory.h"

#include <cstring>

#include "core/error.h"

namespace clap {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint16_t kZip64ExtraId = 0x0001;

// Little-endian reads that never leave [0, bytes.size()): a short read is a damaged archive.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, const std::string& what) : bytes_(bytes), what_(what) {}

  [[noreturn]] void fail(const std::string& why) const { throw Error(what_ + ": damaged zip archive: " + why); }

  bool fits(uint64_t offset, uint64_t length) const { return offset <= bytes_.size() && length <= bytes_.size() - offset; }
  void need(uint64_t offset, uint64_t length, const char* part) const {
    if (!fits(offset, length)) fail(std::string(part) + " lies outside the file");
  }
  uint64_t le(uint64_t offset, int width) const {
    need(offset, static_cast<uint64_t>(width), "a record");
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | bytes_[offset + i];
    return v;
  }
  uint16_t u16(uint64_t offset) const { return static_cast<uint16_t>(le(offset, 2)); }
  uint32_t u32(uint64_t offset) const { return static_cast<uint32_t>(le(offset, 4)); }
  uint64_t u64(uint64_t offset) const { return le(offset, 8); }
  std::string text(uint64_t offset, uint64_t length) const {
    need(offset, length, "a file name");
    return std::string(reinterpret_cast<const char*>(bytes_.data() + offset), length);
  }
  size_t size() const { return bytes_.size(); }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& what_;
};

struct Directory {
  uint64_t entries = 0, size = 0, offset = 0;
};

// The end-of-central-directory record is the last 22 bytes plus a comment of up to 64 KiB.
Directory find_directory(const Reader& r) {
  if (r.size() < 22) r.fail("shorter than the smallest zip archive (22 bytes)");
  const uint64_t lowest = r.size() >= 22 + 0xffff ? r.size() - 22 - 0xffff : 0;
  for (uint64_t at = r.size() - 22;; --at) {
    if (r.u32(at) == kEndOfDirectory && at + 22 + r.u16(at + 20) == r.size()) {
      Directory d{r.u16(at + 10), r.u32(at + 12), r.u32(at + 16)};
      // Zip64: the classic record holds 0xffff/0xffffffff and a locator precedes it.
      if (at >= 20 && r.u32(at - 20) == kZip64Locator) {
        const uint64_t record = r.u64(at - 20 + 8);
        if (r.u32(record) != kZip64EndOfDirectory) r.fail("the zip64 directory locator points at no zip64 record");
        d = Directory{r.u64(record + 32), r.u64(record + 40), r.u64(record + 48)};
      }
      return d;
    }
    if (at == lowest) break;
  }
  r.fail("no end-of-central-directory record (truncated or not a zip file)");
}

}  // namespace

bool ZipDirectory::looks_like_zip(std::span<const uint8_t> bytes) {
  if (bytes.size() < 4) return false;
  uint32_t magic = 0;
  std::memcpy(&magic, bytes.data(), 4);
  // A local header first (any archive with entries), an empty archive, or one whose start was
  // damaged down to the directory: all get the zip reader's messages.
  return magic == kLocalHeader || magic == kEndOfDirectory || magic == kCentralHeader;
}

ZipDirectory::ZipDirectory(std::span<const uint8_t> archive, const std::string& what) : archive_(archive), what_(what) {
  const Reader r(archive, what_);
  const Directory dir = find_directory(r);
  r.need(dir.offset, dir.size, "the central directory");
  // Each directory record takes at least 46 bytes: a count beyond that is a lie.
  if (dir.entries > dir.size / 46) r.fail("the directory claims " + std::to_string(dir.entries) + " entries in " +
                                          std::to_string(dir.size) + " bytes");
  entries_.reserve(dir.entries);
  uint64_t at = dir.offset;
  for (uint64_t i = 0; i < dir.entries; ++i) {
    if (r.u32(at) != kCentralHeader) r.fail("directory record " + std::to_string(i) + " has a wrong signature");
    ZipEntry e;
    e.method = r.u16(at + 10);
    e.crc32 = r.u32(at + 16);
    const uint16_t flags = r.u16(at + 8);
    e.compressed_size = r.u32(at + 20);
    e.size = r.u32(at + 24);
    const uint16_t name_length = r.u16(at + 28), extra_length = r.u16(at + 30), comment_length = r.u16(at + 32);
    uint64_t local = r.u32(at + 42);
    e.name = r.text(at + 46, name_length);
    if (flags & 1) r.fail("entry '" + e.name + "' is encrypted");
    // Zip64 extra field: the 64-bit values, in this order, of the fields that hold 0xffffffff.
    for (uint64_t x = at + 46 + name_length, end = x + extra_length; x + 4 <= end;) {
      const uint16_t id = r.u16(x), length = r.u16(x + 2);
      if (x + 4 + length > end) r.fail("entry '" + e.name + "' has a damaged extra field");
      if (id == kZip64ExtraId) {
        uint64_t y = x + 4;
        auto take = [&](uint64_t& field) {
          if (y + 8 > x + 4 + length) r.fail("entry '" + e.name + "' has a short zip64 field");
          field = r.u64(y);
          y += 8;
        };
        if (e.size == 0xffffffffu) take(e.size);
        if (e.compressed_size == 0xffffffffu) take(e.compressed_size);
        if (local == 0xffffffffu) take(local);
      }
      x += 4 + length;
    }
    at += 46 + name_length + extra_length + comment_length;
    // The data follow the local header, whose name and extra lengths may differ from the
    // directory's (torch.save pads the local extra field to align tensor data).
    if (r.u32(local) != kLocalHeader) r.fail("entry '" + e.name + "' points at no local file header");
    e.data_offset = local + 30 + r.u16(local + 26) + r.u16(local + 28);
    if (!r.fits(e.data_offset, e.compressed_size)) r.fail("entry '" + e.name + "' lies outside the file");
    if (e.method == 0 && e.size != e.compressed_size)
      r.fail("stored entry '" + e.name + "' has different sizes (" + std::to_string(e.size) + " and " +
             std::to_string(e.compressed_size) + ")");
    if (!index_.emplace(e.name, entries_.size()).second) r.fail("entry '" + e.name + "' appears twice");
    entries_.push_back(std::move(e));
  }
}

const ZipEntry* ZipDirectory::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

std::span<const uint8_t> ZipDirectory::stored_bytes(const ZipEntry& entry) const {
  if (entry.method != 0)
    throw Error(what_ + ": entry '" + entry.name + "' is compressed (zip method " + std::to_string(entry.method) +
                "); torch.save stores every entry uncompressed, so this archive was re-packed by another tool");
  return archive_.subspan(entry.data_offset, entry.size);
}

}  // namespace clap
