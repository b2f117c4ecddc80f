#include "server/deadline_stream.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>

#include "server/request_head.h"

namespace clap::server {

using Clock = DeadlineStream::Clock;

void DeadlineStream::start_request() {
  phase_ = Phase::Head;
  head_deadline_ = Clock::now() + std::chrono::seconds(deadlines_.head_s);
  in_head_ = true, mid_line_ = false;
  head_lines_ = 0, current_line_ = 0, leading_empty_lines_ = 0, head_bytes_ = 0;
  line_.clear(), line_taken_ = 0;
  raw_line_.clear(), raw_headers_.clear();
  refusal_ = {}, body_refusal_ = {};
  absolute_authority_.reset();
  sent_target_.reset();
  too_long_line_.clear(), request_line_.clear();
  framing_.reset();
  timed_out_ = false, close_ = false;
  writing_ = false;
  end_pause();
}

void DeadlineStream::head_read(httplib::Request& req) {
  phase_ = Phase::Body;
  body_start_ = Clock::now();
  body_received_ = 0;
  req.headers = headers_as_sent(req.headers);
  if (!refusal_.status) refusal_ = judge_head(req);
  // RFC 9112 (9.6): after a request with the "close" option the server MUST close the connection
  // and MUST NOT read another request from it. cpp-httplib closes only when the header is exactly
  // "close", so "Connection: keep-alive, close" or "CLOSE" (options are case-insensitive) had the
  // next pipelined request answered. The header is made the one cpp-httplib reads, so that the
  // answer says "Connection: close" too.
  if (asks_to_close(req)) {
    close_after_answer();
    req.headers.erase("Connection");
    req.headers.emplace("Connection", "close");
  }
  // RFC 9112 (3.2.2): a request in absolute-form is addressed to its target's authority, and
  // its Host header (still required in HTTP/1.1, and judged above) is ignored; the checks on
  // Host (server.cpp: the 421 rule) then read the authority.
  if (!refusal_.status && absolute_authority_) {
    if (const std::string problem = host_problem(*absolute_authority_); !problem.empty()) {
      refusal_ = {400, "bad request", "the request target's authority " + problem};
    } else {
      req.headers.erase("Host");
      req.headers.emplace("Host", *absolute_authority_);
    }
  }
  if (!refusal_.status && req.has_header("Transfer-Encoding")) framing_.emplace(max_body_);
  // RFC 9112 (6.3): a request with neither Content-Length nor Transfer-Encoding has no body.
  // cpp-httplib would read a POST's, PUT's or PATCH's until the connection closes, answering
  // a valid request only at the body deadline: it is told the length, zero.
  if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) req.headers.emplace("Content-Length", "0");
  if (sent_target_) req.target = *sent_target_;
  req.params = parse_query(req.target);
}

bool DeadlineStream::is_readable() const {
  return !expired() && (has_pending() || wait(POLLIN, read_timeout_ms()));
}

bool DeadlineStream::is_writable() const {
  auto give_up = Clock::now() + std::chrono::seconds(write_s_);
  for (;;) {
    const auto now = Clock::now();
    auto until = give_up;
    if (writing_) {
      const auto deadline = write_deadline();
      if (now >= deadline || now >= give_up) {
        // A paused player's stream is held on a second at a time, both rules moved by it.
        if (const auto step = pause_step(); step.count() > 0) {
          paused_ += step;
          give_up += step;
          continue;
        }
      }
      if (now >= deadline) {
        write_timed_out_ = true;
        return false;
      }
      until = std::min(until, deadline);
    }
    if (now >= give_up) return false;
    const auto left_us = std::chrono::duration_cast<std::chrono::microseconds>(until - now).count();
    if (wait(POLLOUT, static_cast<int>((left_us + 999) / 1000))) return true;
  }
}

