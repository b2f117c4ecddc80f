#include "server/request_head.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <vector>

namespace clap::server {

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
  // Built by appending: GCC 12 warns (-Wrestrict, falsely) on "\"" + shown(host) once shown is inlined.
  std::string quoted = "\"";
  quoted += shown(host);
  quoted += '"';
  if (host.find('@') != std::string::npos)
    return quoted + " holds a user name: userinfo is not accepted (RFC 9110, 4.2.4)";
  if (host.empty() || host.find_first_not_of("-._~!$&'()*+,;=%:[]0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") !=
                          std::string::npos)
    return quoted + " is not a host name or address with an optional port";
  // host [":" port], where port is digits and only a bracketed IPv6 address holds colons
  // (RFC 9112, 3.2; RFC 3986, 3.2): "localhost:8x" or "a:b:c" is not a Host value, and is
  // answered 400 as such, not 421 as a name this server does not answer to.
  size_t host_end = 0;
  if (host[0] == '[') {
    host_end = host.find(']');
    if (host_end == std::string::npos || host.find_first_of("[]", 1) != host_end) return quoted + " has an unclosed [ or a stray ]";
    ++host_end;
  } else {
    host_end = std::min(host.find(':'), host.size());
    if (host.find_first_of("[]", 0) != std::string::npos) return quoted + " has [ or ] outside an IPv6 address";
  }
  if (host_end < host.size() && (host[host_end] != ':' || host.find_first_not_of("0123456789", host_end + 1) != std::string::npos))
    return quoted + " has a port that is not a number";
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

bool asks_to_close(const httplib::Request& req) {
  const auto values = req.headers.equal_range("Connection");
  for (auto it = values.first; it != values.second; ++it) {
    const std::string& list = it->second;
    for (size_t start = 0; start <= list.size();) {
      const size_t comma = std::min(list.find(',', start), list.size());
      if (lower_ascii(trimmed(list.substr(start, comma - start))) == "close") return true;
      start = comma + 1;
    }
  }
  return false;
}

// RFC 9110 (14.2): a Range in a unit other than bytes must be ignored, and an invalid one may
// be; cpp-httplib (0.11) answers both 416 before any handler runs, and takes a number over 63
// bits for an error too, so `bytes=0-99999999999999999999` (clamped to the file by any other
// server) failed. The Range line of a request head is therefore rewritten as it is read: one
// valid bytes range is kept, each number clamped to 2^63-1 (the audio route then clamps to the
// file, RFC 9110's rule); anything else (several ranges too) is renamed so that nothing reads it.
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
    // Several ranges are answered with the whole resource, on every route: cpp-httplib (0.11)
    // makes a multipart answer of a text body by copying each range into it, so a Range of
    // 2,700 ranges "0-" (8 KB) made one request hold 2,700 copies of the answer (H10S-1:
    // GET /app.js, 43 KB, held 116 MB; /api/map of a large library many GB). RFC 9110 (14.2)
    // lets a server ignore a range set of many or overlapping ranges; no player asks for two.
    if (!specs.empty()) return ignored;
    specs += first;
    specs += '-';
    specs += last;
    start = comma + 1;
  }
  return "Range: bytes=" + specs + "\r\n";
}

