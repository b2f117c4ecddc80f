#include "hub/http.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

namespace clap::hub::http {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxErrorBody = 4096;
constexpr int kMaxRedirects = 10;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string user_agent() {
  static const std::string ua = std::string("clapsearch/0.1.0; libcurl/") + curl_version_info(CURLVERSION_NOW)->version;
  return ua;
}

// Collects status and headers of the response being received; a new status line (next
// response of the exchange) starts over.
size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Result*>(user);
  const std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    r->headers.clear();
    const size_t sp = line.find(' ');
    r->status = sp == std::string::npos ? 0 : std::strtol(line.c_str() + sp + 1, nullptr, 10);
    return size * n;
  }
  const size_t colon = line.find(':');
  if (colon != std::string::npos) r->headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  return size * n;
}

struct Easy {
  CURL* h = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  Easy() {
    global_init();
    h = curl_easy_init();
    if (!h) throw DownloadError(DownloadError::Kind::Local, "libcurl initialisation failed");
  }
  ~Easy() {
    if (headers) curl_slist_free_all(headers);
    if (h) curl_easy_cleanup(h);
  }
  Easy(const Easy&) = delete;
  Easy& operator=(const Easy&) = delete;

  void add_header(const std::string& line) { headers = curl_slist_append(headers, line.c_str()); }

  // Options common to every request. The token goes only to its origin.
  void setup(const std::string& url, const Config& c, Result& result) {
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // redirects handled by the callers
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c.connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent().c_str());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &result);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!c.token.empty() && !c.token_origin.empty() && origin_of(url) == c.token_origin)
      add_header("Authorization: Bearer " + c.token);
  }

  void finish(CURLcode code, Result& result) {
    result.curl_code = static_cast<int>(code);
    if (code != CURLE_OK) {
      result.curl_error = error[0] ? std::string(error) : std::string(curl_easy_strerror(code));
      return;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    result.status = status;
    char* redirect = nullptr;
    if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect) result.redirect_url = redirect;
  }
};

bool is_transient(int code) {
  switch (static_cast<CURLcode>(code)) {
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
      return true;
    default:
      return false;
  }
}

// Progress on stderr: a redrawn bar on a terminal, a plain line every few seconds otherwise.
class Drawer {
 public:
  // `initial`: bytes already there (a resumed download); the rate counts only new ones.
  Drawer(const Progress& p, int64_t total, int64_t initial)
      : p_(p), total_(total), first_(initial), start_(Clock::now()), last_(start_) {}

  void update(int64_t done) {
    if (p_.quiet) return;
    const auto now = Clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    if (p_.terminal ? since < 0.1 : since < 10.0) return;
    last_ = now;
    draw(done, false);
  }

  void finish(int64_t done) {
    if (p_.quiet) return;
    draw(done, true);
  }

 private:
  void draw(int64_t done, bool final) {
    const double elapsed = std::max(1e-3, std::chrono::duration<double>(Clock::now() - start_).count());
    const double rate = static_cast<double>(std::max<int64_t>(0, done - first_)) / elapsed;
    const double fraction = total_ > 0 ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total_)) : 0.0;
    char eta[32] = "";
    if (!final && total_ > 0 && rate > 0) {
      const long s = std::lround(static_cast<double>(total_ - done) / rate);
      std::snprintf(eta, sizeof eta, " ETA %ld:%02ld", s / 60, s % 60);
    }
    const std::string size = total_ >= 0 ? human_bytes(static_cast<double>(done)) + "/" + human_bytes(static_cast<double>(total_))
                                         : human_bytes(static_cast<double>(done));
    if (p_.terminal) {
      constexpr int kWidth = 30;
      const int fill = static_cast<int>(fraction * kWidth);
      std::string bar(static_cast<size_t>(fill), '#');
      bar.append(static_cast<size_t>(kWidth - fill), '.');
      std::fprintf(stderr, "\r  %-26.26s %3d%% [%s] %s %s/s%s\033[K%s", p_.label.c_str(),
                   static_cast<int>(fraction * 100), bar.c_str(), size.c_str(), human_bytes(rate).c_str(), eta,
                   final ? "\n" : "");
    } else if (final) {
      std::fprintf(stderr, "clapsearch: downloaded %s (%s in %.1f s)\n", p_.label.c_str(),
                   human_bytes(static_cast<double>(done)).c_str(), elapsed);
    } else {
      std::fprintf(stderr, "clapsearch: downloading %s: %d%% (%s, %s/s%s)\n", p_.label.c_str(),
                   static_cast<int>(fraction * 100), size.c_str(), human_bytes(rate).c_str(), eta);
    }
    std::fflush(stderr);
  }

  Progress p_;
  int64_t total_;
  int64_t first_;
  Clock::time_point start_, last_;
};

