#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace clap {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  // Non-blocking: a FIFO at a model file's name (a derived name in a model folder or the hub
  // cache) is refused below instead of waiting for a writer forever.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  try {
    map(fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

void MappedFile::map(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(path_ + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(path_ + ": not a regular file");
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) throw Error(path_ + ": cannot memory-map: " + std::strerror(errno));
    data_ = static_cast<const uint8_t*>(p);
  }
}

MappedFile MappedFile::standard_input(uint64_t max_bytes, const std::string& what) {
  MappedFile out;
  out.path_ = "standard input";
  const auto too_large = [&] {
    return Error("standard input: larger than " + std::to_string(max_bytes >> 20) + " MB (" + what + "); is it the right input?");
  };
  struct stat st {};
  if (::fstat(STDIN_FILENO, &st) != 0) throw Error("standard input: cannot read (" + what + "): " + std::strerror(errno));
  if (::isatty(STDIN_FILENO) == 1)
    throw Error("standard input is a terminal (" + what + "): give a file, or send it in with `< FILE` or a pipe");
  // A regular file from its current offset is mapped in place (`< FILE`: the offset is 0).
  if (S_ISREG(st.st_mode) && ::lseek(STDIN_FILENO, 0, SEEK_CUR) == 0) {
    if (static_cast<uint64_t>(st.st_size) > max_bytes) throw too_large();
    out.map(STDIN_FILENO);
    return out;
  }
  const int fd = ::memfd_create("clapsearch-stdin", MFD_CLOEXEC);
  if (fd < 0) throw Error("standard input: cannot keep it (" + what + "): " + std::strerror(errno));
  try {
    char piece[1 << 16];
    uint64_t total = 0;
    for (;;) {
      const ssize_t n = ::read(STDIN_FILENO, piece, sizeof piece);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error("standard input: read error (" + what + "): " + std::strerror(errno));
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
      if (total > max_bytes) throw too_large();
      for (ssize_t done = 0; done < n;) {
        const ssize_t w = ::write(fd, piece + done, static_cast<size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) throw Error("standard input: cannot keep it (" + what + "): " + std::strerror(errno));
        done += w;
      }
    }
    out.map(fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return out;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)), data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::release(const void* p, size_t bytes) const {
  const auto begin = reinterpret_cast<uintptr_t>(p), end = begin + bytes;
  const auto map_begin = reinterpret_cast<uintptr_t>(data_), map_end = map_begin + size_;
  if (!data_ || begin < map_begin || end > map_end) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);  // advisory
}

}  // namespace clap
