// A request head as the server reads it, before and after cpp-httplib parses it: the checks of
// RFC 9112's framing rules that cpp-httplib (0.11) does not make (judge_head, host_problem), a
// request target put in origin-form (origin_form), and the small text helpers they share with
// the connection's stream (deadline_stream.h). served_range_line and parse_query, which the
// routes' tests call too, are declared in connection.h.
#pragma once
#include <httplib.h>

#include <cstddef>
#include <optional>
#include <string>

#include "server/connection.h"

namespace clap::server {

std::string lower_ascii(std::string s);
std::string trimmed(const std::string& v);
// A header's name or value as a message shows it: printable ASCII, the rest as \xNN, cut short.
std::string shown(const std::string& s);
// Whether the request says it has a body (Transfer-Encoding, or a Content-Length other than 0).
bool has_body(const httplib::Request& req);

// Why a Host value (or the authority of an absolute-form target) is not a host name or address
// with an optional port, or "" when it is one.
std::string host_problem(const std::string& host);

// RFC 9112's rules for a request head that cpp-httplib (0.11) does not check: status 0 when the
// head keeps them (request_head.cpp says which and why).
HeadRefusal judge_head(const httplib::Request& req);

// Whether the request's Connection header(s) list the "close" option (RFC 9112, 9.6: a
// comma-separated list of options, in any case).
bool asks_to_close(const httplib::Request& req);

// The first piece of a header line too long to be gathered whole (over 4 KB), renamed when it
// is a Range line: no single range is that long, and its ranges would reach cpp-httplib
// unchecked (H10S-1: 2,600 ranges "0-" in 7.8 KB).
std::string long_range_piece(const std::string& piece);

constexpr size_t kLongestRequestLine = 8192;  // cpp-httplib's (compiled into Debian's library)
// The most bytes a request head (request line, header lines, their line ends) may hold: a
// browser's is a few KB. cpp-httplib (0.11) bounds each header line (8 KB) but not how many
// there are, and keeps each one, so a head of 8 KB lines sent for the whole head deadline grew
// the server's memory without bound (H10S-3). Past it: 431 and the connection closed.
constexpr size_t kLongestHead = 64 * 1024;

// A request line with its target in origin-form, and the authority it named, if any.
struct RequestTarget {
  std::string line;
  std::optional<std::string> authority;
  std::string problem;  // why the target is in no form a server takes (then `line` is unchanged)
  // The target in origin-form with its query as sent, when `line` holds it otherwise (its
  // query's later '?' left out): the request's target, whose parameters are read from it.
  std::optional<std::string> target;
};

// The request line `line` with its target put in origin-form (RFC 9112, 3.2), its path normal
// (normal_target).
RequestTarget origin_form(const std::string& line);

}  // namespace clap::server
