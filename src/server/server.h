// `clapsearch serve`: the REST API and the web page over one library index.
//
// A thin front end like the CLI: each route parses its input, calls the service layer's query
// API (service/queries.h) on the snapshot it holds for the request, and formats JSON with the
// same records the CLI prints (service/records.h). Safe by default: it binds loopback unless
// given a token; nothing a request sends names a file (tracks are addressed by id, uploads are
// decoded from memory); every input is bounded (upload size, decoded duration, k, header and
// URI sizes, timeouts, concurrent model runs with a short queue, then 429).
//
// While it runs, another process may index into the same database: a background thread polls
// the store's library generation and swaps in a fully loaded snapshot, so new tracks appear
// without a restart and a request never sees half a track.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/clap.h"
#include "search/filter.h"

namespace clap::server {

struct ServerOptions {
  std::string db;     // empty = the default library
  std::string model;  // empty = the model recorded in the index
  std::string host = "127.0.0.1";
  int port = 8411;           // 0 = any free port (port() tells which)
  std::string token;         // required on every /api/ request when set; required to bind a non-loopback host
  // Without a token, the Host names answered besides loopback ones (a reverse proxy's name):
  // any other Host is refused with 421, which stops DNS rebinding (docs/security.md).
  std::vector<std::string> allowed_hosts;
  int threads = 0;           // model threads per run, 0 = all cores
  Precision text_precision = Precision::F32;  // of the text tower (service::LibraryOptions)
  std::string window_index = "auto";          // auto, memory, compressed (service::LibraryOptions)
  int max_model_runs = 1;    // model runs at once (text embedding, query audio)
  int max_waiting = 8;       // requests queued for a model run; more get 429
  int model_wait_s = 30;     // longest wait in that queue before 429
  // Subsonic streams transcoded at once (/rest/stream with format or maxBitRate: each takes a
  // core while it runs), half of them (at least 1) per user; more get 429.
  int max_transcodes = 4;
  // --follow-links-out: play a file the index reached through a link out of its folders, while the
  // link still leads to the file indexed (api.h open_track_audio); else such a file is never played.
  bool follow_links_out = false;
  int64_t max_upload_bytes = 50ll << 20;
  double max_query_seconds = 600;  // decoded duration of an uploaded query
  int64_t max_k = 1000;            // results per query
  // Items of one kind one /rest/ list answers at most where the client names the count (search2
  // and search3, getTopSongs, getArtistInfo's similar artists; the lists the spec bounds stop at
  // 500): songCount=1000000000 over 100,000 songs answered 70 MB, with 0.5-0.8 GB held while it
  // was built. More is left out, as other Subsonic servers do; a client pages with the offsets.
  int64_t max_list_items = 5000;
  search::Filter exclude;          // the music-only rule: matching tracks left out unless a request says exclude=false
  int max_queries = 32;            // texts per search / labels per classification
  int timeout_s = 30;              // socket read/write timeout (slow clients)
  int head_timeout_s = 10;         // a request's line and headers must arrive within this, in all (slowloris)
  int body_timeout_s = 10;         // a request body: this long plus 10 s per MB received (connection.h)
  // A response: response_grace_s (0 = timeout_s) plus 1 s per response_min_bytes_per_s the client
  // received, or the connection is reset: a client reading a byte at a time held a thread (connection.h).
  int response_grace_s = 0;
  int64_t response_min_bytes_per_s = 8 << 10;
  // A Subsonic stream (/rest/stream, download) a player pauses is held past those rules for up to
  // this long in all (0 = never), at most paused_streams_per_user per user and paused_streams in
  // all at once, each holding a thread (connection.h RequestDeadlines::pause_s).
  int stream_pause_s = 600;
  int paused_streams_per_user = 2;
  int paused_streams = 4;
  // Each connection's kernel send buffer (SO_SNDBUF); 0 = the kernel's, grown as it sees fit (to
  // net.ipv4.tcp_wmem's maximum, 4 MB here): a response that fits is handed over whole at once.
  int send_buffer_bytes = 0;
  int connections_per_address = 8; // connections served at once per client address (loopback not counted)
  // Subsonic (/rest/) sign-ins: after 5 wrong passwords for one user from one address within this
  // many seconds, that address is refused for that user until the oldest is this old (subsonic_auth.cpp).
  int login_lockout_s = 60;
  int refresh_ms = 1000;           // how often the index is checked for changes
  int http_threads = 16;           // connections served at once (more than the model queue, so queued runs never block the rest)
  double request_budget_s = 30;    // a route's work (duplicate scans, diversity, playlists) stops after this: 503
  std::function<void(const std::string&)> log;  // one line per request and notices; null = silent
};

// One route of the API, as documented in openapi.json (a test keeps the two equal: every route
// documented with this summary, every documented operation a route).
struct Route {
  std::string method;   // "GET", "POST"
  std::string path;     // OpenAPI form: /api/tracks/{id}
  std::string pattern;  // cpp-httplib's: /api/tracks/([^/]+)
  std::string summary;  // the operation's "summary" in openapi.json
};

// True for 127.0.0.0/8 (an IPv4-mapped one too: ::ffff:127.0.0.1), ::1 and "localhost".
bool is_loopback(const std::string& host);

// Whether a server without a token answers a request whose Host header is `host_header`: a
// loopback name (127.0.0.0/8, localhost, [::1]) or one of `allowed` (case-insensitive), with or
// without a port. An empty or malformed header (HTTP/1.0 without Host) is refused.
bool host_allowed(const std::string& host_header, const std::vector<std::string>& allowed);

class Server {
 public:
  // Opens the library and loads its first snapshot. Throws clap::Error (no index, a
  // non-loopback host without a token, ...).
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port; returns the port (the chosen one when port is 0). Throws when it cannot.
  int bind();
  // Serves until stop() (from another thread or a signal handler's thread).
  void run();
  void stop();
  std::string url() const;  // http://host:port/

  static const std::vector<Route>& routes();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace clap::server
