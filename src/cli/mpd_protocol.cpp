#include "cli/mpd_protocol.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "cli/common.h"

namespace clap::cli {

std::string MpdAddress::text() const {
  if (!host.empty() && (host.front() == '/' || host.front() == '@')) return host;  // a socket
  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return shown + ":" + std::to_string(port == 0 ? 6600 : port);
}

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
}

// Waits for `events` on fd until `deadline`: true when ready, false when the time ran out.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) throw MpdError(std::string("poll: ") + std::strerror(errno));
  }
}

// A non-blocking socket connected to `addr`, or -1 with errno set.
int connect_socket(int family, int protocol, const sockaddr* addr, socklen_t len, std::chrono::milliseconds timeout) {
  const int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return -1;
  if (connect(fd, addr, len) == 0) return fd;
  if (errno == EINPROGRESS) {
    int error = ETIMEDOUT;
    socklen_t size = sizeof error;
    if (wait_for(fd, POLLOUT, Clock::now() + timeout) && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 &&
        error == 0)
      return fd;
    errno = error;
  }
  const int saved = errno;
  close(fd);
  errno = saved;
  return -1;
}

// Connects to MPD's address: a local socket ('/' first, or '@' for an abstract one) or TCP (each
// address the name resolves to in turn). Throws MpdError naming the reason.
int connect_to(const MpdAddress& address, std::chrono::milliseconds timeout) {
  const std::string where = "MPD at " + address.text() + ": cannot connect: ";
  if (address.host.front() == '/' || address.host.front() == '@') {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    if (address.host.size() >= sizeof un.sun_path) throw MpdError(where + "the socket path is too long");
    std::memcpy(un.sun_path, address.host.data(), address.host.size());
    if (address.host.front() == '@') un.sun_path[0] = '\0';  // Linux's abstract namespace
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.host.size() +
                                            (address.host.front() == '@' ? 0 : 1));
    const int fd = connect_socket(AF_UNIX, 0, reinterpret_cast<const sockaddr*>(&un), len, timeout);
    if (fd < 0) throw MpdError(where + std::strerror(errno));
    return fd;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port == 0 ? 6600 : address.port);
  if (const int e = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); e != 0)
    throw MpdError(where + "cannot resolve '" + terminal_text(address.host) + "': " + gai_strerror(e));
  int fd = -1;
  std::string reason = "no address";
  for (const addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = connect_socket(a->ai_family, a->ai_protocol, a->ai_addr, a->ai_addrlen, timeout);
    if (fd < 0) reason = std::strerror(errno);
  }
  freeaddrinfo(found);
  if (fd < 0) throw MpdError(where + reason);
  return fd;
}

std::string shown_line(const std::string& line) {
  constexpr size_t kShown = 120;
  return "'" + terminal_text(line.substr(0, kShown)) + (line.size() > kShown ? "...'" : "'");
}

}  // namespace

MpdLink::MpdLink(const MpdAddress& address, std::chrono::milliseconds io_timeout)
    : address_(address), io_timeout_(io_timeout) {
  fd_ = connect_to(address, io_timeout);
  try {
    // The greeting, read as any answer line is: whole, within the I/O timeout.
    const std::string greeting = next_line("its greeting", kShortAnswer, 0, Clock::now() + kShortAnswer.time);
    if (greeting.find('\0') != std::string::npos)
      lost("its greeting", "it holds a NUL byte (" + shown_line(greeting) + "): not MPD's protocol");
    if (greeting.rfind("OK MPD ", 0) != 0)
      lost("its greeting", "not an MPD server: it greeted with " + shown_line(greeting) + ", not 'OK MPD <version>'");
  } catch (...) {
    // No destructor runs for an object whose constructor threw: a watching radio retrying a
    // server with a bad greeting would leak a socket at every try.
    close(fd_);
    throw;
  }
}

MpdLink::~MpdLink() {
  if (fd_ >= 0) close(fd_);
}

void MpdLink::lost(const std::string& what, const std::string& reason) const {
  throw MpdError("MPD at " + address_.text() + ": " + what + ": " + reason);
}

void MpdLink::write_all(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    if (!wait_for(fd_, POLLOUT, Clock::now() + io_timeout_))
      lost("sending a command", "the server took nothing for " + std::to_string(io_timeout_.count() / 1000) + " s");
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) lost("sending a command", std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
}

void MpdLink::send(std::string_view command, const std::vector<std::string>& arguments) {
  std::string line(command);
  for (const std::string& a : arguments) {
    line += " \"";
    for (const char c : a) {
      if (c == '"' || c == '\\') line += '\\';
      line += c;
    }
    line += '"';
  }
  line += '\n';
  write_all(line);
}

void MpdLink::send_lines(const std::vector<std::string>& lines) {
  std::string bytes;
  for (const std::string& l : lines) bytes += l + "\n";
  write_all(bytes);
}

