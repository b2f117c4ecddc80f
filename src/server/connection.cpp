#include "server/connection.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <iterator>
#include <string>
#include <utility>

#include "server/client_address.h"
#include "server/deadline_stream.h"
#include "server/request_head.h"
#include "server/server.h"

namespace clap::server {

namespace {

using Clock = std::chrono::steady_clock;

// The connection this thread is serving: what the handlers ask about their request
// (head_refusal, request_timed_out) and where the answer's verdict on the connection goes.
thread_local DeadlineStream* current_connection = nullptr;

class CurrentConnection {
 public:
  explicit CurrentConnection(DeadlineStream* s) { current_connection = s; }
  ~CurrentConnection() { current_connection = nullptr; }
  CurrentConnection(const CurrentConnection&) = delete;
  CurrentConnection& operator=(const CurrentConnection&) = delete;
};

// A header set twice on the way (two handlers each adding theirs, cpp-httplib's content
// provider adding a Content-Type beside the one set before) would be sent twice, which a client
// reads as one value joined by a comma: the last one set stays.
void one_value_per_header(httplib::Response& res) {
  for (auto it = res.headers.begin(); it != res.headers.end();) {
    const auto same = res.headers.equal_range(it->first);
    it = same.second;
    const auto last = std::prev(same.second);
    if (same.first != last) res.headers.erase(same.first, last);
  }
}

// Closing a socket with bytes of the client's unread (the rest of a refused body, a trickled
// head) resets the connection, and a reset can discard the answer still on its way. After an
// answer that closes the connection, the server's side is shut first, then what the client
// still sends is read and dropped until it closes too, for 1 s and 1 MB at most.
void linger(int sock) {
  ::shutdown(sock, SHUT_WR);
  const auto until = Clock::now() + std::chrono::seconds(1);
  char scratch[16384];
  for (size_t dropped = 0; dropped < (1u << 20);) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    pollfd p{sock, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return;
    const ssize_t n = ::recv(sock, scratch, sizeof scratch, 0);
    if (n <= 0) return;
    dropped += static_cast<size_t>(n);
  }
}

}  // namespace

const HeadRefusal& head_refusal() {
  static const HeadRefusal none;
  return current_connection ? current_connection->refusal() : none;
}

const HeadRefusal& body_refusal() {
  static const HeadRefusal none;
  return current_connection ? current_connection->body_refusal() : none;
}

bool request_timed_out() { return current_connection && current_connection->timed_out(); }

const std::string& too_long_request_line() {
  static const std::string none;
  return current_connection ? current_connection->too_long_request_line() : none;
}

const std::string& request_line() {
  static const std::string none;
  return current_connection ? current_connection->request_line() : none;
}

void allow_pause(const std::string& holder) {
  if (current_connection) current_connection->allow_pause(holder);
}


HttpServer::HttpServer() {
  // The verdict on the connection, taken as each answer is about to be written. It closes after
  // an answer to a head that was late, malformed or refused (408, 400, 414, 501: nothing says
  // where the next request would start), to a client without the token or Host it needs (401,
  // 421: it gets no connection to trickle its next request on), and to a request with a body
  // that was refused (the body's unread bytes must not be taken for a next request).
  set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    one_value_per_header(res);
    DeadlineStream* c = current_connection;
    if (!c) return;
    const bool close = !c->head_complete() || c->refusal().status != 0 || c->body_refusal().status != 0 || c->timed_out() || res.status == 401 ||
                       res.status == 421 || (res.status >= 400 && has_body(req)) ||
                       lower_ascii(res.get_header_value("Connection")) == "close";
    if (!close) return;
    res.headers.erase("Keep-Alive");
    res.headers.erase("Connection");
    res.set_header("Connection", "close");
    c->close_after_answer();
  });
}

namespace {

// cpp-httplib's thread pool, counting the connections that wait in its queue for a thread.
class CountingThreadPool final : public httplib::TaskQueue {
 public:
  CountingThreadPool(size_t threads, std::shared_ptr<std::atomic<int>> waiting) : pool_(threads), waiting_(std::move(waiting)) {}
  void enqueue(std::function<void()> fn) override {
    ++*waiting_;
    pool_.enqueue([waiting = waiting_, fn = std::move(fn)] {
      --*waiting;
      fn();
    });
  }
  void shutdown() override { pool_.shutdown(); }

 private:
  httplib::ThreadPool pool_;
  std::shared_ptr<std::atomic<int>> waiting_;
};

}  // namespace

void HttpServer::set_threads(int threads) {
  new_task_queue = [n = static_cast<size_t>(std::max(1, threads)), waiting = waiting_] { return new CountingThreadPool(n, waiting); };
}

void HttpServer::raise_backlog() {
  if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, SOMAXCONN);
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  if (send_buffer > 0) ::setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
  // The largest chunk a chunked body may declare: the body limit (bounded so that ChunkFraming's
  // hexadecimal sum cannot overflow, whatever --max-upload-mb says).
  const auto max_chunk = static_cast<int64_t>(std::min<size_t>(payload_max_length_, size_t{1} << 56));
  DeadlineStream strm(sock, read_timeout_sec_, write_timeout_sec_, deadlines, max_chunk, paused_);
  std::string ip, local;
  int port = 0, local_port = 0;
  strm.get_remote_ip_and_port(ip, port);
  strm.get_local_ip_and_port(local, local_port);
  const bool counted = !ip.empty() && !is_loopback(ip);
  // Counted per client (client_key): an IPv6 client by its /64, which it can send from whole.
  if (counted) ip = client_key(ip, local);
  if (counted) {
    std::lock_guard lock(open_mutex_);
    if (open_[ip] >= per_address) {
      ::shutdown(sock, SHUT_RDWR);
      ::close(sock);
      return true;
    }
    ++open_[ip];
  }
  // The next request's first byte: already read (pipelined), or awaited for the keep-alive time,
  // or for kIdleGraceMs only while another connection waits for a thread (set_threads).
  auto wait_for_request = [&] {
    if (strm.has_pending()) return true;
    const auto since = Clock::now();
    const auto until = since + std::chrono::seconds(keep_alive_timeout_sec_);
    while (svr_sock_ != INVALID_SOCKET) {
      pollfd p{sock, POLLIN, 0};
      const int r = ::poll(&p, 1, 100);
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
      const auto now = Clock::now();
      if (now >= until) return false;
      if (waiting_->load() > 0 && now - since >= std::chrono::milliseconds(kIdleGraceMs)) return false;
    }
    return false;
  };
  bool ret = true;
  {
    const CurrentConnection serving(&strm);
    for (size_t left = keep_alive_max_count_; left > 0 && wait_for_request(); --left) {
      strm.start_request();
      bool connection_closed = false;
      ret = process_request(strm, left == 1, connection_closed, [&strm](httplib::Request& req) { strm.head_read(req); });
      if (!ret || connection_closed || strm.closing() || !strm.head_complete()) break;
    }
  }
  if (strm.write_timed_out()) {
    // A late response is cut, not finished: a plain close would leave the bytes still queued
    // for the slow reader in the kernel, sent at its pace long after; a reset drops them.
    const struct linger reset_now{1, 0};
    ::setsockopt(sock, SOL_SOCKET, SO_LINGER, &reset_now, sizeof reset_now);
  } else {
    if (strm.closing()) linger(sock);
    ::shutdown(sock, SHUT_RDWR);
  }
  ::close(sock);
  if (counted) {
    std::lock_guard lock(open_mutex_);
    if (--open_[ip] <= 0) open_.erase(ip);
  }
  return ret;
}

}  // namespace clap::server
