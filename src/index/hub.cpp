#include "index/hub.h"

#include <filesystem>

#include "core/error.h"

namespace clap::index {

ResolvedModel resolve_model(const std::string& spec, const HubOptions& options) {
  (void)options;
  namespace fs = std::filesystem;
  if (fs::is_directory(spec)) return {spec, fs::absolute(spec).lexically_normal().string(), "local"};
  throw Error(spec + ": not a model folder (hub downloads are not implemented yet)");
}

}  // namespace clap::index
