#include "core/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace clap {

int open_regular_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -1;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = S_ISREG(st.st_mode) ? errno : EINVAL;
    ::close(fd);
    errno = err;
    return -1;
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

FILE* fopen_regular(const std::string& path) {
  const int fd = open_regular_file(path);
  if (fd < 0) return nullptr;
  FILE* f = ::fdopen(fd, "rb");
  if (!f) {
    const int err = errno;
    ::close(fd);
    errno = err;
  }
  return f;
}

std::string read_file_head(const std::string& path, size_t bytes) {
  const int fd = open_regular_file(path);
  if (fd < 0) return "";
  std::string head(bytes, '\0');
  size_t n = 0;
  while (n < bytes) {
    const ssize_t got = ::read(fd, head.data() + n, bytes - n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    n += static_cast<size_t>(got);
  }
  ::close(fd);
  head.resize(n);
  return head;
}

bool is_regular_file_safely(const std::string& path) {
  const int fd = open_regular_file(path);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

std::string open_error(int err) {
  if (err == EINVAL) return "not a regular file";
  if (err == ELOOP) return kLinkLoop;
  return std::strerror(err);
}

bool is_link_loop(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) != 0 && errno == ELOOP;
}

std::string dangling_link_target(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return "";
  if (::stat(path.c_str(), &st) == 0 || errno != ENOENT) return "";  // reaches something, or a loop
  std::string target(4096, '\0');
  const ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
  if (n <= 0) return "";
  target.resize(static_cast<size_t>(n));
  return target;
}

}  // namespace clap
