// Error type used across the library: every message names the thing (file, tensor,
// input) and the reason, so front ends can print it as-is.
#pragma once
#include <stdexcept>
#include <string>

namespace clap {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A value the caller chose is missing, out of range or contradicts another, found before
// anything ran: front ends report it as a usage error (the CLI exits 2 and points at --help,
// the server answers 400).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

}  // namespace clap
