#include "server/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/chunk_framing.h"
#include "server/server.h"

namespace clap::server {

namespace {

using Clock = std::chrono::steady_clock;

std::string lower_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trimmed(const std::string& v) {
  const size_t a = v.find_first_not_of(" \t\r\n");
  return a == std::string::npos ? std::string() : v.substr(a, v.find_last_not_of(" \t\r\n") - a + 1);
}

// A header's name or value as a message shows it: printable ASCII, the rest as \xNN, cut short.
std::string shown(const std::string& s) {
  std::string out;
  for (const char ch : s.substr(0, 60)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    }
  }
  return s.size() > 60 ? out + "..." : out;
}

bool has_body(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

// Why a Host value (or the authority of an absolute-form target) is not a host name or address
// with an optional port, or "" when it is one. A NUL byte would cut the value short where
// get_header_value reads it as a C string ("localhost\0.evil.com" read as "localhost"): refused
// with every other byte a host cannot have.
std::string host_problem(const std::string& host) {
  if (host.find('@') != std::string::npos)
    return "\"" + shown(host) + "\" holds a user name: userinfo is not accepted (RFC 9110, 4.2.4)";
  if (host.empty() || host.find_first_not_of("-._~!$&'()*+,;=%:[]0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") !=
                          std::string::npos)
    return "\"" + shown(host) + "\" is not a host name or address with an optional port";
  return {};
}

// RFC 9112's rules for a request head that cpp-httplib (0.11) does not check, found when a
// request smuggled through a proxy or a DNS-rebinding check reads the head differently from
// the server: every header name a token (no space before the colon), one Host (and one at all
// in HTTP/1.1) that is a host name or address, Content-Lengths that agree, and Transfer-Encoding
// only alone and only chunked. The head's bytes themselves (control characters, folded lines)
// are checked as they are read (DeadlineStream::check_head_piece).
HeadRefusal judge_head(const httplib::Request& req) {
  auto bad = [](const std::string& detail) { return HeadRefusal{400, "bad request", detail}; };
  static const char* kTokenChars =
      "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (const auto& [name, value] : req.headers)
    if (name.empty() || name.find_first_not_of(kTokenChars) != std::string::npos)
      return bad("the header name \"" + shown(name) +
                 "\" is not a valid name (no space may come between a header's name and its colon: RFC 9112, 5.1)");
  const size_t hosts = req.headers.count("Host");
  if (hosts > 1)
    return bad("the request has " + std::to_string(hosts) + " Host headers; one is allowed (RFC 9112, 3.2)");
  if (hosts == 0 && req.version == "HTTP/1.1")
    return bad("an HTTP/1.1 request must have a Host header (RFC 9112, 3.2)");
  if (hosts == 1)
    if (const std::string problem = host_problem(req.headers.find("Host")->second); !problem.empty()) return bad("Host " + problem);
  // Two Authorization headers: the first decided (a valid token then any other passed), where a
  // proxy in front may read the last; like Host, a singleton (RFC 9110, 11.6.2).
  if (const size_t tokens = req.headers.count("Authorization"); tokens > 1)
    return bad("the request has " + std::to_string(tokens) + " Authorization headers; one is allowed");
  std::string length;
  const auto lengths = req.headers.equal_range("Content-Length");
  for (auto it = lengths.first; it != lengths.second; ++it) {
    const std::string& n = it->second;
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos)
      return bad("Content-Length \"" + shown(n) + "\" is not a number of bytes");
    if (!length.empty() && n != length)
      return bad("the request has Content-Length headers that disagree (" + length + " and " + n + ")");
    length = n;
  }
  const size_t encodings = req.headers.count("Transfer-Encoding");
  if (encodings > 1) return bad("the request has " + std::to_string(encodings) + " Transfer-Encoding headers; one is allowed");
  if (encodings == 1) {
    if (!length.empty())
      return bad("the request has both Transfer-Encoding and Content-Length; send one (RFC 9112, 6.3)");
    const std::string coding = req.get_header_value("Transfer-Encoding");
    if (lower_ascii(trimmed(coding)) != "chunked")
      return {501, "not implemented", "Transfer-Encoding \"" + shown(coding) + "\": only chunked is accepted"};
  }
  return {};
}

}  // namespace

