#include "server/chunk_framing.h"

#include <algorithm>
#include <cstdio>

namespace clap::server {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A byte as a message shows it: itself when printable, else 0xNN.
std::string shown(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u > 0x20 && u < 0x7f) return std::string("'") + c + "'";
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", u);
  return hex;
}

constexpr size_t kLongestLine = 8192;  // a chunk-size line with its extensions

}  // namespace

bool ChunkFraming::fail(int status, const std::string& why) {
  state_ = State::Broken;
  status_ = status;
  problem_ = why;
  return false;
}

bool ChunkFraming::follow(const char* bytes, size_t n) {
  for (size_t i = 0; i < n;) {
    if (state_ == State::Done) return true;  // the next request's bytes: not the body's
    if (state_ == State::Broken) return false;
    if (state_ == State::Data) {
      const size_t take = static_cast<size_t>(std::min<int64_t>(left_, static_cast<int64_t>(n - i)));
      left_ -= static_cast<int64_t>(take);
      i += take;
      if (left_ == 0) state_ = State::DataCR;
      continue;
    }
    if (!step(bytes[i++])) return false;
  }
  return state_ != State::Broken;
}

bool ChunkFraming::step(char c) {
  const std::string crlf = " (RFC 9112, 7.1)";
  switch (state_) {
    case State::SizeFirst: {
      const int v = hex_value(c);
      if (v < 0)
        return fail(400, "a chunk size must start with a hexadecimal digit; the chunked body has " + shown(c) +
                             " there (a negative, signed or 0x-prefixed size is not a size)" + crlf);
      size_ = v, line_ = 1;
      state_ = State::Size;
      // A one-digit size is over a limit under 16 bytes too (the limit's check was on later digits only).
      if (size_ > max_size_)
        return fail(413, "a chunk of the body is over the server's limit of " + std::to_string(max_size_) + " bytes");
      return true;
    }
    case State::Size: {
      ++line_;
      if (const int v = hex_value(c); v >= 0) {
        size_ = size_ * 16 + v;  // size_ <= max_size_ <= 2^56 before this (connection.cpp): no overflow
        if (size_ > max_size_)
          return fail(413, "a chunk of the body is over the server's limit of " + std::to_string(max_size_) + " bytes");
        return true;
      }
      if (c == ';' || c == ' ' || c == '\t') {
        state_ = State::Extension;
        return true;
      }
      if (c == '\r') {
        state_ = State::SizeLF;
        return true;
      }
      return fail(400, "a chunk size must be hexadecimal digits; the chunked body has " + shown(c) + " in one" + crlf);
    }
    case State::Extension:
      if (++line_ > kLongestLine) return fail(400, "a chunk-size line is over " + std::to_string(kLongestLine) + " bytes");
      if (c == '\r') state_ = State::SizeLF;
      else if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
        return fail(400, "a chunk-size line holds a control character (" + shown(c) + ")" + crlf);
      return true;
    case State::SizeLF:
      if (c != '\n') return fail(400, "a chunk-size line does not end with CRLF" + crlf);
      if (size_ == 0) {
        state_ = State::TrailerStart;
      } else {
        left_ = size_;
        state_ = State::Data;
      }
      return true;
    case State::DataCR:
    case State::DataLF:
      if (c != (state_ == State::DataCR ? '\r' : '\n'))
        return fail(400, "a chunk of " + std::to_string(size_) + " bytes is not followed by CRLF (is its size right?)" + crlf);
      state_ = state_ == State::DataCR ? State::DataLF : State::SizeFirst;
      return true;
    case State::TrailerStart:
      // cpp-httplib (0.11) cannot read trailer fields (it fails the body as unreadable): refused
      // here with the reason instead.
      if (c != '\r') return fail(400, "the chunked body has trailer fields after its last chunk; they are not accepted here");
      state_ = State::LastLF;
      return true;
    case State::LastLF:
      if (c != '\n') return fail(400, "the chunked body does not end with CRLF" + crlf);
      state_ = State::Done;
      return true;
    case State::Data:
    case State::Done:
    case State::Broken:
      break;
  }
  return state_ != State::Broken;
}

}  // namespace clap::server
