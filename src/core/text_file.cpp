#include "core/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/regular_file.h"

namespace clap {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string size_text(uint64_t bytes) {
  char limit[32];
  if (bytes >= (1u << 20)) std::snprintf(limit, sizeof limit, "%.0f MB", static_cast<double>(bytes) / (1 << 20));
  else std::snprintf(limit, sizeof limit, "%llu bytes", static_cast<unsigned long long>(bytes));
  return limit;
}

}  // namespace

std::string read_text_file(const std::string& given, const std::string& what, uint64_t max_bytes, TextSource source) {
  // "-" is standard input where a stream may be read (a list the user names), as Unix tools take it.
  const bool standard_input = given == "-" && source == TextSource::FileOrStream;
  const std::string path = standard_input ? "standard input" : given;
  // Non-blocking open: a FIFO does not wait for a writer here. A stream the user named is read
  // blocking afterwards, as a pipe is.
  Fd f;
  const int flags = O_RDONLY | O_CLOEXEC | (source == TextSource::RegularFile ? O_NONBLOCK : 0);
  f.fd = standard_input ? ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0) : ::open(path.c_str(), flags);
  if (f.fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) throw Error(path + ": no such file (" + what + ")");
    throw Error(path + ": cannot read (" + what + "): " + open_error(err));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw Error(path + ": cannot read (" + what + "): " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a folder (" + what + ")");
  if (!S_ISREG(st.st_mode)) {
    if (source == TextSource::RegularFile)
      throw Error(path + ": not a regular file (a FIFO, socket or device?) (" + what + ")");
  } else {
    // A regular file's size is known: one over the bound is refused before reading it (a 2 GB
    // bound was read whole before the refusal; hostile pass 9, R9C-3).
    if (static_cast<uint64_t>(st.st_size) > max_bytes)
      throw Error(path + ": larger than " + size_text(max_bytes) + " (" + what + "); is it the right file?");
    if (source == TextSource::RegularFile) {
      const int fl = ::fcntl(f.fd, F_GETFL);
      if (fl >= 0) ::fcntl(f.fd, F_SETFL, fl & ~O_NONBLOCK);
    }
  }
  const bool stream = !S_ISREG(st.st_mode);
  std::string text;
  char piece[1 << 16];
  for (;;) {
    const ssize_t n = ::read(f.fd, piece, sizeof piece);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(path + ": read error (" + what + "): " + std::strerror(errno));
    }
    if (n == 0) break;
    // Text holds no NUL byte. A stream is refused at its first one: `--captions-csv /dev/zero`
    // read 2 GB of zeros (8 s, 2.1 GB of memory) before the size bound refused it (R9C-3). A
    // regular file is read whole, so that its reader can name the line (the settings file does).
    if (stream)
      if (const void* nul = std::memchr(piece, '\0', static_cast<size_t>(n)))
        throw Error(path + ": not text (a NUL byte at byte " +
                    std::to_string(text.size() + static_cast<size_t>(static_cast<const char*>(nul) - piece)) + ") (" +
                    what + "); is it the right file?");
    if (text.size() + static_cast<uint64_t>(n) > max_bytes)
      throw Error(path + ": larger than " + size_text(max_bytes) + " (" + what + "); is it the right file?");
    text.append(piece, static_cast<size_t>(n));
  }
  return text;
}

}  // namespace clap
