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
  fd_ = fd;
}

namespace {
int64_t mtime_ns(const struct stat& st) { return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec; }
}  // namespace

void MappedFile::map(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(path_ + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(path_ + ": not a regular file");
  size_ = static_cast<size_t>(st.st_size);
  mtime_ns_ = mtime_ns(st);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) throw Error(path_ + ": cannot memory-map: " + std::strerror(errno));
    data_ = static_cast<const uint8_t*>(p);
  }
}

MappedFile MappedFile::standard_input(uint64_t max_bytes, const std::string& what) {
  struct stat st {};
  if (::fstat(STDIN_FILENO, &st) != 0) throw Error("standard input: cannot read (" + what + "): " + std::strerror(errno));
  if (::isatty(STDIN_FILENO) == 1)
    throw Error("standard input is a terminal (" + what + "): give a file, or send it in with `< FILE` or a pipe");
  return kept_in_memory(STDIN_FILENO, "standard input", max_bytes, what);
}

MappedFile MappedFile::read_into_memory(const std::string& path, uint64_t max_bytes, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  try {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw Error(path + ": cannot stat: " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file");
    MappedFile out = kept_in_memory(fd, path, max_bytes, what);
    ::close(fd);
    return out;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

// Not mapped in place even when `from` is a regular file: a file truncated or rewritten while its
// mapping is read kills the process (SIGBUS) or is read mixed; a copy is whatever was read.
MappedFile MappedFile::kept_in_memory(int from, const std::string& name, uint64_t max_bytes, const std::string& what) {
  MappedFile out;
  out.path_ = name;
  const auto too_large = [&] {
    return Error(name + ": larger than " + std::to_string(max_bytes >> 20) + " MB (" + what + "); is it the right input?");
  };
  const int fd = ::memfd_create("clapsearch-input", MFD_CLOEXEC);
  if (fd < 0) throw Error(name + ": cannot keep it (" + what + "): " + std::strerror(errno));
  try {
    char piece[1 << 16];
    uint64_t total = 0;
    for (;;) {
      const ssize_t n = ::read(from, piece, sizeof piece);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(name + ": read error (" + what + "): " + std::strerror(errno));
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
      if (total > max_bytes) throw too_large();
      for (ssize_t done = 0; done < n;) {
        const ssize_t w = ::write(fd, piece + done, static_cast<size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) throw Error(name + ": cannot keep it (" + what + "): " + std::strerror(errno));
        done += w;
      }
    }
    out.map(fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
  out.memory_fd_ = fd;  // release() frees the copy's pieces through it
  return out;
}

void MappedFile::reset() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
  if (memory_fd_ >= 0) ::close(memory_fd_);
  data_ = nullptr;
  size_ = 0;
  fd_ = memory_fd_ = -1;
}

MappedFile::~MappedFile() { reset(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      memory_fd_(std::exchange(other.memory_fd_, -1)),
      mtime_ns_(other.mtime_ns_),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    reset();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    memory_fd_ = std::exchange(other.memory_fd_, -1);
    mtime_ns_ = other.mtime_ns_;
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

bool MappedFile::changed() const {
  if (fd_ < 0) return false;  // standard input: read once, never mapped again
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return true;
  return static_cast<size_t>(st.st_size) != size_ || mtime_ns(st) != mtime_ns_;
}

void MappedFile::release(const void* p, size_t bytes) const {
  const auto begin = reinterpret_cast<uintptr_t>(p), end = begin + bytes;
  const auto map_begin = reinterpret_cast<uintptr_t>(data_), map_end = map_begin + size_;
  if (!data_ || begin < map_begin || end > map_end) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
  if (last <= first) return;
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);  // advisory
  // A copy in memory: its pages are the memory file's, which the unmapping above does not free.
  if (memory_fd_ >= 0) {
    [[maybe_unused]] const int advisory = ::fallocate(memory_fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                                      static_cast<off_t>(first - map_begin), static_cast<off_t>(last - first));
  }
}

}  // namespace clap
