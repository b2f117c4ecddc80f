// Helpers shared by the fuzz targets (fuzz/README.md): the input as a file for entry points
// that take a path, and a hard stop for broken invariants.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace clap::fuzz {

// `bytes` with the checksum its payload needs, for the files of clapsearch's own layout (a
// header length, uint32 LE, at `length_at`; the header; the payload; a trailer of `trailer`
// bytes starting with the 8-byte checksum `sum` gives over the payload), so a fuzz run reaches
// the checks behind the checksum. Empty when the bytes are too short to hold that layout.
using PayloadChecksum = uint64_t (*)(const void* payload, size_t n);
inline std::string with_matching_checksum(std::string bytes, size_t length_at, size_t trailer, PayloadChecksum sum) {
  if (bytes.size() < length_at + 4) return {};
  uint32_t header_len = 0;
  std::memcpy(&header_len, bytes.data() + length_at, 4);
  const size_t start = length_at + 4 + static_cast<size_t>(header_len);
  if (header_len > bytes.size() || bytes.size() < start + trailer) return {};
  const size_t payload = bytes.size() - start - trailer;
  const uint64_t value = sum(bytes.data() + start, payload);
  std::memcpy(bytes.data() + start + payload, &value, 8);
  return bytes;
}

// An in-memory file (memfd) reached through /proc/self/fd/N: rewritten for every input, so a
// target pays no disk I/O and leaves nothing behind. One per role (a target that needs two
// files holds two).
class MemFile {
 public:
  explicit MemFile(const char* name) : fd_(::memfd_create(name, MFD_CLOEXEC)) {
    if (fd_ < 0) die("memfd_create", std::strerror(errno));
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  // Replaces the file's contents; returns its path.
  const std::string& write(const void* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0) die("ftruncate", std::strerror(errno));
    const auto* p = static_cast<const char*>(data);
    for (size_t done = 0; done < size;) {
      const ssize_t n = ::pwrite(fd_, p + done, size - done, static_cast<off_t>(done));
      if (n <= 0) die("pwrite", std::strerror(errno));
      done += static_cast<size_t>(n);
    }
    return path_;
  }
  const std::string& write(const std::string& s) { return write(s.data(), s.size()); }
  const std::string& path() const { return path_; }

 private:
  [[noreturn]] static void die(const char* what, const char* why) {
    std::fprintf(stderr, "fuzz: %s: %s\n", what, why);
    std::abort();
  }
  int fd_;
  std::string path_;
};

// A broken invariant is a bug like a crash: report it and abort, so libFuzzer keeps the input.
#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "fuzz: invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

// Splits an input holding several files at the first occurrences of `separator` (a line no
// real file of the kind holds); missing parts are empty.
inline std::string take_part(std::string& rest, const std::string& separator) {
  const size_t at = rest.find(separator);
  if (at == std::string::npos) {
    std::string all = std::move(rest);
    rest.clear();
    return all;
  }
  std::string part = rest.substr(0, at);
  rest.erase(0, at + separator.size());
  return part;
}

}  // namespace clap::fuzz