std::string long_range_piece(const std::string& piece) {
  const size_t colon = piece.find(':');
  if (colon == std::string::npos || lower_ascii(piece.substr(0, colon)) != "range") return piece;
  return "X-Ignored-Range" + piece.substr(colon);
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

// RFC 9112 (3.2): a request target is in origin-form (/path?query), absolute-form
// (http://authority/path?query: what a client sends to a proxy, and a server MUST accept it),
// authority-form (CONNECT only) or asterisk-form (OPTIONS * only). cpp-httplib (0.11) took a
// whole absolute-form target for the path, so that no route matched it (404). Such a request
// line is put in origin-form before cpp-httplib parses it, and its authority stands for the
// Host header (DeadlineStream::head_read); a target in no form is refused.
namespace {

RequestTarget target_form(const std::string& line) {
  const size_t first = line.find(' ');
  const size_t second = first == std::string::npos ? std::string::npos : line.find(' ', first + 1);
  if (second == std::string::npos || second == first + 1) return {line, {}, {}, {}};  // cpp-httplib explains these
  const std::string method = line.substr(0, first), target = line.substr(first + 1, second - first - 1);
  if (target[0] == '/') return {line, {}, {}, {}};
  if (target == "*") {
    if (method == "OPTIONS") return {line, {}, {}, {}};
    return {line, {}, "the target * (asterisk-form) is for OPTIONS only (RFC 9112, 3.2.4)", {}};
  }
  const size_t scheme_end = target.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : lower_ascii(target.substr(0, scheme_end));
  if (scheme == "http" || scheme == "https") {
    const std::string rest = target.substr(scheme_end + 3);
    const size_t path_start = rest.find_first_of("/?#");
    std::string path = path_start == std::string::npos ? "/" : rest.substr(path_start);
    if (path[0] != '/') path.insert(0, 1, '/');  // "http://host?q=1": the path is "/"
    return {method + " " + path + line.substr(second), rest.substr(0, path_start), {}, {}};
  }
  if (method == "CONNECT") return {line, {}, {}, {}};  // authority-form: answered as a method not served
  return {line, {}, "the request target \"" + shown(target) + "\" is not a path (/...), an http:// URL or * (RFC 9112, 3.2)", {}};
}

}  // namespace

std::string normal_target(const std::string& target) {
  const size_t end = std::min(target.find('?'), target.size());
  if (end == 0 || target[0] != '/') return target;
  std::vector<std::string> segments;
  bool trailing = false;  // the path ends in '/' (or in a dot segment, which stands for one)
  for (size_t start = 1; start <= end;) {
    const size_t slash = std::min(target.find('/', start), end);
    const std::string segment = target.substr(start, slash - start);
    trailing = segment.empty() || segment == "." || segment == "..";
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = slash + 1;
  }
  std::string path;
  for (const std::string& segment : segments) path += "/" + segment;
  if (path.empty() || trailing) path += "/";
  return path + target.substr(end);
}

// RFC 3986 (3.4) lets a query hold '?' (`q=who?`, a browser's address bar sends it as typed), but
// cpp-httplib (0.11) refuses a target with a second '?' as a 400 that names a header line (H11P-3).
// cpp-httplib is given the line without the query's later '?', and the target as sent is kept
// (`target`), the parameters being read from it (DeadlineStream::head_read). Sending each one on
// as %3F (three bytes for one) made a line under cpp-httplib's limit of 8,192 bytes go over it:
// 2,800 '?' in a 2,870-byte line were refused 414 "over the limit of 8192 bytes" (H12S-1).
RequestTarget origin_form(const std::string& line) {
  RequestTarget out = target_form(line);
  if (!out.problem.empty()) return out;  // refused (400) as it was sent: nothing to rewrite
  // The path merged and without dot segments (normal_target) in the line cpp-httplib parses, so
  // that every check (the token's, a form POST's, which API answers a refusal) and every route
  // reads the one path that is served.
  if (const size_t first = out.line.find(' '); first != std::string::npos && out.line[first + 1] == '/')
    if (const size_t second = out.line.find(' ', first + 1); second != std::string::npos) {
      const std::string target = out.line.substr(first + 1, second - first - 1), normal = normal_target(target);
      if (normal != target) out.line = out.line.substr(0, first + 1) + normal + out.line.substr(second);
    }
  const size_t first = out.line.find(' ');
  const size_t second = first == std::string::npos ? std::string::npos : out.line.find(' ', first + 1);
  const size_t mark = first == std::string::npos ? std::string::npos : out.line.find('?', first + 1);
  if (second == std::string::npos || mark == std::string::npos || mark > second) return out;
  std::string query;
  for (size_t i = mark + 1; i < second; ++i)
    if (out.line[i] != '?') query += out.line[i];
  if (query.size() == second - mark - 1) return out;
  out.target = out.line.substr(first + 1, second - first - 1);
  out.line = out.line.substr(0, mark + 1) + query + out.line.substr(second);
  return out;
}

}  // namespace clap::server
