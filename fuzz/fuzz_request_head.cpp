// The server's readers of a request head (server/request_head.h) on arbitrary bytes, as any
// client on the network may send them, before cpp-httplib or a route sees anything:
//   - normal_target: the one path every check and route reads (H16S-1). Its path has no empty,
//     "." or ".." segment, starts with '/', keeps the query as sent, and is its own normal form;
//     so no check can read a path other than the one served.
//   - origin_form: a request line in origin-form. A line it refuses is returned unchanged; one it
//     takes names a path in normal form, and is taken again unchanged.
//   - parse_query: every parameter named; host_problem, judge_head (on headers read from the
//     input's lines), asks_to_close, served_range_line, long_range_piece: no crash, and every
//     message they write is printable ASCII (a message quotes what the client sent).
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "server/request_head.h"

namespace {

bool printable_ascii(const std::string& s) {
  for (const char ch : s)
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f) return false;
  return true;
}

// The path of a normal target (the text before its first '?') has no empty, "." or ".."
// segment, except the empty one after a trailing '/'.
bool path_is_normal(const std::string& target) {
  const std::string path = target.substr(0, target.find('?'));
  if (path.empty() || path[0] != '/') return false;
  for (size_t start = 1; start < path.size();) {
    const size_t slash = std::min(path.find('/', start), path.size());
    const std::string segment = path.substr(start, slash - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    start = slash + 1;
  }
  return true;
}

void check_target(const std::string& target) {
  const std::string normal = clap::server::normal_target(target);
  if (target.empty() || target[0] != '/') {
    FUZZ_CHECK(normal == target);  // not a path: left to cpp-httplib's own refusal
    return;
  }
  FUZZ_CHECK(path_is_normal(normal));
  const size_t query = target.find('?');
  if (query != std::string::npos) FUZZ_CHECK(normal.substr(normal.find('?')) == target.substr(query));
  FUZZ_CHECK(clap::server::normal_target(normal) == normal);
}

void check_line(const std::string& line) {
  const clap::server::RequestTarget out = clap::server::origin_form(line);
  FUZZ_CHECK(printable_ascii(out.problem) || out.problem.empty());
  if (!out.problem.empty()) {
    FUZZ_CHECK(out.line == line);
    return;
  }
  const size_t first = out.line.find(' ');
  if (first == std::string::npos) return;
  const size_t second = out.line.find(' ', first + 1);
  if (second == std::string::npos || second == first + 1) return;
  const std::string target = out.line.substr(first + 1, second - first - 1);
  if (target[0] != '/') return;  // OPTIONS *, CONNECT, or a line cpp-httplib refuses
  FUZZ_CHECK(path_is_normal(target));
  FUZZ_CHECK(target.find('?') == std::string::npos || target.find('?', target.find('?') + 1) == std::string::npos);
  if (out.target) FUZZ_CHECK(path_is_normal(*out.target));
  // Taken again, the line is as it was: one reading, whatever reads the head a second time.
  const clap::server::RequestTarget again = clap::server::origin_form(out.line);
  FUZZ_CHECK(again.problem.empty() && again.line == out.line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  check_target(text);
  check_target("/" + text);
  check_line(text);
  check_line("GET " + text + " HTTP/1.1");

  for (const auto& [name, value] : clap::server::parse_query("/rest/x?" + text)) FUZZ_CHECK(!name.empty());

  const std::string host_problem = clap::server::host_problem(text);
  FUZZ_CHECK(printable_ascii(host_problem));

  // The input's lines as a request's headers ("Name: value"), as cpp-httplib hands them over.
  httplib::Request req;
  req.version = size % 2 ? "HTTP/1.1" : "HTTP/1.0";
  for (size_t start = 0; start < text.size();) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string line = text.substr(start, end - start);
    (void)clap::server::served_range_line(line);
    (void)clap::server::long_range_piece(line);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) req.headers.emplace(line.substr(0, colon), clap::server::trimmed(line.substr(colon + 1)));
    start = end + 1;
  }
  const clap::server::HeadRefusal refusal = clap::server::judge_head(req);
  FUZZ_CHECK(printable_ascii(refusal.detail));
  FUZZ_CHECK((refusal.status == 0) == refusal.detail.empty());
  (void)clap::server::asks_to_close(req);
  (void)clap::server::has_body(req);
  return 0;
}
