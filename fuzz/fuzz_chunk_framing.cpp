// The server's follower of a chunked request body (server/chunk_framing.h) on arbitrary bytes,
// as any client may send them, cut into reads at arbitrary places (a network delivers a body in
// pieces of any size):
//   - one verdict however the bytes arrive: whole, byte by byte, or cut where the input says;
//   - a refusal is 400 or 413 with a printable sentence (the server answers it);
//   - a body it takes is a chunked body: read again here chunk by chunk (sizes of hexadecimal
//     digits, each at most the limit, an optional extension after ';', space or tab, of printable
//     bytes and tabs, its line at most 8 KB; CRLF after
//     each line and each chunk's data; the last chunk 0 with no trailer), it ends exactly where
//     the follower said the body ended, and the bytes after it are never looked at.
// The input's first byte chooses the limit (a power of two up to 2^56, the largest the server
// passes), its second where the bytes are cut; the rest is the body.
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_util.h"
#include "server/chunk_framing.h"

namespace {

struct Verdict {
  bool broken = false, done = false;
  int status = 0;
  std::string problem;
  bool operator==(const Verdict&) const = default;
};

Verdict verdict(const clap::server::ChunkFraming& f) { return {f.broken(), f.done(), f.status(), f.problem()}; }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The length of the chunked body at the start of `body`, read chunk by chunk; nullopt if the
// bytes do not start with a whole chunked body whose chunks are each at most `limit` bytes.
std::optional<size_t> chunked_body_length(const std::string& body, int64_t limit) {
  size_t at = 0;
  for (;;) {
    int64_t size = 0;
    const size_t digits_start = at;
    while (at < body.size() && hex_digit(body[at]) >= 0) {
      size = size * 16 + hex_digit(body[at++]);
      if (size > limit) return std::nullopt;
    }
    if (at == digits_start) return std::nullopt;
    if (at < body.size() && (body[at] == ';' || body[at] == ' ' || body[at] == '\t')) {
      // An extension: printable bytes and tabs up to the line's CR, the line at most 8 KB.
      for (++at; at < body.size() && body[at] != '\r'; ++at)
        if ((static_cast<unsigned char>(body[at]) < 0x20 && body[at] != '\t') || body[at] == 0x7f) return std::nullopt;
      if (at - digits_start + 1 > 8192) return std::nullopt;
    }
    if (body.compare(at, 2, "\r\n") != 0) return std::nullopt;
    at += 2;
    if (size == 0) break;
    if (body.size() - at < static_cast<size_t>(size) + 2) return std::nullopt;
    at += static_cast<size_t>(size);
    if (body.compare(at, 2, "\r\n") != 0) return std::nullopt;
    at += 2;
  }
  if (body.compare(at, 2, "\r\n") != 0) return std::nullopt;
  return at + 2;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int64_t limit = int64_t{1} << (data[0] % 57);
  const std::string body(reinterpret_cast<const char*>(data) + 2, size - 2);

  clap::server::ChunkFraming whole(limit);
  const bool whole_ok = whole.follow(body.data(), body.size());
  const Verdict v = verdict(whole);
  FUZZ_CHECK(whole_ok == !v.broken);
  FUZZ_CHECK(!(v.broken && v.done));
  if (v.broken) {
    FUZZ_CHECK(v.status == 400 || v.status == 413);
    FUZZ_CHECK(!v.problem.empty());
    for (const char c : v.problem) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f);
  } else {
    FUZZ_CHECK(v.status == 0 && v.problem.empty());
  }

  // Byte by byte: where the body ends, if it does.
  clap::server::ChunkFraming bytewise(limit);
  size_t end = 0;
  while (end < body.size() && !bytewise.done() && !bytewise.broken()) bytewise.follow(body.data() + end++, 1);
  FUZZ_CHECK(verdict(bytewise) == v);

  // Cut in two where the input's second byte says.
  const size_t cut = body.empty() ? 0 : data[1] % (body.size() + 1);
  clap::server::ChunkFraming two(limit);
  two.follow(body.data(), cut);
  two.follow(body.data() + cut, body.size() - cut);
  FUZZ_CHECK(verdict(two) == v);

  const std::optional<size_t> length = chunked_body_length(body, limit);
  if (v.done) {
    FUZZ_CHECK(length && *length == end);
    // Whatever follows the body (the next request) changes nothing.
    clap::server::ChunkFraming followed(limit);
    const std::string more = body.substr(0, end) + "\x01garbage\r\n";
    FUZZ_CHECK(followed.follow(more.data(), more.size()) && followed.done());
  } else if (length) {
    FUZZ_CHECK(false);  // a whole chunked body the follower refused or did not see end
  }
  return 0;
}