// RFC 9110 (14.2): a Range in a unit other than bytes must be ignored, and an invalid one may
// be; cpp-httplib (0.11) answers both 416 before any handler runs, and takes a number over 63
// bits for an error too, so `bytes=0-99999999999999999999` (clamped to the file by any other
// server) failed. The Range line of a request head is therefore rewritten as it is read: a
// valid bytes range set keeps its ranges, each number clamped to 2^63-1 (the audio route then
// clamps to the file, RFC 9110's rule); anything else is renamed so that nothing reads it.
std::string served_range_line(const std::string& line) {
  const size_t colon = line.find(':');
  if (colon == std::string::npos || lower_ascii(line.substr(0, colon)) != "range") return line;
  const std::string value = trimmed(line.substr(colon + 1));
  const std::string ignored = "X-Ignored-Range:" + line.substr(colon + 1);
  const size_t equals = value.find('=');
  if (equals == std::string::npos || lower_ascii(trimmed(value.substr(0, equals))) != "bytes") return ignored;
  auto clamp = [](std::string digits) {
    digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));  // "0" stays "0"
    const std::string max = "9223372036854775807";
    return digits.size() > max.size() || (digits.size() == max.size() && digits > max) ? max : digits;
  };
  std::string specs;
  const std::string set = value.substr(equals + 1);
  for (size_t start = 0; start <= set.size();) {
    const size_t comma = std::min(set.find(',', start), set.size());
    const std::string spec = trimmed(set.substr(start, comma - start));
    const size_t dash = spec.find('-');
    if (dash == std::string::npos) return ignored;
    std::string first = spec.substr(0, dash), last = spec.substr(dash + 1);
    const bool digits_only = first.find_first_not_of("0123456789") == std::string::npos &&
                             last.find_first_not_of("0123456789") == std::string::npos;
    if (!digits_only || (first.empty() && last.empty())) return ignored;
    if (!first.empty()) first = clamp(first);
    if (!last.empty()) last = clamp(last);
    if (!first.empty() && !last.empty() &&
        (first.size() > last.size() || (first.size() == last.size() && first > last)))
      return ignored;  // first after last: invalid
    specs += (specs.empty() ? "" : ",") + first + "-" + last;
    start = comma + 1;
  }
  return "Range: bytes=" + specs + "\r\n";
}

httplib::Params parse_query(const std::string& target) {
  httplib::Params params;
  const size_t mark = target.find('?');
  if (mark == std::string::npos) return params;
  const std::string query = target.substr(mark + 1);
  for (size_t start = 0; start < query.size();) {
    const size_t amp = std::min(query.find('&', start), query.size());
    const std::string pair = query.substr(start, amp - start);
    const size_t equals = pair.find('=');
    const std::string name = httplib::detail::decode_url(pair.substr(0, equals), true);
    if (!name.empty())
      params.emplace(name, equals == std::string::npos ? std::string() : httplib::detail::decode_url(pair.substr(equals + 1), true));
    start = amp + 1;
  }
  return params;
}

