// The HTTP/1.1 connections of `clapsearch serve`: cpp-httplib's server (0.11) with its
// per-connection loop replaced, so that a connection is read through the server's own stream.
// That stream gives each request head and body a deadline (slow clients), keeps bytes a client
// sent ahead (pipelined requests) for the next request of the connection, rewrites a request's
// Range line and an absolute-form target (http://host/path) before cpp-httplib parses them,
// checks the head against RFC 9112's framing rules, follows a chunked body's framing;
// the loop closes a connection after an answer that must not be followed by another request on
// it. docs/security.md says what is guaranteed. The stream is deadline_stream.h, the checks of
// the head request_head.h; this file's connection.cpp runs the loop and the thread pool.
#pragma once
#include <httplib.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "server/paused_streams.h"

namespace clap::server {

// How long a client may take to send a request, and to read its answer (docs/security.md,
// "Slow clients").
struct RequestDeadlines {
  int head_s = 10;  // the request line and headers, in all, from their first byte
  // A body: this long from the end of the head, plus kBodySecondsPerMB for each MB received,
  // so that a body must arrive at 100 KB/s on average once its first seconds are past.
  int body_s = 10;
  // A response: this long from its first byte (the write timeout, --timeout), plus 1 s for each
  // response_min_bytes_per_s bytes the client has received, so that it must read the response
  // at that rate on average once its first seconds are past; the connection is reset otherwise.
  int response_grace_s = 30;
  int64_t response_min_bytes_per_s = 8 << 10;
  // A stream a player may pause (allow_pause: an authenticated /rest/stream or download): when
  // the write timeout or the rate rule above would cut it, it is held on for up to pause_s more
  // in all (0: never), while its holder (the user) holds fewer than pauses_per_holder such held
  // streams and the server fewer than pauses_total (each holds a thread: the rest stay free).
  int pause_s = 600;
  int pauses_per_holder = 2;
  int pauses_total = 4;
};
constexpr int kBodySecondsPerMB = 10;

// The refusal of a request head that breaks a rule of RFC 9112 (two Host headers, two different
// Content-Lengths, a control character in a header, ...): status 0 when the head is sound. The
// connection is closed after it is answered.
struct HeadRefusal {
  int status = 0;
  std::string error, detail;
};

// About the request this thread is answering (an HttpServer connection thread), for the
// server's handlers: how its head was judged, and whether it came too slowly (its head or body
// passed its deadline; it is answered 408 and the connection closed).
const HeadRefusal& head_refusal();
// How a chunked request body broke its framing (a chunk size that is not hexadecimal digits, a
// chunk over the body limit, a chunk not followed by CRLF: chunk_framing.h), status 0 when it did
// not: the body's read fails at that byte, and the connection is closed after the answer.
const HeadRefusal& body_refusal();
bool request_timed_out();
// The first bytes of this thread's request line when it was over cpp-httplib's limit (it answers
// 414 without parsing it), "" otherwise.
const std::string& too_long_request_line();
// The first bytes of this thread's request line as the client sent it.
const std::string& request_line();

// The answer this thread is about to write is a stream a player may pause, on behalf of
// `holder` (a user: RequestDeadlines::pause_s says how long, and how many at once).
void allow_pause(const std::string& holder);

// Splits a URL's query (the target's text after its first '?') into parameters at the FIRST
// '=' of each '&'-separated pair, decoding both sides ('+' is a space): `q=x=y` is q = "x=y",
// `where=year>=1980` is where = "year>=1980" (cpp-httplib's parser keeps the text after the
// last '='). A pair without '=' is a parameter with an empty value; an empty name is dropped.
httplib::Params parse_query(const std::string& target);

// An origin-form target (/path?query) with its path's runs of '/' merged and its dot segments
// ("." and "..", RFC 3986, 5.2.4) taken out, the query as it is: "//rest/ping?f=json" is
// "/rest/ping?f=json", as nginx (merge_slashes, its default) and Go's ServeMux read it. A Subsonic
// client whose server address ends in '/' sends "//rest/..." (its base URL and "/rest/ping"),
// and was answered the REST API's 404. Percent-encoded bytes are left as they are: cpp-httplib
// decodes them after, and every check and route reads that one decoded path ("/rest/%2e%2e/api/x"
// is "/rest/../api/x", which no route takes). A target that is not a path is returned as it is.
std::string normal_target(const std::string& target);

// A request's Range line as the server reads it (RFC 9110, 14.2): one valid bytes range is
// kept, its numbers clamped to 2^63-1; anything else (several ranges too: H10S-1) is renamed so
// that nothing reads it. Other lines are returned unchanged.
std::string served_range_line(const std::string& line);

class HttpServer final : public httplib::Server {
 public:
  HttpServer();

  RequestDeadlines deadlines;
  int per_address = 8;  // connections served at once per client address (loopback not counted)
  int send_buffer = 0;  // SO_SNDBUF of each connection; 0 = the kernel's own (ServerOptions)

  // Serves connections with `threads` threads. A connection waiting for its next request (idle
  // keep-alive, or a new one that sent nothing yet) gives its thread up after kIdleGraceMs when
  // another accepted connection waits for a thread, instead of after the whole keep-alive time:
  // 16 idle connections held all 16 threads 5 s at a time (docs/security.md, Known gaps).
  void set_threads(int threads);
  static constexpr int kIdleGraceMs = 500;

  // cpp-httplib listens with a backlog of 5 (compiled into Debian's library). A burst of new
  // connections beyond it (16 clients connecting at once, a page opening its requests) had its
  // SYNs dropped and retried by the clients' kernels after 1 s: 1.1 s stalls in the load
  // benchmark. Listening again on the bound socket only raises the backlog (Linux, BSD).
  void raise_backlog();

 private:
  std::mutex open_mutex_;
  std::map<std::string, int> open_;  // connections being served per non-loopback address
  // Connections accepted and waiting for a thread (set_threads' pool counts them).
  std::shared_ptr<std::atomic<int>> waiting_ = std::make_shared<std::atomic<int>>(0);
  PausedStreams paused_;

  bool process_and_close_socket(socket_t sock) override;
};

}  // namespace clap::server