ssize_t DeadlineStream::read(char* ptr, size_t size) {
  if (framing_ && framing_->broken()) return -1;  // the body was refused: nothing more is read
  if (expired()) {  // late: the request ends, however fast its bytes now come
    timed_out_ = true;
    return -1;
  }
  // What is left of a head line first (the blank line that ends the head included).
  const ssize_t n = in_head_ || line_taken_ < line_.size() ? read_head(ptr, size) : read_raw(ptr, size);
  if (n < 0 && expired()) timed_out_ = true;
  if (n > 0 && phase_ == Phase::Body) {
    body_received_ += n;
    if (framing_ && !framing_->follow(ptr, static_cast<size_t>(n))) {
      body_refusal_ = {framing_->status(), framing_->status() == 413 ? "too large" : "bad request", framing_->problem()};
      return -1;
    }
  }
  // A read after a write (the body after a "100 Continue"): the response has not begun yet,
  // and its deadline starts at its own first byte.
  if (n > 0) writing_ = false;
  return n;
}

ssize_t DeadlineStream::write(const char* ptr, size_t size) {
  if (!writing_) {  // the response's first byte: its deadline starts now
    writing_ = true;
    write_start_ = Clock::now();
    written_ = 0;
  }
  // Without MSG_DONTWAIT, a send of a piece (64 KB of a file) blocks until all of it is queued,
  // however long a slow reader takes as long as it reads a little within each socket timeout:
  // the deadline is checked only between sends, so each takes what fits now.
  for (;;) {
    if (!is_writable()) return -1;
    const ssize_t n = ::send(sock_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n > 0) written_ += n;
    return n;
  }
}

httplib::Headers DeadlineStream::headers_as_sent(const httplib::Headers& parsed) const {
  static const char* kOwn[] = {"REMOTE_ADDR", "REMOTE_PORT", "LOCAL_ADDR", "LOCAL_PORT"};
  auto own = [](const std::string& name) {
    return std::any_of(std::begin(kOwn), std::end(kOwn), [&](const char* o) { return lower_ascii(name) == lower_ascii(o); });
  };
  httplib::Headers headers;
  for (const auto& [name, value] : raw_headers_)
    if (!own(name)) headers.emplace(name, value);
  for (const char* name : kOwn) {
    const auto same = parsed.equal_range(name);
    if (same.first != same.second) headers.emplace(name, std::prev(same.second)->second);
  }
  return headers;
}

void DeadlineStream::keep_header(std::string line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
    line.pop_back();
  const size_t colon = line.find(':');
  if (colon == std::string::npos) {
    // cpp-httplib skips such a line, where a proxy in front may read it otherwise (as a header
    // named by the whole line, or the end of the head): RFC 9112 (5.1) makes it NAME: VALUE.
    if (!refusal_.status)
      refusal_ = {400, "bad request", "the header line \"" + shown(line) + "\" has no colon (a header line is NAME: VALUE, RFC 9112, 5.1)"};
    return;
  }
  const size_t value = line.find_first_not_of(" \t", colon + 1);
  if (value == std::string::npos) return;
  raw_headers_.emplace_back(line.substr(0, colon), line.substr(value));
}

ssize_t DeadlineStream::read_raw(char* ptr, size_t size) {
  if (buffered_ < filled_) return take(ptr, size);
  if (!wait(POLLIN, read_timeout_ms())) return -1;
  if (size < sizeof buf_) {  // small reads (the head, byte by byte) through a buffer
    const ssize_t n = recv_some(buf_, sizeof buf_);
    if (n <= 0) return n;
    buffered_ = 0, filled_ = static_cast<size_t>(n);
    return take(ptr, size);
  }
  return recv_some(ptr, size);
}