namespace {

constexpr size_t kLongestRequestLine = 8192;  // cpp-httplib's (compiled into Debian's library)

// A request line with its target in origin-form, and the authority it named, if any.
struct RequestTarget {
  std::string line;
  std::optional<std::string> authority;
  std::string problem;  // why the target is in no form a server takes (then `line` is unchanged)
};

// RFC 9112 (3.2): a request target is in origin-form (/path?query), absolute-form
// (http://authority/path?query: what a client sends to a proxy, and a server MUST accept it),
// authority-form (CONNECT only) or asterisk-form (OPTIONS * only). cpp-httplib (0.11) took a
// whole absolute-form target for the path, so that no route matched it (404). Such a request
// line is put in origin-form before cpp-httplib parses it, and its authority stands for the
// Host header (DeadlineStream::head_read); a target in no form is refused.
RequestTarget origin_form(const std::string& line) {
  const size_t first = line.find(' ');
  const size_t second = first == std::string::npos ? std::string::npos : line.find(' ', first + 1);
  if (second == std::string::npos || second == first + 1) return {line, {}, {}};  // cpp-httplib explains these
  const std::string method = line.substr(0, first), target = line.substr(first + 1, second - first - 1);
  if (target[0] == '/') return {line, {}, {}};
  if (target == "*") {
    if (method == "OPTIONS") return {line, {}, {}};
    return {line, {}, "the target * (asterisk-form) is for OPTIONS only (RFC 9112, 3.2.4)"};
  }
  const size_t scheme_end = target.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : lower_ascii(target.substr(0, scheme_end));
  if (scheme == "http" || scheme == "https") {
    const std::string rest = target.substr(scheme_end + 3);
    const size_t path_start = rest.find_first_of("/?#");
    std::string path = path_start == std::string::npos ? "/" : rest.substr(path_start);
    if (path[0] != '/') path = "/" + path;  // "http://host?q=1": the path is "/"
    return {method + " " + path + line.substr(second), rest.substr(0, path_start), {}};
  }
  if (method == "CONNECT") return {line, {}, {}};  // authority-form: answered as a method not served
  return {line, {}, "the request target \"" + shown(target) + "\" is not a path (/...), an http:// URL or * (RFC 9112, 3.2)"};
}

// --- slow clients -------------------------------------------------------------------------------
//
// cpp-httplib bounds each read by the socket timeout (--timeout) but neither a request head nor
// a body as a whole: a client sending one header byte every 29 s held a server thread for hours,
// and 16 such connections (one per HTTP thread) took the server down; so did 16 uploads sending
// a byte every few seconds. A connection is therefore read through this stream, one for the
// connection's life (bytes a client sent ahead, a pipelined request, wait in its buffer for the
// next request), which gives each request head a total deadline (RequestDeadlines::head_s from
// its first byte to the end of the headers) and each body one that grows with the bytes
// received (body_s, plus kBodySecondsPerMB per MB). A read past the deadline fails, however fast
// the bytes now come; the request is answered 408 when it can be, and the connection closed.
//
// The same held for answers: each write is bounded by the socket timeout, but a client reading
// the audio route (or a large JSON answer) a byte every 29 s lets each write through as its
// receive window opens a little, and so held a thread for hours. A response therefore has a
// deadline too, from its first byte: response_grace_s plus 1 s per response_min_bytes_per_s the
// client has received (8 KB/s by default: 64 kbit/s, below any music player's rate; an <audio>
// element reads ahead at network speed first, which earns it minutes). A write past it fails and
// the connection is reset. A browser that buffers audio and then stops reading (paused) is not
// affected beyond what the write timeout already did to it: a write that waits --timeout fails
// and the connection closes, and the browser asks again with a Range when it plays on.
//
// A Subsonic app paused on a transcode (which has no ranges) lost the song after --timeout: a
// stream marked pausable (allow_pause) is held on when either rule would cut it, a second at a
// time added to both, for RequestDeadlines::pause_s in all, while it holds one of a bounded
// number of slots (paused_streams.h); without one it is cut as any answer is.
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(int sock, time_t read_s, time_t write_s, RequestDeadlines deadlines, int64_t max_body, PausedStreams& paused)
      : sock_(sock), read_s_(read_s), write_s_(write_s), deadlines_(deadlines), max_body_(max_body), paused_streams_(paused) {}
  ~DeadlineStream() override { end_pause(); }
  DeadlineStream(const DeadlineStream&) = delete;
  DeadlineStream& operator=(const DeadlineStream&) = delete;

  void allow_pause(const std::string& holder) {
    pause_holder_ = holder;
    may_pause_ = deadlines_.pause_s > 0;
  }

  // A new request on the connection: its head's deadline starts now (its first byte is here).
  void start_request() {
    phase_ = Phase::Head;
    head_deadline_ = Clock::now() + std::chrono::seconds(deadlines_.head_s);
    in_head_ = true, mid_line_ = false;
    head_lines_ = 0, current_line_ = 0;
    line_.clear(), line_taken_ = 0;
    raw_line_.clear(), raw_headers_.clear();
    refusal_ = {}, body_refusal_ = {};
    absolute_authority_.reset();
    framing_.reset();
    timed_out_ = false, close_ = false;
    writing_ = false;
    end_pause();
  }

  // cpp-httplib parsed the head (its setup_request hook): the headers get their values as sent,
  // the head is judged, the query parsed again (parse_query), and the body's deadline starts.
  void head_read(httplib::Request& req) {
    phase_ = Phase::Body;
    body_start_ = Clock::now();
    body_received_ = 0;
    req.headers = headers_as_sent(req.headers);
    if (!refusal_.status) refusal_ = judge_head(req);
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
    req.params = parse_query(req.target);
  }

  bool head_complete() const { return phase_ == Phase::Body; }
  const HeadRefusal& refusal() const { return refusal_; }
  const HeadRefusal& body_refusal() const { return body_refusal_; }
  bool timed_out() const { return timed_out_; }
  void close_after_answer() { close_ = true; }
  bool closing() const { return close_; }
  // Bytes of the next request already read from the socket.
  bool has_pending() const { return buffered_ < filled_ || line_taken_ < line_.size(); }

