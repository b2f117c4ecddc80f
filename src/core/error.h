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

}  // namespace clap
