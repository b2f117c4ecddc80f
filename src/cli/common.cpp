#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "index/hub.h"

namespace clap::cli {

std::unique_ptr<ClapModel> open_model(const std::string& spec, int threads) {
  LoadOptions options;
  options.threads = threads;
  return ClapModel::load(index::resolve_model(spec).dir, options);
}

std::string json_float(float v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  for (int precision = 6; precision <= 9; ++precision) {  // shortest that round-trips
    std::snprintf(buf, sizeof buf, "%.*g", precision, static_cast<double>(v));
    if (std::strtof(buf, nullptr) == v) break;
  }
  return buf;
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

}  // namespace clap::cli
