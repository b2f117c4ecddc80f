// Raw HTTP exchanges for the server's tests: what a client that is not cpp-httplib sends (heads
// over the limits, bodies that lie, slow or small-window readers) and every byte it gets back.
#pragma once
#include <chrono>
#include <functional>
#include <string>

namespace clap::server {

// A connection to 127.0.0.1:port, or -1. `receive_buffer` > 0 sets the socket's receive buffer
// (before connecting, so that the TCP window the server sees is that small).
int connect_to(int port, int receive_buffer = 0);
void send_all(int fd, const std::string& bytes);

// What a connection received, and whether the server closed it.
struct Received {
  std::string bytes;
  bool closed = false;
};

// Reads `fd` until the server closes it (recv gives 0 or a reset) or `limit` passes; `tick`, when
// given, runs every 200 ms meanwhile (a slow client sending its next byte).
Received read_until_closed(int fd, std::chrono::milliseconds limit, const std::function<void()>& tick = {});

// One request on a new connection, read until the server closes it (10 s at most).
Received exchange(int port, const std::string& request);

}  // namespace clap::server
