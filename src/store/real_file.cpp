#include "store/real_file.h"

#include <filesystem>
#include <system_error>

namespace clap::store {

std::string real_file(const std::string& location) {
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::canonical(location, ec);
  return ec ? location : real.string();
}

}  // namespace clap::store