ssize_t DeadlineStream::read_head(char* ptr, size_t size) {
  if (line_taken_ == line_.size()) {
    const bool line_start = !mid_line_;
    // A longer line passes in pieces, unchanged; the request line is gathered whole up to a byte
    // past cpp-httplib's limit (so that it can be put in origin-form; a longer one is answered
    // 414 as it was).
    const size_t longest = line_start && head_lines_ == 0 ? kLongestRequestLine + 3 : sizeof buf_;
    const auto read_line = [&]() -> ssize_t {
      line_.clear(), line_taken_ = 0;
      for (;;) {
        char c = 0;
        const ssize_t n = read_raw(&c, 1);
        if (n <= 0) {
          if (line_.empty()) return n;
          break;
        }
        line_ += c;
        if (c == '\n' || line_.size() >= longest) break;
      }
      mid_line_ = line_.back() != '\n';
      // The head as a whole is bounded (kLongestHead): the read fails, so that cpp-httplib stops
      // reading header lines, and the refusal says why (server.cpp answers it 431).
      head_bytes_ += line_.size();
      // A request line longer than the whole head may be: ended here, so that cpp-httplib answers
      // it 414 as any line over its limit (a failed read of the request line is answered with
      // nothing: the connection just closed, H13S-4).
      if (head_bytes_ > kLongestHead && !line_start && head_lines_ == 1 && current_line_ == 0) {
        line_ = "\r\n", mid_line_ = false;
        return 1;
      }
      if (head_bytes_ > kLongestHead) {
        refusal_ = {431, "request header fields too large",
                    "the request head is over " + std::to_string(kLongestHead / 1024) +
                        " KB (request line and header lines together, RFC 6585, 5)"};
        line_.clear(), line_taken_ = 0;
        return -1;
      }
      return 1;
    };
    if (const ssize_t n = read_line(); n <= 0) return n;
    // RFC 9112 (2.2): a server SHOULD ignore at least one empty line before the request line (a
    // client that ends a POST body with an extra CRLF, then sends its next request). A few are
    // skipped; more are not a request (and the head deadline runs all along).
    while (line_start && head_lines_ == 0 && line_ == "\r\n" && leading_empty_lines_ < kLeadingEmptyLines) {
      ++leading_empty_lines_;
      if (const ssize_t n = read_line(); n <= 0) return n;
    }
    if (line_start && line_ == "\r\n") {
      in_head_ = false;  // the body, if any, is read as it comes
    } else {
      if (line_start) current_line_ = head_lines_++;
      check_head_piece(line_start);
      if (line_start && current_line_ == 0) request_line_ = line_;
      if (line_start && !mid_line_ && current_line_ == 0) {
        RequestTarget target = origin_form(line_);
        line_ = std::move(target.line);
        absolute_authority_ = std::move(target.authority);
        sent_target_ = std::move(target.target);
        if (!target.problem.empty() && !refusal_.status) refusal_ = {400, "bad request", target.problem};
      } else if (line_start && mid_line_ && current_line_ == 0) {
        too_long_line_ = line_;  // passed on as it is: cpp-httplib answers 414
      } else if (!line_start && current_line_ == 0 && !too_long_line_.empty()) {
        too_long_line_ += line_;  // the rest of it, passed on as well (bounded by kLongestHead)
      } else if (line_start && !mid_line_) {
        line_ = served_range_line(line_);
      } else if (line_start && current_line_ > 0) {
        line_ = long_range_piece(line_);
      }
      if (current_line_ > 0 && raw_line_.size() < (64u << 10)) raw_line_ += line_;
      if (current_line_ > 0 && !mid_line_) {
        keep_header(raw_line_);
        raw_line_.clear();
      }
    }
  }
  const size_t n = std::min(size, line_.size() - line_taken_);
  std::memcpy(ptr, line_.data() + line_taken_, n);
  line_taken_ += n;
  return static_cast<ssize_t>(n);
}

