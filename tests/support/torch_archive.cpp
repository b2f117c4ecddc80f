#include "support/torch_archive.h"

#include <zlib.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace clap::test {

// ---- pickle ----

PickleWriter& PickleWriter::proto(int version) {
  bytes_ += '\x80';
  bytes_ += static_cast<char>(version);
  return *this;
}

PickleWriter& PickleWriter::op(uint8_t opcode) {
  bytes_ += static_cast<char>(opcode);
  return *this;
}

PickleWriter& PickleWriter::raw(const std::string& bytes) {
  bytes_ += bytes;
  return *this;
}

PickleWriter& PickleWriter::integer(int64_t v) {
  if (v >= 0 && v < 256) {
    op('K');
    bytes_ += static_cast<char>(v);
  } else if (v >= 0 && v < 65536) {
    op('M');
    put_le(bytes_, bytes_.size(), static_cast<uint64_t>(v), 2);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    op('J');
    put_le(bytes_, bytes_.size(), static_cast<uint64_t>(v), 4);
  } else {  // LONG1: the shortest two's-complement little-endian bytes
    std::string le;
    int64_t x = v;
    while (true) {
      le += static_cast<char>(x & 0xff);
      const bool sign = (x & 0x80) != 0;
      x >>= 8;  // arithmetic
      if ((x == 0 && !sign) || (x == -1 && sign)) break;
    }
    long1(le);
  }
  return *this;
}

PickleWriter& PickleWriter::long1(const std::string& little_endian) {
  op(0x8a);
  bytes_ += static_cast<char>(little_endian.size());
  bytes_ += little_endian;
  return *this;
}

PickleWriter& PickleWriter::real(double v) {
  op('G');
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  for (int i = 7; i >= 0; --i) bytes_ += static_cast<char>((bits >> (8 * i)) & 0xff);  // big-endian
  return *this;
}

PickleWriter& PickleWriter::text(const std::string& s) {
  op('X');
  put_le(bytes_, bytes_.size(), s.size(), 4);
  bytes_ += s;
  return *this;
}

PickleWriter& PickleWriter::global(const std::string& module, const std::string& name) {
  op('c');
  bytes_ += module + "\n" + name + "\n";
  return *this;
}

PickleWriter& PickleWriter::stack_global(const std::string& module, const std::string& name) {
  text(module);
  text(name);
  return op(0x93);
}

PickleWriter& PickleWriter::put(uint32_t key) {
  if (key < 256) {
    op('q');
    bytes_ += static_cast<char>(key);
  } else {
    op('r');
    put_le(bytes_, bytes_.size(), key, 4);
  }
  return *this;
}

PickleWriter& PickleWriter::get(uint32_t key) {
  if (key < 256) {
    op('h');
    bytes_ += static_cast<char>(key);
  } else {
    op('j');
    put_le(bytes_, bytes_.size(), key, 4);
  }
  return *this;
}

PickleWriter& PickleWriter::int_tuple(const std::vector<int64_t>& values) {
  mark();
  for (int64_t v : values) integer(v);
  return tuple();
}

PickleWriter& PickleWriter::storage(const std::string& storage_class, const std::string& key, int64_t numel) {
  mark().text("storage").global("torch", storage_class).text(key).text("cpu").integer(numel).tuple();
  return binpersid();
}

PickleWriter& PickleWriter::tensor(const std::string& storage_class, const std::string& key, int64_t storage_numel,
                                   int64_t offset, const std::vector<int64_t>& shape, const std::vector<int64_t>& stride) {
  global("torch._utils", "_rebuild_tensor_v2").mark();
  storage(storage_class, key, storage_numel).integer(offset).int_tuple(shape).int_tuple(stride);
  boolean(false).global("collections", "OrderedDict").empty_tuple().reduce();
  return tuple().reduce();
}

// ---- zip ----

void put_le(std::string& bytes, size_t offset, uint64_t value, int width) {
  if (width < 1 || width > 8) throw std::invalid_argument("put_le: width must be 1 to 8");
  if (bytes.size() < offset + static_cast<size_t>(width)) bytes.resize(offset + static_cast<size_t>(width));
  for (int i = 0; i < width; ++i) bytes[offset + static_cast<size_t>(i)] = static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t get_le(const std::string& bytes, size_t offset, int width) {
  if (offset + static_cast<size_t>(width) > bytes.size()) throw std::out_of_range("get_le past the end");
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(bytes[offset + static_cast<size_t>(i)]);
  return v;
}

namespace {

void append_le(std::string& bytes, uint64_t value, int width) { put_le(bytes, bytes.size(), value, width); }

uint32_t crc_of(const std::string& data) {
  return static_cast<uint32_t>(::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data.data()),
                                       static_cast<uInt>(data.size())));
}

}  // namespace