std::string MpdLink::next_line(const std::string& subject, const AnswerBounds& bounds, uint64_t bytes_before,
                               Clock::time_point deadline) {
  const auto past = [&](const std::string& bound) {
    throw MpdError("MPD at " + address_.text() + ": " + subject + " did not end within " + bound +
                   " (a broken or hostile server; read no further)");
  };
  size_t scanned = in_pos_;
  for (;;) {
    const size_t end = in_.find('\n', scanned);
    if (end != std::string::npos) {
      std::string line = in_.substr(in_pos_, end - in_pos_);
      in_pos_ = end + 1;
      if (in_pos_ == in_.size() || in_pos_ > (64u << 10)) {  // drop what was read, now and then
        in_.erase(0, in_pos_);
        in_pos_ = 0;
      }
      return line;
    }
    scanned = in_.size();
    // A line that never ends is bounded as the answer is (libmpdclient gave up at 4 KiB).
    if (bytes_before + (in_.size() - in_pos_) > bounds.bytes) past(std::to_string(bounds.bytes >> 20) + " MiB");
    if (!wait_for(fd_, POLLIN, std::min(deadline, Clock::now() + io_timeout_))) {
      if (Clock::now() >= deadline) past(std::to_string(bounds.time.count()) + " s");
      lost(subject, "nothing came for " + std::to_string(io_timeout_.count() / 1000) + " s (the server is stuck)");
    }
    char buffer[65536];
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n == 0) lost(subject, "the server closed the connection");
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) lost(subject, std::strerror(errno));
    in_.append(buffer, static_cast<size_t>(n));
  }
}

AnswerEnd MpdLink::read_answer(const std::vector<AnswerPart>& parts, const PairSink& on_pair) {
  size_t part = 0;
  uint64_t lines = 0, bytes = 0;
  Clock::time_point deadline = Clock::now() + parts.front().bounds.time;
  for (;;) {
    // After a command list's last "list_OK" only its "OK" may come; its bounds are the last part's.
    const AnswerPart& p = parts[std::min(part, parts.size() - 1)];
    const std::string line = next_line("its answer to " + p.what, p.bounds, bytes, deadline);
    ++lines;
    bytes += line.size() + 1;
    if (lines > p.bounds.lines || bytes > p.bounds.bytes)
      throw MpdError("MPD at " + address_.text() + ": its answer to " + p.what + " did not end within " +
                     (lines > p.bounds.lines ? std::to_string(p.bounds.lines) + " lines" : std::to_string(p.bounds.bytes >> 20) + " MiB") +
                     " (a broken or hostile server; read no further)");
    // A line holding a NUL is not MPD's (its names, URIs and tags cannot hold one): refused
    // whole, never read up to the NUL (H18P-1).
    if (line.find('\0') != std::string::npos)
      lost("its answer to " + p.what, "line " + std::to_string(lines) + " holds a NUL byte (" + shown_line(line) +
                                          "): not MPD's protocol (a broken or hostile server; read no further)");
    if (line == "OK") return {};
    if (line == "list_OK") {  // one after each command of a command list, then "OK"
      if (parts.size() == 1 || part++ == parts.size())
        lost("its answer to " + p.what, "more answers (list_OK) than commands sent: not MPD's protocol");
      lines = bytes = 0;
      deadline = Clock::now() + parts[std::min(part, parts.size() - 1)].bounds.time;
      continue;
    }
    if (line.rfind("ACK ", 0) == 0) {  // ACK [error@command] {command} message
      const size_t brace = line.find("} ");
      return {true, brace == std::string::npos ? line.substr(4) : line.substr(brace + 2)};
    }
    const size_t colon = line.find(": ");
    if (colon == std::string::npos || colon == 0)
      lost("its answer to " + p.what, "line " + std::to_string(lines) + " (" + shown_line(line) +
                                          ") is neither 'name: value' nor the answer's end: not MPD's protocol");
    if (part == parts.size())
      lost("its answer to " + p.what, "line " + std::to_string(lines) + " (" + shown_line(line) +
                                          ") comes after the answer to every command sent: not MPD's protocol");
    on_pair(part, std::string_view(line).substr(0, colon), std::string_view(line).substr(colon + 2));
  }
}

AnswerEnd MpdLink::skip_answer(const std::string& what) {
  return read_answer({{what, kShortAnswer}}, [](size_t, std::string_view, std::string_view) {});
}

bool MpdLink::wait_readable(int other_fd) {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {other_fd, POLLIN, 0}};
  for (;;) {
    // Bytes the server sent after its last answer are already here: poll would not see them.
    const int n = poll(fds, 2, in_pos_ < in_.size() ? 0 : -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw MpdError(std::string("waiting for MPD: poll: ") + std::strerror(errno));
    break;
  }
  if (fds[1].revents & POLLIN) return false;
  return true;
}

}  // namespace clap::cli