// One GET: the body goes to fd (appended after `offset` bytes on a 206, from the start on a 200),
// any other status's body to result.body.
struct Transfer {
  int fd = -1;
  int64_t offset = 0;  // bytes already in the file when the request was sent
  int64_t base = 0;    // bytes before this response's body (offset on 206, 0 on 200)
  bool decided = false, writing = false;
  std::string local_error;
  Result* result = nullptr;
  Drawer* drawer = nullptr;
  CURL* easy = nullptr;
};

bool parse_content_range_start(const std::string& v, int64_t* start) {
  // "bytes START-END/TOTAL"
  const size_t sp = v.find(' ');
  if (sp == std::string::npos) return false;
  char* end = nullptr;
  const long long s = std::strtoll(v.c_str() + sp + 1, &end, 10);
  if (end == v.c_str() + sp + 1) return false;
  *start = s;
  return true;
}

bool decide(Transfer& t) {
  if (t.decided) return true;
  t.decided = true;
  const long status = t.result->status;
  if (status == 200) {
    if (t.offset > 0 && (::ftruncate(t.fd, 0) != 0 || ::lseek(t.fd, 0, SEEK_SET) != 0)) {
      t.local_error = std::string("cannot truncate: ") + std::strerror(errno);
      return false;
    }
    t.base = 0;
    t.writing = true;
  } else if (status == 206) {
    int64_t start = -1;
    if (!parse_content_range_start(t.result->header("content-range"), &start) || start != t.offset) {
      t.local_error = "server answered the range request with the wrong range (" + t.result->header("content-range") + ")";
      return false;
    }
    t.base = t.offset;
    t.writing = true;
  }
  return true;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (!decide(*t)) return 0;
  if (!t->writing) {
    if (t->result->body.size() < kMaxErrorBody) t->result->body.append(data, std::min(len, kMaxErrorBody - t->result->body.size()));
    return len;
  }
  size_t done = 0;
  while (done < len) {
    const ssize_t w = ::write(t->fd, data + done, len - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      t->local_error = std::string("write failed: ") + std::strerror(errno);
      return 0;
    }
    done += static_cast<size_t>(w);
  }
  return len;
}

int on_progress(void* user, curl_off_t /*dltotal*/, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->writing && t->drawer) t->drawer->update(t->base + static_cast<int64_t>(dlnow));
  return 0;
}

int64_t file_size_of(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return -1;
  return static_cast<int64_t>(st.st_size);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::string Result::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string human_bytes(double bytes) {
  char buf[32];
  if (bytes < 1000) std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  else if (bytes < 1e6) std::snprintf(buf, sizeof buf, "%.1f kB", bytes / 1e3);
  else if (bytes < 1e9) std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
  return buf;
}

std::string origin_of(const std::string& url) {
  global_init();
  CURLU* u = curl_url();
  if (!u) return "";
  std::string origin;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char *scheme = nullptr, *host = nullptr, *port = nullptr;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
      origin = lower(scheme) + "://" + lower(host) + ":" + port;
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return origin;
}

std::string escape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

bool is_unreachable(int code) {
  switch (static_cast<CURLcode>(code)) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      return true;
    default:
      return false;
  }
}

Result head(const std::string& url, const Config& config) {
  Result result;
  Easy e;
  e.setup(url, config, result);
  curl_easy_setopt(e.h, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(e.h, CURLOPT_TIMEOUT, config.request_timeout_s);
  e.add_header("Accept-Encoding: identity");  // sizes of the file itself, not of a compressed form
  curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, e.headers);
  e.finish(curl_easy_perform(e.h), result);
  return result;
}

