#include "server/raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace clap::server {

int connect_to(int port, int receive_buffer) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& bytes) { ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL); }

Received read_until_closed(int fd, std::chrono::milliseconds limit, const std::function<void()>& tick) {
  Received r;
  const auto start = std::chrono::steady_clock::now();
  auto next_tick = start;
  char buf[4096];
  while (std::chrono::steady_clock::now() - start < limit) {
    if (tick && std::chrono::steady_clock::now() >= next_tick) {
      tick();
      next_tick += std::chrono::milliseconds(200);
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      r.bytes.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      r.closed = true;
      break;
    }
  }
  return r;
}

Received exchange(int port, const std::string& request) {
  const int fd = connect_to(port);
  if (fd < 0) return {};
  send_all(fd, request);
  Received r = read_until_closed(fd, std::chrono::seconds(10));
  ::close(fd);
  return r;
}

}  // namespace clap::server