ZipLayout zip_archive(const std::vector<ZipFileSpec>& files, bool zip64_end) {
  ZipLayout z;
  std::string& out = z.bytes;
  for (const ZipFileSpec& f : files) {
    const size_t local = out.size();
    z.local_headers.push_back(local);
    // torch.save pads the local extra field ("FB" + Z's) so the data start on a 64-byte boundary.
    const size_t header_end = local + 30 + f.name.size() + 4;
    const size_t pad = (64 - header_end % 64) % 64;
    append_le(out, 0x04034b50, 4);
    append_le(out, 45, 2);  // version needed
    append_le(out, f.flags, 2);
    append_le(out, f.method, 2);
    append_le(out, 0, 4);   // time, date
    append_le(out, 0, 4);  // crc, sizes: in the data descriptor (flag bit 3)
    append_le(out, 0, 4);
    append_le(out, 0, 4);
    append_le(out, f.name.size(), 2);
    append_le(out, 4 + pad, 2);
    out += f.name;
    out += "FB";
    append_le(out, pad, 2);
    out += std::string(pad, 'Z');
    out += f.data;
    append_le(out, 0x08074b50, 4);  // data descriptor
    append_le(out, crc_of(f.data), 4);
    append_le(out, f.data.size(), 4);
    append_le(out, f.data.size(), 4);
  }
  z.directory_offset = out.size();
  for (size_t i = 0; i < files.size(); ++i) {
    const ZipFileSpec& f = files[i];
    z.central_records.push_back(out.size());
    std::string extra;
    if (f.zip64) {  // uncompressed size, compressed size, local header offset
      append_le(extra, 0x0001, 2);
      append_le(extra, 24, 2);
      append_le(extra, f.data.size(), 8);
      append_le(extra, f.data.size(), 8);
      append_le(extra, z.local_headers[i], 8);
    }
    const uint64_t small_size = f.zip64 ? 0xffffffffu : f.data.size();
    const uint64_t small_offset = f.zip64 ? 0xffffffffu : z.local_headers[i];
    append_le(out, 0x02014b50, 4);
    append_le(out, 0x031e, 2);  // made by
    append_le(out, 45, 2);      // version needed
    append_le(out, f.flags, 2);
    append_le(out, f.method, 2);
    append_le(out, 0, 4);  // time, date
    append_le(out, crc_of(f.data), 4);
    append_le(out, small_size, 4);
    append_le(out, small_size, 4);
    append_le(out, f.name.size(), 2);
    append_le(out, extra.size(), 2);
    append_le(out, 0, 2);  // comment
    append_le(out, 0, 2);  // disk
    append_le(out, 0, 2);  // internal attributes
    append_le(out, 0, 4);  // external attributes
    append_le(out, small_offset, 4);
    out += f.name;
    out += extra;
  }
  z.directory_size = out.size() - z.directory_offset;
  if (zip64_end) {
    z.zip64_end = out.size();
    append_le(out, 0x06064b50, 4);
    append_le(out, 44, 8);      // size of the rest of the record
    append_le(out, 0x031e, 2);  // made by
    append_le(out, 45, 2);      // version needed
    append_le(out, 0, 4);       // this disk
    append_le(out, 0, 4);       // the directory's disk
    append_le(out, files.size(), 8);
    append_le(out, files.size(), 8);
    append_le(out, z.directory_size, 8);
    append_le(out, z.directory_offset, 8);
    z.zip64_locator = out.size();
    append_le(out, 0x07064b50, 4);
    append_le(out, 0, 4);
    append_le(out, z.zip64_end, 8);
    append_le(out, 1, 4);  // disks
  }
  z.end_record = out.size();
  append_le(out, 0x06054b50, 4);
  append_le(out, 0, 4);  // disks
  append_le(out, files.size(), 2);
  append_le(out, files.size(), 2);
  append_le(out, z.directory_size, 4);
  append_le(out, z.directory_offset, 4);
  append_le(out, 0, 2);  // comment
  return z;
}

std::string torch_archive(const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& storages,
                          const std::string& name) {
  std::vector<ZipFileSpec> files;
  files.push_back({name + "/data.pkl", pickle});
  for (const auto& [key, data] : storages) files.push_back({name + "/data/" + key, data});
  files.push_back({name + "/version", "3\n"});
  return zip_archive(files).bytes;
}

std::string write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
  return path;
}

std::string cut_keeping_directory(const std::string& archive, size_t keep) {
  // The end record is the last 22 bytes (no comment), a zip64 locator and record may precede it.
  const size_t end = archive.size() - 22;
  if (get_le(archive, end, 4) != 0x06054b50) throw std::runtime_error("cut_keeping_directory: no end record");
  size_t zip64_end = 0, dir_offset = get_le(archive, end + 16, 4), dir_size = get_le(archive, end + 12, 4);
  const bool zip64 = end >= 20 && get_le(archive, end - 20, 4) == 0x07064b50;
  if (zip64) {
    zip64_end = get_le(archive, end - 20 + 8, 8);
    dir_size = get_le(archive, zip64_end + 40, 8);
    dir_offset = get_le(archive, zip64_end + 48, 8);
  }
  std::string out = archive.substr(0, keep);
  const size_t new_dir = out.size();
  out += archive.substr(dir_offset, dir_size);
  if (zip64) {
    const size_t new_zip64_end = out.size();
    std::string record = archive.substr(zip64_end, 56);
    put_le(record, 48, new_dir, 8);
    out += record;
    std::string locator = archive.substr(end - 20, 20);
    put_le(locator, 8, new_zip64_end, 8);
    out += locator;
  }
  std::string record = archive.substr(end, 22);
  put_le(record, 16, new_dir, 4);
  out += record;
  return out;
}

}  // namespace clap::test
