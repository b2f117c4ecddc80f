// The framing of a chunked request body (RFC 9112, 7.1), followed byte by byte as cpp-httplib
// reads it. cpp-httplib (0.11) reads a chunk size with strtoul: "-5" becomes 2^64 - 5 and
// "FFFFFFFF" 4 GB, and it then waits for that many bytes until the body's deadline (10 s and
// more) instead of refusing at once; "0x10", " 5" and "+5" pass as sizes; a chunk that does not
// end with CRLF ends the body early, the rest left on the connection for the next request. The
// connection's stream (connection.cpp) stops the body at the first byte that breaks the framing,
// or at a size over the body limit, so that the request is refused at once and the connection
// closed. Trailer fields, which cpp-httplib cannot read, are refused with that reason.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace clap::server {

class ChunkFraming {
 public:
  // `max_size`: the largest chunk size accepted (the server's body limit), at most 2^56.
  explicit ChunkFraming(int64_t max_size) : max_size_(max_size) {}

  // Follows n more bytes of the body; false from the first byte that breaks the framing (or
  // after a chunk size over the limit). Bytes after the body's end are not looked at.
  bool follow(const char* bytes, size_t n);

  bool broken() const { return state_ == State::Broken; }
  bool done() const { return state_ == State::Done; }
  // Why the body was refused: 400 (malformed) or 413 (a chunk over the limit), and a sentence.
  int status() const { return status_; }
  const std::string& problem() const { return problem_; }

 private:
  enum class State { SizeFirst, Size, Extension, SizeLF, Data, DataCR, DataLF, TrailerStart, LastLF, Done, Broken };
  bool fail(int status, const std::string& why);
  bool step(char c);

  int64_t max_size_;
  State state_ = State::SizeFirst;
  int64_t size_ = 0, left_ = 0;
  size_t line_ = 0;  // bytes of the current chunk-size line
  int status_ = 0;
  std::string problem_;
};

}  // namespace clap::server