  bool is_readable() const override {
    return !expired() && (has_pending() || wait(POLLIN, read_timeout_ms()));
  }
  // Room in the socket within the socket timeout (--timeout) and before the response's
  // deadline, which moves on as the client reads: it is taken again after each wait it cut.
  bool is_writable() const override {
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

  // Whether a response was cut at its deadline (the connection is then reset, not closed).
  bool write_timed_out() const { return write_timed_out_; }

  ssize_t read(char* ptr, size_t size) override {
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
  ssize_t write(const char* ptr, size_t size) override {
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
  void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(false, ip, port); }
  socket_t socket() const override { return sock_; }

 private:
  enum class Phase { Head, Body };
  int sock_;
  time_t read_s_, write_s_;
  RequestDeadlines deadlines_;
  Phase phase_ = Phase::Head;
  Clock::time_point head_deadline_{}, body_start_{};
  int64_t body_received_ = 0;
  HeadRefusal refusal_, body_refusal_;
  int64_t max_body_;
  // The authority of a target in absolute-form (http://HOST:PORT/path), which stands for Host.
  std::optional<std::string> absolute_authority_;
  std::optional<ChunkFraming> framing_;  // a chunked body's framing, followed as it is read
  bool timed_out_ = false, close_ = false;
  // The response being written: since its first byte, and how many bytes went out.
  bool writing_ = false;
  mutable bool write_timed_out_ = false;  // set where a write is refused, is_writable included
  // A stream a player may pause (allow_pause): for whom, whether it holds a slot, how long it
  // was held past its limits so far.
  PausedStreams& paused_streams_;
  std::string pause_holder_;
  bool may_pause_ = false;
  mutable bool pause_slot_ = false;
  mutable std::chrono::milliseconds paused_{0};
  Clock::time_point write_start_{};
  int64_t written_ = 0;
  char buf_[4096];
  size_t buffered_ = 0, filled_ = 0;
  // The request head, line by line (cpp-httplib reads it byte by byte), so that its Range line
  // can be rewritten before cpp-httplib parses it (served_range_line), and its bytes checked.
  bool in_head_ = true, mid_line_ = false;
  int head_lines_ = 0, current_line_ = 0;  // lines begun; the one being read (0: the request line)
  std::string line_;
  size_t line_taken_ = 0;
  // The header lines as sent (a long one gathered from its pieces), name and value.
  std::string raw_line_;
  std::vector<std::pair<std::string, std::string>> raw_headers_;

  // cpp-httplib (0.11) URL-decodes every header value, so that "Authorization: Bearer ab%41c"
  // reads as "abAc" (a token with a % could never be given) and "Content-Length: 5%30" as 50.
  // Values are opaque (RFC 9110, 5.5): the headers are taken again from the lines as sent, split
  // as cpp-httplib splits them; only the connection's addresses, which cpp-httplib adds, are
  // kept from its list (and a client's own headers of those names are dropped).
  httplib::Headers headers_as_sent(const httplib::Headers& parsed) const {
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

  // A complete header line as sent, split as cpp-httplib's parse_header splits it: the name up
  // to the first colon, the value after the spaces that follow it, trailing spaces left out; a
  // line without a colon or with an empty value is left out, as cpp-httplib leaves it.
  void keep_header(std::string line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    const size_t colon = line.find(':');
    if (colon == std::string::npos) return;
    const size_t value = line.find_first_not_of(" \t", colon + 1);
    if (value == std::string::npos) return;
    raw_headers_.emplace_back(line.substr(0, colon), line.substr(value));
  }

  ssize_t read_raw(char* ptr, size_t size) {
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

  ssize_t read_head(char* ptr, size_t size) {
    if (line_taken_ == line_.size()) {
      const bool line_start = !mid_line_;
      line_.clear(), line_taken_ = 0;
      for (;;) {
        char c = 0;
        const ssize_t n = read_raw(&c, 1);
        if (n <= 0) {
          if (line_.empty()) return n;
          break;
        }
        line_ += c;
        // A longer line passes in pieces, unchanged; the request line is gathered whole up to
        // a byte past cpp-httplib's limit (so that it can be put in origin-form; a longer one
        // is answered 414 as it was).
        const size_t longest = line_start && head_lines_ == 0 ? kLongestRequestLine + 3 : sizeof buf_;
        if (c == '\n' || line_.size() >= longest) break;
      }
      mid_line_ = line_.back() != '\n';
      if (line_start && line_ == "\r\n") {
        in_head_ = false;  // the body, if any, is read as it comes
      } else {
        if (line_start) current_line_ = head_lines_++;
        check_head_piece(line_start);
        if (line_start && !mid_line_ && current_line_ == 0) {
          RequestTarget target = origin_form(line_);
          line_ = std::move(target.line);
          absolute_authority_ = std::move(target.authority);
          if (!target.problem.empty() && !refusal_.status) refusal_ = {400, "bad request", target.problem};
        } else if (line_start && !mid_line_) {
          line_ = served_range_line(line_);
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

  // RFC 9112 (2.2, 5.2, 5.5): a head line must not hold a control character other than a tab
  // (a NUL, a lone CR: read differently by different parsers), and a header line must not start
  // with a space or tab (obsolete line folding). The first such fault is the head's refusal.
  void check_head_piece(bool line_start) {
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

  Clock::time_point deadline() const {
    if (phase_ == Phase::Head) return head_deadline_;
    const int64_t earned_ms = body_received_ * kBodySecondsPerMB * 1000 / (int64_t{1} << 20);
    return body_start_ + std::chrono::seconds(deadlines_.body_s) + std::chrono::milliseconds(earned_ms);
  }
  bool expired() const { return Clock::now() >= deadline(); }

  // How much longer a response held at its limits may wait (0: none): a pausable stream, within
  // its pause_s, holding a paused-stream slot (taken on its first pause).
  std::chrono::milliseconds pause_step() const {
    const auto limit = std::chrono::milliseconds(int64_t{deadlines_.pause_s} * 1000);
    if (!may_pause_ || paused_ >= limit) return std::chrono::milliseconds(0);
    if (!pause_slot_) {
      pause_slot_ = paused_streams_.take(pause_holder_, deadlines_.pauses_per_holder, deadlines_.pauses_total);
      if (!pause_slot_) return std::chrono::milliseconds(0);
    }
    return std::min(std::chrono::milliseconds(1000), limit - paused_);
  }
  void end_pause() {
    if (pause_slot_) paused_streams_.give_back(pause_holder_);
    pause_slot_ = false, may_pause_ = false;
    paused_ = std::chrono::milliseconds(0);
  }

  // The response's deadline. Only the bytes the client has received earn time: those written
  // less those still in the socket's send queue, which the kernel grows to megabytes (a reader
  // that takes nothing would otherwise earn minutes from what sits there).
  Clock::time_point write_deadline() const {
    int queued = 0;
    if (::ioctl(sock_, SIOCOUTQ, &queued) != 0) queued = 0;
    const int64_t received = std::max<int64_t>(0, written_ - queued);
    const int64_t earned_ms = received * 1000 / deadlines_.response_min_bytes_per_s;
    return write_start_ + std::chrono::seconds(deadlines_.response_grace_s) + std::chrono::milliseconds(earned_ms) + paused_;
  }

  // The socket timeout, or the time to the deadline when that is sooner, rounded up: a wait cut
  // by the deadline ends after it, so that the failed read is known to be late (timed_out_).
  int read_timeout_ms() const {
    const auto left_us = std::chrono::duration_cast<std::chrono::microseconds>(deadline() - Clock::now()).count();
    const int64_t left_ms = left_us <= 0 ? 0 : (left_us + 999) / 1000 + 1;
    return static_cast<int>(std::min<int64_t>(static_cast<int64_t>(read_s_) * 1000, left_ms));
  }
  bool wait(short events, int timeout_ms) const {
    pollfd p{sock_, events, 0};
    for (;;) {
      const int r = ::poll(&p, 1, timeout_ms);
      if (r < 0 && errno == EINTR) continue;
      return r > 0;
    }
  }
  ssize_t recv_some(char* ptr, size_t size) {
    for (;;) {
      const ssize_t n = ::recv(sock_, ptr, size, 0);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }
  ssize_t take(char* ptr, size_t size) {
    const size_t n = std::min(size, filled_ - buffered_);
    std::memcpy(ptr, buf_ + buffered_, n);
    buffered_ += n;
    return static_cast<ssize_t>(n);
  }
  void address_of(bool remote, std::string& ip, int& port) const {
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
};

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
  std::string ip;
  int port = 0;
  strm.get_remote_ip_and_port(ip, port);
  const bool counted = !ip.empty() && !is_loopback(ip) && ip.rfind("::ffff:127.", 0) != 0;
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