void DeadlineStream::check_head_piece(bool line_start) {
  if (refusal_.status) return;
  const std::string what = current_line_ == 0 ? std::string("the request line")
                                              : line_start ? "the header line \"" + shown(line_.substr(0, line_.find(':'))) + "\""
                                                           : "a header line";
  if (line_start && current_line_ > 0 && (line_[0] == ' ' || line_[0] == '\t')) {
    refusal_ = {400, "bad request", what + " starts with a space: folded header lines are not accepted (RFC 9112, 5.2)"};
    return;
  }
  // A line ending in a bare LF: cpp-httplib skips such a header line, where another parser
  // (a proxy in front) may read it.
  if (!mid_line_ && (line_.size() < 2 || line_[line_.size() - 2] != '\r')) {
    refusal_ = {400, "bad request", what + " does not end with CRLF (RFC 9112, 2.2)"};
    return;
  }
  size_t end = line_.size();
  if (!mid_line_) end -= 2;  // the line's own CRLF
  for (size_t i = 0; i < end; ++i) {
    const auto c = static_cast<unsigned char>(line_[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      refusal_ = {400, "bad request", what + " holds a control character (" + hex + ")"};
      return;
    }
  }
}

Clock::time_point DeadlineStream::deadline() const {
  if (phase_ == Phase::Head) return head_deadline_;
  const int64_t earned_ms = body_received_ * kBodySecondsPerMB * 1000 / (int64_t{1} << 20);
  return body_start_ + std::chrono::seconds(deadlines_.body_s) + std::chrono::milliseconds(earned_ms);
}

std::chrono::milliseconds DeadlineStream::pause_step() const {
  const auto limit = std::chrono::milliseconds(int64_t{deadlines_.pause_s} * 1000);
  if (!may_pause_ || paused_ >= limit) return std::chrono::milliseconds(0);
  if (!pause_slot_) {
    pause_slot_ = paused_streams_.take(pause_holder_, deadlines_.pauses_per_holder, deadlines_.pauses_total);
    if (!pause_slot_) return std::chrono::milliseconds(0);
  }
  return std::min(std::chrono::milliseconds(1000), limit - paused_);
}

void DeadlineStream::end_pause() {
  if (pause_slot_) paused_streams_.give_back(pause_holder_);
  pause_slot_ = false, may_pause_ = false;
  paused_ = std::chrono::milliseconds(0);
}

Clock::time_point DeadlineStream::write_deadline() const {
  int queued = 0;
  if (::ioctl(sock_, SIOCOUTQ, &queued) != 0) queued = 0;
  const int64_t received = std::max<int64_t>(0, written_ - queued);
  const int64_t earned_ms = received * 1000 / deadlines_.response_min_bytes_per_s;
  return write_start_ + std::chrono::seconds(deadlines_.response_grace_s) + std::chrono::milliseconds(earned_ms) + paused_;
}

int DeadlineStream::read_timeout_ms() const {
  const auto left_us = std::chrono::duration_cast<std::chrono::microseconds>(deadline() - Clock::now()).count();
  const int64_t left_ms = left_us <= 0 ? 0 : (left_us + 999) / 1000 + 1;
  return static_cast<int>(std::min<int64_t>(static_cast<int64_t>(read_s_) * 1000, left_ms));
}

bool DeadlineStream::wait(short events, int timeout_ms) const {
  pollfd p{sock_, events, 0};
  for (;;) {
    const int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

ssize_t DeadlineStream::recv_some(char* ptr, size_t size) {
  for (;;) {
    const ssize_t n = ::recv(sock_, ptr, size, 0);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

ssize_t DeadlineStream::take(char* ptr, size_t size) {
  const size_t n = std::min(size, filled_ - buffered_);
  std::memcpy(ptr, buf_ + buffered_, n);
  buffered_ += n;
  return static_cast<ssize_t>(n);
}

void DeadlineStream::address_of(bool remote, std::string& ip, int& port) const {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if ((remote ? ::getpeername(sock_, reinterpret_cast<sockaddr*>(&a), &len) : ::getsockname(sock_, reinterpret_cast<sockaddr*>(&a), &len)) != 0)
    return;
  char host[INET6_ADDRSTRLEN] = {0};
  if (a.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
    port = ntohs(v4->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
    port = ntohs(v6->sin6_port);
  }
  ip = host;
}

}  // namespace clap::server
