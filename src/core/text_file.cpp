#include "core/text_file.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/regular_file.h"
#include "core/secret_file.h"

// read_secret_line (core/secret_file.h) is here too: it opens and names files as read_text_file does.
namespace clap {

namespace {

struct Fd {
  int fd = -1;
  Fd() = default;
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// `path` ("standard input": a copy of that descriptor) opened with `flags` and fstat'ed into `st`;
// clap::Error naming it and its role (`what`) when it is missing, unreadable or a folder.
Fd open_named(const std::string& path, bool standard_input, int flags, const std::string& what, struct stat& st) {
  Fd f;
  f.fd = standard_input ? ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0) : ::open(path.c_str(), flags);
  if (f.fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) throw Error(path + ": no such file (" + what + ")");
    throw Error(path + ": cannot read (" + what + "): " + open_error(err));
  }
  if (::fstat(f.fd, &st) != 0) throw Error(path + ": cannot read (" + what + "): " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a folder (" + what + ")");
  return f;
}

std::string size_text(uint64_t bytes) {
  char limit[32];
  if (bytes >= (1u << 20)) std::snprintf(limit, sizeof limit, "%.0f MB", static_cast<double>(bytes) / (1 << 20));
  else std::snprintf(limit, sizeof limit, "%llu bytes", static_cast<unsigned long long>(bytes));
  return limit;
}

std::string seconds_text(std::chrono::milliseconds d) {
  const auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

}  // namespace

std::string read_text_file(const std::string& given, const std::string& what, uint64_t max_bytes, TextSource source) {
  // "-" is standard input where a stream may be read (a list the user names), as Unix tools take it.
  const bool standard_input = given == "-" && source == TextSource::FileOrStream;
  const std::string path = standard_input ? "standard input" : given;
  // Non-blocking open: a FIFO does not wait for a writer here. A stream the user named is read
  // blocking afterwards, as a pipe is.
  const int flags = O_RDONLY | O_CLOEXEC | (source == TextSource::RegularFile ? O_NONBLOCK : 0);
  struct stat st {};
  const Fd f = open_named(path, standard_input, flags, what, st);
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

std::string read_secret_line(const std::string& given, const std::string& what, uint64_t max_bytes,
                             std::chrono::milliseconds deadline) {
  const bool standard_input = given == "-";
  const std::string path = standard_input ? "standard input" : given;
  // Non-blocking: opening a FIFO does not wait for a writer (the deadline below bounds that wait).
  struct stat st {};
  const Fd f = open_named(path, standard_input, O_RDONLY | O_CLOEXEC | O_NONBLOCK, what, st);
  const bool pipe = S_ISFIFO(st.st_mode);
  // Standard input may be a terminal (a person typing) or anything the shell redirected.
  if (!standard_input && !pipe && !S_ISREG(st.st_mode))
    throw Error(path + ": " + (S_ISSOCK(st.st_mode) ? "a socket" : "a device") + ", not a file or a pipe (" + what +
                "); give a file, a pipe such as <(pass show NAME), or - for standard input");
  const bool wait_forever = standard_input && ::isatty(f.fd) == 1;
  // A FIFO in the file system may get its writer later (`mkfifo p; writer > p &`): its end before
  // one came is no end. An anonymous pipe (/dev/fd/N of a process substitution) gets none: its end
  // is the end (`<(pass show x)` whose command failed is an empty file at once, not a wait).
  struct statfs sf {};
  const bool named_fifo = pipe && !standard_input && ::fstatfs(f.fd, &sf) == 0 && sf.f_type != PIPEFS_MAGIC;
  if (!standard_input) {
    const int fl = ::fcntl(f.fd, F_GETFL);
    if (fl >= 0 && !pipe) ::fcntl(f.fd, F_SETFL, fl & ~O_NONBLOCK);
  }
  const auto until = std::chrono::steady_clock::now() + deadline;
  const auto time_left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
  };
  const auto too_late = [&] {
    return Error(path + ": no line arrived within " + seconds_text(deadline) + " (" + what +
                 "; a pipe or FIFO that nobody writes to?)");
  };
  // Standard input's descriptor is shared with the shell that started us: it stays blocking (it
  // is not ours to make non-blocking), so a read would wait as long as its writer does. A pipe
  // into it (`sleep infinity | clapsearch serve --token-file -`) hung for ever (hostile pass 14,
  // H14C-1): each byte is waited for with poll, within the deadline, unless a person types.
  const bool poll_first = standard_input && !wait_forever;
  std::string line;
  bool any = false;
  char c = 0;
  for (;;) {
    if (poll_first) {
      const auto left = time_left();
      if (left.count() <= 0) throw too_late();
      pollfd p{f.fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
      if (ready < 0 && errno != EINTR) throw Error(path + ": read error (" + what + "): " + std::strerror(errno));
      if (ready <= 0) continue;  // readable, at its end (POLLHUP) or in error: the read says which
    }
    const ssize_t n = ::read(f.fd, &c, 1);  // a byte at a time: nothing past the first line is taken
    if (n == 1) {
      if (c == '\n') break;
      if (c == '\0') throw Error(path + ": not text (a NUL byte in its first line) (" + what + "); is it the right file?");
      any = true;
      line += c;
      if (line.size() > max_bytes)
        throw Error(path + ": its first line is longer than " + std::to_string(max_bytes) + " bytes (" + what +
                    "); is it the right file?");
      continue;
    }
    if (n == 0) {
      // A named FIFO's end before any writer came (Linux reports it so to a non-blocking reader)
      // is no end: wait for one, within the deadline, unless something was read.
      if (!named_fifo || any) break;
    } else if (errno == EINTR) {
      continue;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      throw Error(path + ": read error (" + what + "): " + std::strerror(errno));
    }
    const auto left = time_left();
    if (!wait_forever && left.count() <= 0) throw too_late();
    pollfd p{f.fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, wait_forever ? -1 : static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) throw Error(path + ": read error (" + what + "): " + std::strerror(errno));
    // A FIFO whose writer came and went (POLLHUP without data) is at its end: the next read says 0.
    if (ready > 0 && (p.revents & POLLHUP) && !(p.revents & POLLIN)) break;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string empty_secret_message(const std::string& given, const std::string& what) {
  return (given == "-" ? std::string("standard input") : given) + ": its first line is empty (" + what +
         "; the secret is the first line: is the file empty, or does it begin with a blank line?)";
}

}  // namespace clap