void download(const std::string& url, const std::string& path, int64_t expected_size, const Config& config,
              const Progress& progress) {
  using Kind = DownloadError::Kind;
  // Non-blocking open, then a regular file required: a FIFO at the partial download's name
  // would otherwise block the open until some reader came.
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW, 0644));
  if (fd.get() < 0) throw DownloadError(Kind::Local, path + ": cannot open for writing: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    throw DownloadError(Kind::Local, path + ": cannot open for writing: not a regular file");
  if (const int flags = ::fcntl(fd.get(), F_GETFL); flags >= 0) ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  Drawer drawer(progress, expected_size, std::max<int64_t>(0, file_size_of(fd.get())));
  double delay = config.retry_delay_s;
  int retries = 0;
  std::string last_failure;
  for (;;) {
    int64_t offset = file_size_of(fd.get());
    if (offset < 0) throw DownloadError(Kind::Local, path + ": cannot stat: " + std::strerror(errno));
    if (expected_size >= 0 && offset > expected_size) {  // not a prefix of this file: start over
      if (::ftruncate(fd.get(), 0) != 0) throw DownloadError(Kind::Local, path + ": cannot truncate: " + std::strerror(errno));
      offset = 0;
    }
    if (expected_size >= 0 && offset == expected_size && offset > 0) {  // complete already (earlier run)
      drawer.finish(offset);
      return;
    }
    if (::lseek(fd.get(), 0, SEEK_END) < 0) throw DownloadError(Kind::Local, path + ": seek failed: " + std::strerror(errno));

    // One attempt: follow redirects by hand so the token never leaves its origin.
    std::string current = url;
    Result result;
    Transfer t;
    bool transient = false;
    for (int hop = 0;; ++hop) {
      if (hop > kMaxRedirects) throw DownloadError(Kind::Http, url + ": too many redirects", result);
      result = Result{};
      t = Transfer{};
      t.fd = fd.get();
      t.offset = offset;
      t.result = &result;
      t.drawer = &drawer;
      Easy e;
      t.easy = e.h;
      e.setup(current, config, result);
      if (offset > 0) e.add_header("Range: bytes=" + std::to_string(offset) + "-");
      e.add_header("Accept-Encoding: identity");
      curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, e.headers);
      curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, on_body);
      curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &t);
      curl_easy_setopt(e.h, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(e.h, CURLOPT_XFERINFOFUNCTION, on_progress);
      curl_easy_setopt(e.h, CURLOPT_XFERINFODATA, &t);
      curl_easy_setopt(e.h, CURLOPT_LOW_SPEED_LIMIT, config.low_speed_limit);
      curl_easy_setopt(e.h, CURLOPT_LOW_SPEED_TIME, config.low_speed_time_s);
      const CURLcode code = curl_easy_perform(e.h);
      e.finish(code, result);
      if (!t.local_error.empty()) throw DownloadError(Kind::Local, path + ": " + t.local_error, result);
      if (!result.ok()) {
        transient = is_transient(result.curl_code);
        last_failure = result.curl_error;
        if (!transient) {
          const Kind kind = is_unreachable(result.curl_code) ? Kind::Unreachable : Kind::Interrupted;
          throw DownloadError(kind, result.curl_error, result);
        }
        break;
      }
      if (result.is_redirect()) {
        current = result.redirect_url;
        continue;
      }
      if (!t.decided && !decide(t)) throw DownloadError(Kind::Local, path + ": " + t.local_error, result);
      break;
    }

    if (!transient) {
      const long status = result.status;
      if (status == 200 || status == 206) {
        const int64_t got = file_size_of(fd.get());
        if (expected_size < 0 || got == expected_size) {
          drawer.finish(got);
          return;
        }
        if (got > expected_size)
          throw DownloadError(Kind::Local, "received " + std::to_string(got) + " bytes, expected " + std::to_string(expected_size), result);
        transient = true;  // short body: resume
        last_failure = "connection closed after " + std::to_string(got) + " of " + std::to_string(expected_size) + " bytes";
      } else if (status == 416 && offset > 0) {
        if (::ftruncate(fd.get(), 0) != 0) throw DownloadError(Kind::Local, path + ": cannot truncate: " + std::strerror(errno));
        continue;  // the partial file did not fit the server's file: start over (not counted as a retry)
      } else if (status >= 500 || status == 429) {
        transient = true;
        last_failure = "HTTP " + std::to_string(status);
      } else {
        throw DownloadError(Kind::Http, "HTTP " + std::to_string(status) + " for " + current, result);
      }
    }
    if (retries >= config.max_retries) {
      const bool unreachable = !result.ok() && is_unreachable(result.curl_code) && file_size_of(fd.get()) == 0;
      throw DownloadError(unreachable ? Kind::Unreachable : Kind::Interrupted, last_failure, result);
    }
    ++retries;
    if (!progress.quiet) {
      if (progress.terminal) std::fputc('\n', stderr);
      std::fprintf(stderr, "clapsearch: %s: %s; resuming (attempt %d of %d)\n", progress.label.c_str(), last_failure.c_str(),
                   retries + 1, config.max_retries + 1);
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    delay *= 2;
  }
}

}  // namespace clap::hub::http
