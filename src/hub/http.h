// HTTP transfers for the hub client (libcurl): metadata requests without following
// redirects, and resumable file downloads that follow redirects (the hub answers LFS files
// with a 302 to a CDN), drop the token when a redirect leaves the endpoint's origin, retry
// transient failures with a Range request, and draw progress on stderr.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "core/error.h"

namespace clap::hub::http {

struct Config {
  std::string token;         // "Authorization: Bearer <token>" ...
  std::string token_origin;  // ... sent only to this origin (scheme://host:port)
  long connect_timeout_s = 20;
  long request_timeout_s = 30;  // whole metadata request
  long low_speed_limit = 1024;  // downloads abort below this many bytes/s ...
  long low_speed_time_s = 30;   // ... sustained for this long
  int max_retries = 3;          // downloads: attempts after the first on transient failures
  double retry_delay_s = 0.5;   // doubled after each retry
};

struct Result {
  int curl_code = 0;       // 0 = the exchange completed (any HTTP status)
  std::string curl_error;  // transport failure description when curl_code != 0
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, of the last response
  std::string redirect_url;                    // absolute target of a 3xx
  std::string body;                            // first bytes of a non-2xx body

  bool ok() const { return curl_code == 0; }
  bool is_redirect() const { return status >= 300 && status < 400 && !redirect_url.empty(); }
  std::string header(const std::string& lower_name) const;
};

// HEAD request, redirects not followed. Never throws for HTTP or transport errors.
Result head(const std::string& url, const Config& config);

struct Progress {
  bool quiet = false;
  bool terminal = false;   // redraw a bar with \r (else plain lines every few seconds)
  std::string label;       // file name shown
};

// A failed download. `kind` tells the caller what to say: the network is unreachable, the
// transfer broke off (the partial file is kept for a later resume), the server answered an
// HTTP error (`result` holds status and headers), or a local file error.
class DownloadError : public Error {
 public:
  enum class Kind { Unreachable, Interrupted, Http, Local };
  DownloadError(Kind kind, const std::string& message, Result result = {})
      : Error(message), kind_(kind), result_(std::move(result)) {}
  Kind kind() const { return kind_; }
  const Result& result() const { return result_; }

 private:
  Kind kind_;
  Result result_;
};

// Downloads `url` into `path`. An existing `path` is resumed from its size with a Range
// request (a server that ignores the range makes it start over). Returns once the body is
// complete; expected_size (-1 = unknown) is checked. Transient failures are retried (each
// retry resumes and starts again from `url`, so an expired CDN link is renewed). Throws
// DownloadError; after a transport failure the partial file stays in place.
void download(const std::string& url, const std::string& path, int64_t expected_size, const Config& config,
              const Progress& progress);

// scheme://host:port of a URL (lower-case, default port filled in); "" if unparsable.
std::string origin_of(const std::string& url);
// Percent-encodes every byte outside [A-Za-z0-9-._~].
std::string escape(const std::string& s);
// True for curl codes meaning "could not talk to the server at all" (offline, DNS, refused).
bool is_unreachable(int curl_code);
std::string human_bytes(double bytes);  // "10.7 MB"

}  // namespace clap::hub::http
