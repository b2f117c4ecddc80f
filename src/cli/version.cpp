#include "cli/version.h"

#include <CLI/Version.hpp>
#include <nlohmann/json.hpp>

// Generated at build time by cmake/build_info.cmake: the commit, build type and compiler.
#include "build_info.h"
#include "bench/onednn.h"
#include "service/versions.h"

namespace clap::cli {

std::string version_text() {
  const service::RuntimeVersions v = service::runtime_versions();
  std::string out = "clapsearch " CLAPSEARCH_VERSION " (commit " CLAPSEARCH_COMMIT ")\n";
  out += "built: " CLAPSEARCH_BUILD_TYPE ", " CLAPSEARCH_COMPILER "\n";
  out += "cpu: " + v.engine.cpu_features + "\n";
  out += "kernel set: " + v.engine.kernel_set + "\n";
  out += "kernels: fp32 " + v.engine.kernel_fp32 + ", bf16 " + v.engine.kernel_bf16 + ", int8 " + v.engine.kernel_int8 + "\n";
  auto line = [&](const std::string& name, const std::string& version) {
    out += name + std::string(name.size() < 14 ? 14 - name.size() : 1, ' ') + version + "\n";
  };
  for (const auto& [name, version] : v.libraries) line(name, version);
  line("oneDNN", onednn_version());  // linked by the bench layer only, for its comparison
  // Header-only libraries: their version is the one compiled in.
  line("CLI11", CLI11_VERSION " (compiled in)");
  line("nlohmann-json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." + std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                            std::to_string(NLOHMANN_JSON_VERSION_PATCH) + " (compiled in)");
  return out;
}

}  // namespace clap::cli
