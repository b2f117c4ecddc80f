#include "server/server.h"

#include <httplib.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <regex>
#include <string>
#include <thread>

#include "core/error.h"
#include "server/api.h"
#include "server/assets.h"
#include "server/client_address.h"
#include "server/connection.h"
#include "server/subsonic.h"
#include "service/accounts.h"
#include "service/library.h"

namespace clap::server {

namespace fs = std::filesystem;

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  // A server listening on "::" takes IPv4 connections too, and names their clients by IPv4-mapped
  // IPv6 addresses: a reverse proxy on this machine is "::ffff:127.0.0.1" there. Read as another
  // address, its wrong tokens counted against every client behind it (H16S-2).
  std::string v4 = host;
  if (v4.size() > 7 && (v4.compare(0, 7, "::ffff:") == 0 || v4.compare(0, 7, "::FFFF:") == 0)) v4 = v4.substr(7);
  return v4.rfind("127.", 0) == 0 && v4.find_first_not_of("0123456789.") == std::string::npos;
}

namespace {

std::string lower_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The access log never writes a query (it may hold credentials: Subsonic's u, p, t, s, apiKey). A
// client that forgets the '?' puts its parameters in the path ("/rest/ping&u=alice&p=..."), so
// the path is written up to its first '&', ';' or '=' - no route of ours has one - and the rest
// is elided.
std::string logged_path(const std::string& path) {
  const size_t cut = path.find_first_of("&;=");
  return cut == std::string::npos ? path : path.substr(0, cut) + "[...]";
}

}  // namespace

bool host_allowed(const std::string& host_header, const std::vector<std::string>& allowed) {
  std::string name = lower_ascii(host_header), port;
  if (!name.empty() && name.front() == '[') {  // [v6]:port
    const size_t close = name.find(']');
    if (close == std::string::npos) return false;
    port = name.substr(close + 1);
    name = name.substr(0, close + 1);
  } else if (const size_t colon = name.find(':'); colon != std::string::npos) {
    port = name.substr(colon);
    name = name.substr(0, colon);
  }
  if (!port.empty() && (port.size() < 2 || port.size() > 6 || port[0] != ':' ||
                        port.find_first_not_of("0123456789", 1) != std::string::npos))
    return false;
  if (name.empty()) return false;
  if (name == "[::1]" || (name != "::1" && is_loopback(name))) return true;
  for (const std::string& a : allowed) {
    std::string n = lower_ascii(a);
    if (!n.empty() && n == name) return true;
  }
  return false;
}

namespace {

std::string content_type_of(const std::string& name) {
  const std::string ext = fs::path(name).extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  return "application/octet-stream";
}

// Compares without leaking where the first difference is.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

thread_local std::chrono::steady_clock::time_point request_start;

// /api/tracks/ID/audio: the one route an <audio> element fetches (it cannot send a header).
bool is_audio_path(const std::string& path) {
  const std::string prefix = "/api/tracks/", suffix = "/audio";
  if (path.size() <= prefix.size() + suffix.size() || path.rfind(prefix, 0) != 0 ||
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  const std::string id = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  return id.find('/') == std::string::npos;
}


// Whether a route or a file of the page answers `path` (by any method): the API's routes,
// /rest/ (the Subsonic API) and the page's files.
bool served_path(const std::string& path) {
  if (path.rfind("/rest/", 0) == 0) return true;
  for (const Asset& a : assets())
    if (path == (a.name == "index.html" ? std::string("/") : "/" + a.name)) return true;
  for (const Route& r : Server::routes())
    if (std::regex_match(path, std::regex(r.pattern))) return true;
  return false;
}

// Why cpp-httplib (0.11) refused a request, which it answers 400 with no word: a request line
// that is not METHOD TARGET HTTP/1.x (an unknown method, HTTP/2.0, an empty line first), a
// header line over its limit, a method no route takes (TRACE), or a body it could not read.
// Its parser leaves what it read of the request line in `req`, and adds REMOTE_ADDR only once
// the whole head is read, which tells them apart. A refusal of the head's bytes
// (head_refusal) says it better.
// A refusal of a /rest/ request is a Subsonic failure envelope (code 0, the reason) in the format
// its parameters ask for: a Subsonic client reads the envelope whatever the status, and took the
// REST API's {error, detail} for no answer (H12P-9's 414; its siblings, hostile pass 13, H13S-3:
// a header line over 8 KB, a form POST over 1 MB or not a form, an unknown method, a head over
// its size). `close`: the connection is closed after it (a body left unread). False for others.
bool refused_subsonic(const httplib::Request& req, httplib::Response& res, int status, const std::string& error,
                      const std::string& detail, bool close) {
  if (req.path.rfind("/rest/", 0) != 0) return false;
  subsonic::answer_failure(req, res, {0, detail.empty() ? error : error + ": " + detail}, status);
  if (close) {
    const std::string body = res.body, type = res.get_header_value("Content-Type");
    res.body.clear();
    answer_and_close(res, status, body, type);
  }
  return true;
}

// The target of a request line split at any run of spaces and tabs, an absolute-form target's
// path (http://HOST/rest/ping: /rest/ping), "" for none.
std::string target_in_line(const std::string& line) {
  const auto gap = [](char c) { return c == ' ' || c == '\t'; };
  size_t start = 0;
  while (start < line.size() && !gap(line[start])) ++start;
  while (start < line.size() && gap(line[start])) ++start;
  size_t end = start;
  while (end < line.size() && !gap(line[end]) && line[end] != '\r' && line[end] != '\n') ++end;
  std::string target = line.substr(start, end - start);
  if (const size_t scheme = target.find("://"); scheme != std::string::npos && target.find('/') == scheme + 1) {
    const size_t path = target.find_first_of("/?", scheme + 3);
    target = path == std::string::npos ? "/" : target.substr(path);
  }
  return target;
}

std::string refused_request(const httplib::Request& req) {
  if (const HeadRefusal& refused = head_refusal(); refused.status != 0) return refused.detail;
  const auto shown = [](const std::string& s) {
    std::string out;
    for (const char c : s.substr(0, 40)) out += c >= 0x20 && c < 0x7f ? c : '?';
    return s.size() > 40 ? out + "..." : out;
  };
  const std::string form = "a request starts with a line METHOD TARGET HTTP/1.1 (or HTTP/1.0), one space apart";
  const bool routed = req.method == "GET" || req.method == "HEAD" || req.method == "POST" || req.method == "OPTIONS";
  if (req.has_header("REMOTE_ADDR"))
    return routed ? "the request body could not be read"
                  : "the method \"" + shown(req.method) + "\" is not answered here (GET, HEAD, POST and OPTIONS are)";
  static const char* kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PRI"};
  if (req.method.empty()) return "the request line is empty: " + form;
  if (req.target.empty() || req.version.empty()) return "the request line \"" + shown(req.method + " " + req.target) + "\" is incomplete: " + form;
  if (std::none_of(std::begin(kMethods), std::end(kMethods), [&](const char* m) { return req.method == m; }))
    return "the method \"" + shown(req.method) + "\" is not an HTTP method (GET, HEAD, POST and OPTIONS are answered here)";
  if (req.version != "HTTP/1.1" && req.version != "HTTP/1.0")
    return "\"" + shown(req.version) + "\" is not HTTP/1.1 or HTTP/1.0 (a space in the target must be sent as %20): " + form;
  return "a header line could not be read: each is NAME: VALUE, at most 8192 bytes";
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  service::LibraryOptions library_options;  // as opened; a reopened library reads the index's model
  std::unique_ptr<Api> api;
  std::unique_ptr<subsonic::Rest> rest;  // the OpenSubsonic API under /rest/ (subsonic.h)
  std::mutex reopen_mutex;  // one reopening at a time
  // A reopen that fails (the new set's model cannot be loaded: a folder gone, a hub cache without
  // it) is tried again after a delay that doubles from the refresh interval up to a minute, not
  // at every refresh and every request (each try reads the model's files); until then the last
  // failure answers. Its reason is logged once, and again only when it changes. Guarded by reopen_mutex.
  std::chrono::steady_clock::time_point reopen_retry_at{};
  std::chrono::milliseconds reopen_delay{0};
  std::string reopen_failure;
  HttpServer http;
  int port = 0;

  std::thread refresher;
  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::atomic<bool> listen_ended{false};

  // cpp-httplib's stop() ends its listen loop only while that loop runs (is_running): a stop asked
  // before (SIGTERM after serve's "listening" line, before the loop started: a window a loaded
  // machine stretches) did nothing, and the server served on until it was killed (H16S-3). The
  // refresh thread ends when a stop is asked, and then stops the loop once it runs. A second stop
  // of a running loop finds its socket gone and does nothing.
  void end_listening() {
    while (!listen_ended) {
      if (http.is_running()) {
        http.stop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  void log(const std::string& line) const {
    if (options.log) options.log(line);
  }

  // Polls the store; after a refresh that took T, waits at least 4T before the next check, so
  // an indexer committing track after track into a large library does not keep the server
  // re-reading it (a refresh reads only the changed tracks when the store can tell which, but a
  // full reload reads the whole catalog).
  void refresh_loop() {
    std::unique_lock lock(stop_mutex);
    auto wait = std::chrono::milliseconds(options.refresh_ms);
    while (!stopping) {
      stop_cv.wait_for(lock, wait);
      if (stopping) break;
      lock.unlock();
      wait = std::chrono::milliseconds(options.refresh_ms);
      try {
        const auto start = std::chrono::steady_clock::now();
        service::RefreshInfo how;
        const std::shared_ptr<service::Library> library = api->library();
        bool changed = false;
        try {
          changed = library->refresh(false, &how);
        } catch (const service::ModelChanged&) {
          try {
            reopen_library();
          } catch (const std::exception& e) {  // logged by reopen_library, once per reason
            api->set_unavailable(e.what());
            lock.lock();
            continue;
          }
        }
        if (changed) {
          const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
          wait = std::max(wait, 4 * took);
          const auto snap = library->snapshot();
          const std::string read =
              how.incremental ? std::to_string(how.changed) + " changed, " + std::to_string(how.removed) +
                                    " removed; read incrementally in " + std::to_string(took.count()) + " ms"
                              : "reloaded in " + std::to_string(took.count()) + " ms";
          log("library changed: " + std::to_string(snap->tracks().size()) + " tracks (" + read +
              "), now serving generation " + std::to_string(snap->library_generation()));
        }
        api->set_unavailable("");
      } catch (const std::exception& e) {
        api->set_unavailable(e.what());
        log(std::string("cannot reload the library: ") + e.what());
      }
      lock.lock();
    }
  }

  // The index's active embedding set changed (a model upgrade switched it): a library of the
  // new set, fully loaded and with its model ready, replaces the old one. Requests holding the
  // old one finish on it; a request that finds the old one outdated waits here and is answered
  // on the new one. Throws (and the old library stays) when the new set's model cannot be loaded.
  void reopen_library() {
    std::lock_guard lock(reopen_mutex);
    const std::shared_ptr<service::Library> old = api->library();
    try {
      old->refresh();
      return;  // still current: another request or the refresh loop reopened it first
    } catch (const service::ModelChanged&) {
    }
    // Another file moved over the index: every connection to the old one closed first (the
    // library's and the Subsonic accounts'), else the new one is refused (H12S-3).
    if (old->close_if_replaced()) service::accounts_connection(old->location()).close_if_replaced();
    const auto now = std::chrono::steady_clock::now();
    if (now < reopen_retry_at) throw Error(reopen_failure);
    service::LibraryOptions o = library_options;
    o.model.clear();  // the model recorded for the new set, not the one named at start
    std::shared_ptr<service::Library> next;
    // A file moved over the index again while it was being opened (a second restore, a script
    // moving copies) is no failure of the index or its model: it is opened again at once, up to
    // 3 times here, and then at the next request, with no delay. It was taken for a model that
    // cannot be loaded (H17S-2): "cannot serve the index's new embedding set", and every request
    // was refused for a delay doubling at each such race up to 60 s, the file long settled.
    for (int attempt = 1;; ++attempt) {
      try {
        next = std::make_shared<service::Library>(o, service::Access::ReadWriteIfPossible);
      } catch (const std::exception& e) {
        // Opening the index reads only its file, not the model: an index deleted and being made
        // again fails here ("no index here", "no model recorded yet") until `index` records its
        // model, so it is tried again at every refresh. The model's growing delay below kept such a
        // server at 503 for seconds to a minute after the new index was ready.
        reopen_delay = std::chrono::milliseconds(0);
        reopen_retry_at = {};
        if (reopen_failure != e.what())
          log(std::string("cannot open the index again: ") + e.what() +
              " (tried again at every refresh; logged again when the reason changes)");
        reopen_failure = e.what();
        throw;
      }
      try {
        // The model first: when it cannot be loaded, nothing else was read.
        next->model();  // the text tower loaded before the first request needs it
        next->refresh(/*force=*/true);
        break;
      } catch (const service::ModelChanged&) {
        if (next->close_if_replaced()) service::accounts_connection(next->location()).close_if_replaced();
        next.reset();
        reopen_delay = std::chrono::milliseconds(0);
        reopen_retry_at = {};
        if (attempt < 3) continue;
        throw;
      } catch (const std::exception& e) {
        constexpr std::chrono::milliseconds kLongest{60000};
        reopen_delay = std::min(kLongest, std::max(std::chrono::milliseconds(options.refresh_ms), 2 * reopen_delay));
        reopen_retry_at = now + reopen_delay;
        if (reopen_failure != e.what())
          log(std::string("cannot serve the index's new embedding set: ") + e.what() + " (tried again after " +
              std::to_string(reopen_delay.count()) + " ms, up to every " + std::to_string(kLongest.count() / 1000) +
              " s; logged again when the reason changes)");
        reopen_failure = e.what();
        throw;
      }
    }
    reopen_delay = std::chrono::milliseconds(0);
    reopen_retry_at = {};
    reopen_failure.clear();
    api->set_library(next);
    const std::string was = old->identity().describe(), now_serving = next->identity().describe();
    log((was == now_serving ? "the index was opened again (its file was replaced): now serving " + now_serving
                            : "the index's active embedding set changed: now serving " + now_serving + " (was " + was + ")") +
        ", " + std::to_string(next->snapshot()->tracks().size()) + " tracks");
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  // Buffers of 1 MB and more (the library read in pages, a query's scores over every track, the
  // windows it reads) go back to the system when freed. glibc's default raises that threshold to
  // the largest block freed so far (up to 32 MB), after which such buffers stay in each request
  // thread's heap: a node over a million tracks held 0.28 GB more after ten /api/similar requests.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  Impl& s = *impl_;
  s.options = std::move(options);
  ServerOptions& o = s.options;
  // A token is sent in a header or a URL: visible ASCII only (a space or a control character
  // would be trimmed or refused on the way, and a token of spaces is no secret), 8 or more.
  if (!o.token.empty()) {
    const bool visible = std::all_of(o.token.begin(), o.token.end(), [](char c) { return c > ' ' && c < 0x7f; });
    if (!visible || o.token.size() < 8)
      throw InvalidArgument("the token must be 8 or more visible ASCII characters (no spaces or control characters)");
  }
  if (o.token.empty() && !is_loopback(o.host))
    throw Error("serving on " + o.host + " (not loopback) needs a token: pass --token SECRET or set CLAPSEARCH_TOKEN; "
                "every /api/ request must then carry it (Authorization: Bearer SECRET)");
  if (o.port < 0 || o.port > 65535) throw InvalidArgument("--port must be between 0 and 65535");

  service::LibraryOptions lo;
  lo.db = o.db;
  lo.model = o.model;
  lo.threads = o.threads;
  lo.text_precision = o.text_precision;
  lo.load_both_towers = true;  // whatever happens to the model file later, both kinds of query are answered
  lo.window_index = service::parse_window_index_mode(o.window_index);
  lo.note = nullptr;
  lo.warn = [&s](const std::string& w) { s.log("warning: " + w); };
  lo.max_model_runs = std::max(1, o.max_model_runs);
  lo.max_waiting = std::max(0, o.max_waiting);
  lo.model_wait_ms = static_cast<int64_t>(std::max(1, o.model_wait_s)) * 1000;
  s.library_options = lo;
  auto library = std::make_shared<service::Library>(lo, service::Access::ReadWriteIfPossible);
  library->refresh(/*force=*/true);  // the whole library loaded before the first request
  s.api = std::make_unique<Api>(std::move(library), o, [&s] { s.reopen_library(); });

  HttpServer& http = s.http;
  http.deadlines.head_s = std::max(1, o.head_timeout_s);
  http.deadlines.body_s = std::max(1, o.body_timeout_s);
  http.deadlines.response_grace_s = std::max(1, o.response_grace_s > 0 ? o.response_grace_s : o.timeout_s);
  http.deadlines.response_min_bytes_per_s = std::max<int64_t>(1, o.response_min_bytes_per_s);
  http.deadlines.pause_s = std::max(0, o.stream_pause_s);
  http.deadlines.pauses_per_holder = std::max(0, o.paused_streams_per_user);
  // Never every thread: one stays for everything else however many are configured.
  http.deadlines.pauses_total = std::clamp(o.paused_streams, 0, std::max(0, o.http_threads - 1));
  http.per_address = std::max(1, o.connections_per_address);
  http.send_buffer = std::max(0, o.send_buffer_bytes);
  http.set_threads(o.http_threads);
  http.set_read_timeout(o.timeout_s, 0);
  http.set_write_timeout(o.timeout_s, 0);
  http.set_keep_alive_timeout(5);
  // Responses are written in pieces (headers, body); without TCP_NODELAY a keep-alive client's
  // delayed ACK holds each small response ~40 ms (measured: every search took 44 ms).
  http.set_tcp_nodelay(true);
  http.set_keep_alive_max_count(100);
  // SO_REUSEADDR only (a restart binds at once, past the old socket's TIME_WAIT), never
  // cpp-httplib's default SO_REUSEPORT: with it a second `serve` on a port already served bound
  // it too, and the kernel split the connections between the two servers (two indexes answering
  // at random, a client's writes going to either) instead of the second saying the port is in use.
  http.set_socket_options([](socket_t sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Room for the multipart envelope around an upload of max_upload_bytes; the file itself is
  // checked against the limit exactly. cpp-httplib applies this to a declared Content-Length
  // only: bodies are bounded as they arrive by POST /api/like's reader and the pre-routing
  // handler below (no other route reads one).
  http.set_payload_max_length(static_cast<size_t>(o.max_upload_bytes) + (1 << 20));

  const auto screen = [&s](const httplib::Request& req, httplib::Response& res) {
    request_start = std::chrono::steady_clock::now();
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    // A request that has a body, refused here, is answered and its connection closed: the
    // body's unread bytes must not be taken for the client's next request.
    const bool body = req.has_header("Transfer-Encoding") ||
                      (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
    auto deny = [&req, &res, body](int status, const std::string& error, const std::string& detail) {
      if (refused_subsonic(req, res, status, error, detail, body)) return httplib::Server::HandlerResponse::Handled;
      if (body) {
        answer_and_close(res, status, error_body(error, detail));
      } else {
        res.status = status;
        res.set_content(error_body(error, detail), "application/json; charset=utf-8");
      }
      return httplib::Server::HandlerResponse::Handled;
    };
    // A head that breaks RFC 9112's rules (two Host headers, Content-Lengths that disagree, a
    // control character; connection.h) is refused whatever it asks for; the connection closes.
    if (const HeadRefusal& refused = head_refusal(); refused.status != 0) return deny(refused.status, refused.error, refused.detail);
    // Without a token, only requests addressed to this machine by a loopback name (or a name
    // the user allowed) are answered: a page on another site whose name was rebound to
    // 127.0.0.1 sends its own name as Host and gets nothing, the page included.
    if (s.options.token.empty() && !host_allowed(req.get_header_value("Host"), s.options.allowed_hosts))
      return deny(421, "misdirected request",
                  "this server answers only to Host 127.0.0.1, localhost or [::1] (start it with --allow-host NAME to "
                  "accept another name, or give it a --token)");
    // Request bodies: only POST /api/like takes one, and reads it counting bytes as they arrive
    // (api.cpp, read_upload): cpp-httplib would read any other whole into memory first, a
    // chunked one without limit. A declared length over the limit and a compressed body are
    // refused before a byte is read.
    // The Subsonic API's form POST (the formPost extension): parameters in a urlencoded body of
    // a declared length, at most 1 MB (a playlist of thousands of songs fits); the /rest/ route
    // reads it itself and adds every pair to the parameters (subsonic.cpp: cpp-httplib's own
    // form reading stops at 8 KB and keeps one value of a repeated name).
    if (body && req.method == "POST" && req.path.rfind("/rest/", 0) == 0) {
      const std::string type = req.get_header_value("Content-Type");
      if (type.rfind("application/x-www-form-urlencoded", 0) != 0)
        return deny(415, "unsupported media type", "a POST to /rest/ sends its parameters as application/x-www-form-urlencoded");
      const std::string encoding = req.get_header_value("Content-Encoding");
      if (!encoding.empty() && encoding != "identity")
        return deny(415, "compressed body", "send the form uncompressed (Content-Encoding " + encoding + " is not accepted)");
      const std::string n = req.get_header_value("Content-Length");
      if (n.empty() || req.has_header("Transfer-Encoding"))
        return deny(411, "length required", "a POST to /rest/ declares its Content-Length (no chunked body)");
      if (n.size() > 18 || n.find_first_not_of("0123456789") != std::string::npos || std::stoll(n) > static_cast<long long>(subsonic::kMaxFormBytes))
        return deny(413, "too large", "a form POST to /rest/ is at most 1 MB");
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (body) {
      if (req.method != "POST" || req.path != "/api/like") {
        // A body sent to a path nothing serves is answered as the same request without one
        // (404), not "too large" (H11P-1: subsonic-api's navidromeSession() POSTs 34 bytes of
        // JSON to Navidrome's /auth/login and was told 413 Payload Too Large).
        if (!served_path(req.path))
          return deny(404, "not found", req.path.rfind("/api/", 0) == 0 ? "no such route: see /api/openapi.json" : "no such page");
        return deny(413, "too large", "this route takes no request body (only POST /api/like and a form POST to /rest/ take one)");
      }
      const std::string encoding = req.get_header_value("Content-Encoding");
      if (!encoding.empty() && encoding != "identity")
        return deny(415, "compressed body", "send the upload uncompressed (Content-Encoding " + encoding + " is not accepted)");
      if (req.has_header("Content-Length")) {
        const std::string n = req.get_header_value("Content-Length");
        const int64_t limit = s.options.max_upload_bytes + (1 << 20);
        if (n.empty() || n.size() > 18 || n.find_first_not_of("0123456789") != std::string::npos || std::stoll(n) > limit)
          return deny(413, "too large",
                      "the request body is over the server's limit of " + std::to_string(s.options.max_upload_bytes >> 20) + " MB");
      }
    }
    if (req.path.rfind("/api/", 0) != 0) return httplib::Server::HandlerResponse::Unhandled;
    if (!s.options.token.empty()) {
      std::string given;
      const std::string auth = req.get_header_value("Authorization");
      if (auth.rfind("Bearer ", 0) == 0) given = auth.substr(7);
      // ?token= only where a header cannot be sent: the audio element's URL. Elsewhere a token in
      // the URL would end up in logs and histories for nothing.
      else if (req.has_param("token") && is_audio_path(req.path)) given = req.get_param_value("token");
      // Wrong tokens are limited per client address as wrong Subsonic passwords are (H15S-3: a
      // client guessed 800 tokens a second, and the owner chooses the token). Not from loopback:
      // a reverse proxy's requests all come from there, and one client's guesses would lock out
      // every other; a proxy that does not sign users in must limit them itself.
      // An IPv6 client is counted by its /64 (client_key: it can send from any address of it).
      const std::chrono::seconds lockout(s.options.login_lockout_s);
      const bool limited = !is_loopback(req.remote_addr);
      const std::string client = client_key(req.remote_addr, req.local_addr);
      if (const auto wait = limited ? subsonic::token_lockout_wait(client, lockout) : std::chrono::seconds(0);
          wait.count() > 0) {
        res.set_header("WWW-Authenticate", "Bearer");
        return deny(401, "unauthorized",
                    "too many wrong tokens from this address: try again in " + std::to_string(wait.count()) + " s");
      }
      if (!same_secret(given, s.options.token)) {
        if (limited) subsonic::wrong_token(client, lockout);
        res.set_header("WWW-Authenticate", "Bearer");
        return deny(401, "unauthorized",
                    "this server needs its token: Authorization: Bearer TOKEN (?token=TOKEN only on /api/tracks/ID/audio)");
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  };
  http.set_pre_routing_handler(screen);
  // A client that asks before sending its body (Expect: 100-continue) was told to go ahead, then
  // refused (401 without the token, 413 over the limit, 421): the same checks now answer it
  // before a byte of the body is sent, and only a request that passes them gets 100.
  http.set_expect_100_continue_handler([screen](const httplib::Request& req, httplib::Response& res) {
    return screen(req, res) == httplib::Server::HandlerResponse::Handled ? res.status : 100;
  });

  s.api->install(http);
  s.rest = std::make_unique<subsonic::Rest>([&s] { return s.api->library(); }, [&s] { s.reopen_library(); }, s.options);
  s.rest->install(http);

  // OPTIONS (RFC 9110, 9.3.7): the methods a target takes, `OPTIONS *` (asterisk-form) those of
  // the server; cpp-httplib (0.11) answered it 404. No CORS: a page of another origin gets no
  // Access-Control-Allow-Origin, so its browser still refuses it.
  http.Options(".*", [](const httplib::Request& req, httplib::Response& res) {
    bool post = req.target == "*" || req.path.rfind("/rest/", 0) == 0;  // the Subsonic API's form POST
    for (const Route& r : Server::routes())
      if (r.method == "POST" && std::regex_match(req.path, std::regex(r.pattern))) post = true;
    res.status = 204;
    res.set_header("Allow", post ? "GET, HEAD, POST, OPTIONS" : "GET, HEAD, OPTIONS");
  });

  // The page and its files, from inside the binary.
  for (const Asset& a : assets()) {
    if (a.name == "openapi.json") continue;
    const std::string route = a.name == "index.html" ? "/" : "/" + a.name;
    const Asset* asset = &a;
    http.Get(route, [asset](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-cache");
      if (asset->name == "index.html")
        res.set_header("Content-Security-Policy",
                       "default-src 'self'; media-src 'self' blob:; img-src 'self' data: blob:; "
                       "style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'");
      res.set_content(reinterpret_cast<const char*>(asset->data), asset->size, content_type_of(asset->name));
    });
  }

  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
    if (refused_subsonic(req, res, 500, "internal error", "the request could not be completed", false)) return;
    res.status = 500;
    res.set_content(error_body("internal error", "the request could not be completed"), "application/json; charset=utf-8");
  });
  http.set_error_handler([&s](const httplib::Request& req, httplib::Response& res) {
    // A head that came too slowly (cpp-httplib answers 400 when its read fails): 408, and the
    // connection is closed (connection.h).
    if (request_timed_out() && res.body.empty() && !res.content_provider_) {
      const std::string detail =
          "the request line and headers must arrive within " + std::to_string(std::max(1, s.options.head_timeout_s)) + " s";
      if (refused_subsonic(req, res, 408, "request timeout", detail, false)) return;
      res.status = 408;
      res.set_content(error_body("request timeout", detail), "application/json; charset=utf-8");
      return;
    }
    // A 416 has no body (its Content-Range says why); a provider is an answer already written.
    if (!res.body.empty() || res.content_provider_ || res.status == 416) return;
    // A head over its size (kLongestHead) ended cpp-httplib's reading of it, which it answers
    // 400: the status that says so is 431 (RFC 6585, 5).
    // A request line over cpp-httplib's limit is not parsed: its first bytes say what was asked.
    httplib::Request sent;
    const httplib::Request* asked = &req;
    // A request line cpp-httplib did not take (a method it does not know, as PROPFIND, or another
    // version than HTTP/1.x) has no path either, only its target: the refusal of a /rest/ one is
    // a Subsonic envelope too (H14S-2; the REST API's {error, detail} before).
    const auto asked_for = [&](const std::string& target) {
      const std::string normal = normal_target(target);  // as a line it parses is read (//rest/x: /rest/x)
      sent.path = normal.substr(0, normal.find('?'));
      sent.params = parse_query(target);
      asked = &sent;
    };
    if (const std::string& line = too_long_request_line(); !line.empty()) {
      // The whole line up to the head's limit (64 KB; deadline_stream.h), so a format asked for
      // after its first 8 KB (createPlaylist's songIds, then f=json) is the answer's format; in
      // a line cut at 64 KB, what came after is not read (XML, as for no f).
      asked_for(target_in_line(line));
    } else if (req.path.empty()) {
      // Its target as sent, split from the method and version at any run of spaces and tabs (as
      // RFC 9112, 3, lets a server read it): cpp-httplib leaves no target either when a tab
      // stands between the words or the line holds a control character (H15S-2; the REST API's
      // {error, detail} before), and keeps the version in it after a tab.
      const std::string& line = request_line();
      asked_for(line.empty() ? req.target : target_in_line(line));
    }
    if (const HeadRefusal& refused = head_refusal(); refused.status == 431) {
      if (refused_subsonic(*asked, res, 431, refused.error, refused.detail, false)) return;
      res.status = 431;
      res.set_content(error_body(refused.error, refused.detail), "application/json; charset=utf-8");
      return;
    }
    // A Subsonic client reads a Subsonic envelope whatever the status (npm subsonic-api returned
    // undefined for a 414 in the REST API's form, H12P-9): a /rest/ request line over the limit
    // (createPlaylist of 1,500 songs by GET, as Navidrome takes it) gets one, in the format its
    // first 8 KB ask for, naming the way that works.
    if (res.status == 414 && asked == &sent && sent.path.rfind("/rest/", 0) == 0) {
      subsonic::answer_failure(sent, res,
                               {0, "the request line is over 8192 bytes: send the parameters in a form POST "
                                   "(the formPost extension; subsonic-api: post: true)"},
                               414);
      return;
    }
    const bool api = req.path.rfind("/api/", 0) == 0;
    std::string error = "error", detail;
    switch (res.status) {
      case 400: error = "bad request", detail = refused_request(req); break;
      case 404: error = "not found", detail = api ? "no such route: see /api/openapi.json" : "no such page"; break;
      case 405: error = "method not allowed"; break;
      case 413: error = "too large", detail = "the request body is over the server's limit"; break;
      case 414:  // cpp-httplib's limit on the request line, compiled into its library
        error = "URI too long",
        detail = "the request line (method, URL-encoded path and query, version) is over the limit of 8192 bytes: "
                 "shorten the query (each byte of a parameter other than a letter, digit or -._~ takes 3 when "
                 "URL-encoded: a where expression of 4,096 bytes may not fit)";
        break;
      case 416: error = "range not satisfiable"; break;
      case 421: error = "misdirected request"; break;
      default: break;
    }
    if (refused_subsonic(*asked, res, res.status, error, detail, false)) return;
    res.set_content(error_body(error, detail), "application/json; charset=utf-8");
  });
  http.set_logger([&s](const httplib::Request& req, const httplib::Response& res) {
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - request_start).count();
    char line[64];
    std::snprintf(line, sizeof line, " %d %.1f ms", res.status, ms);
    s.log(req.method + " " + logged_path(req.path) + line);
  });
}

Server::~Server() {
  stop();
  if (impl_->refresher.joinable()) impl_->refresher.join();
}

int Server::bind() {
  Impl& s = *impl_;
  if (s.options.port == 0) {
    s.port = s.http.bind_to_any_port(s.options.host);
    if (s.port <= 0) throw Error("cannot listen on " + s.options.host + " (is it an address of this machine?)");
  } else {
    if (!s.http.bind_to_port(s.options.host, s.options.port))
      throw Error("cannot listen on " + s.options.host + ":" + std::to_string(s.options.port) +
                  " (in use by another program? try --port 0 for any free port)");
    s.port = s.options.port;
  }
  s.http.raise_backlog();
  return s.port;
}

void Server::run() {
  Impl& s = *impl_;
  if (s.port == 0) bind();
  s.refresher = std::thread([&s] {
    s.refresh_loop();
    s.end_listening();
  });
  s.http.listen_after_bind();
  s.listen_ended = true;
  stop();
}

void Server::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.stop_mutex);
    s.stopping = true;
  }
  s.stop_cv.notify_all();
  s.http.stop();
}

std::string Server::url() const {
  const std::string& h = impl_->options.host;
  const std::string host = h.find(':') != std::string::npos && h.front() != '[' ? "[" + h + "]" : h;
  return "http://" + host + ":" + std::to_string(impl_->port) + "/";
}

const std::vector<Route>& Server::routes() { return Api::routes(); }

}  // namespace clap::server
