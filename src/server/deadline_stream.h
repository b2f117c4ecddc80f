// The stream each connection of `clapsearch serve` is read and written through (HttpServer in
// connection.h serves it): deadlines for a request's head and body and for the answer, the
// request head read line by line so that it can be checked and rewritten before cpp-httplib
// parses it (request_head.h), a chunked body's framing followed, and a paused player's stream
// held on within its bounds (paused_streams.h).
#pragma once
#include <httplib.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/chunk_framing.h"
#include "server/connection.h"
#include "server/paused_streams.h"

namespace clap::server {

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
  using Clock = std::chrono::steady_clock;

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
  void start_request();

  // cpp-httplib parsed the head (its setup_request hook): the headers get their values as sent,
  // the head is judged, the query parsed again (parse_query), and the body's deadline starts.
  void head_read(httplib::Request& req);

  bool head_complete() const { return phase_ == Phase::Body; }
  const HeadRefusal& refusal() const { return refusal_; }
  const std::string& too_long_request_line() const { return too_long_line_; }
  const std::string& request_line() const { return request_line_; }
  const HeadRefusal& body_refusal() const { return body_refusal_; }
  bool timed_out() const { return timed_out_; }
  void close_after_answer() { close_ = true; }
  bool closing() const { return close_; }
  // Bytes of the next request already read from the socket.
  bool has_pending() const { return buffered_ < filled_ || line_taken_ < line_.size(); }

  bool is_readable() const override;
  // Room in the socket within the socket timeout (--timeout) and before the response's
  // deadline, which moves on as the client reads: it is taken again after each wait it cut.
  bool is_writable() const override;

  // Whether a response was cut at its deadline (the connection is then reset, not closed).
  bool write_timed_out() const { return write_timed_out_; }

  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
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
  // The request's target as sent, when cpp-httplib was given it otherwise (origin_form).
  std::optional<std::string> sent_target_;
  // A request line over cpp-httplib's limit (answered 414), as much of it as the head's limit
  // lets through (kLongestHead): its target says whether the answer is the REST API's or a
  // Subsonic envelope, and in which format (server.cpp). Its first 8 KB only, f=json after them
  // was never read and the envelope was XML (hostile pass 18 left it; pass 19).
  std::string too_long_line_;
  // The request line as sent (its first 8 KB), before origin_form: a line cpp-httplib could not
  // split says there which API it was for (server.cpp).
  std::string request_line_;
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
  static constexpr int kLeadingEmptyLines = 4;  // empty lines skipped before a request line
  int leading_empty_lines_ = 0;
  size_t head_bytes_ = 0;  // of the head so far (kLongestHead)
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
  httplib::Headers headers_as_sent(const httplib::Headers& parsed) const;

  // A complete header line as sent, split as cpp-httplib's parse_header splits it: the name up
  // to the first colon, the value after the spaces that follow it, trailing spaces left out; a
  // line without a colon or with an empty value is left out, as cpp-httplib leaves it.
  void keep_header(std::string line);

  ssize_t read_raw(char* ptr, size_t size);

  ssize_t read_head(char* ptr, size_t size);

  // RFC 9112 (2.2, 5.2, 5.5): a head line must not hold a control character other than a tab
  // (a NUL, a lone CR: read differently by different parsers), and a header line must not start
  // with a space or tab (obsolete line folding). The first such fault is the head's refusal.
  void check_head_piece(bool line_start);

  Clock::time_point deadline() const;
  bool expired() const { return Clock::now() >= deadline(); }

  // How much longer a response held at its limits may wait (0: none): a pausable stream, within
  // its pause_s, holding a paused-stream slot (taken on its first pause).
  std::chrono::milliseconds pause_step() const;
  void end_pause();

  // The response's deadline. Only the bytes the client has received earn time: those written
  // less those still in the socket's send queue, which the kernel grows to megabytes (a reader
  // that takes nothing would otherwise earn minutes from what sits there).
  Clock::time_point write_deadline() const;

  // The socket timeout, or the time to the deadline when that is sooner, rounded up: a wait cut
  // by the deadline ends after it, so that the failed read is known to be late (timed_out_).
  int read_timeout_ms() const;
  bool wait(short events, int timeout_ms) const;
  ssize_t recv_some(char* ptr, size_t size);
  ssize_t take(char* ptr, size_t size);
  void address_of(bool remote, std::string& ip, int& port) const;
};

}  // namespace clap::server
