#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "index/hub.h"
#include "index/model_health.h"

namespace clap::cli {

std::unique_ptr<ClapModel> open_model(const std::string& spec, int threads) {
  const index::ResolvedModel resolved = index::resolve_model(spec);
  auto model = ClapModel::load(resolved.dir);
  // A model just downloaded is used here for the first time: check its text tower once.
  if (resolved.downloaded && model->has_tokenizer()) {
    const index::ModelHealth health = index::check_text_health(*model, threads);
    if (health.collapsed) std::fprintf(stderr, "\n%s\n\n", index::collapsed_warning(resolved.id, health).c_str());
  }
  return model;
}

ClapState model_state(int threads) {
  return ClapState(threads, [](const std::string& message) { std::fprintf(stderr, "warning: %s\n", message.c_str()); });
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
