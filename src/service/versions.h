// The run-time versions of the libraries clapsearch runs with, gathered from the layers that
// wrap them (each reports its own), for `clapsearch --version`. The CLI adds what it knows
// itself (the commit, the compiler, CLI11 and nlohmann-json).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "model/engine_report.h"

namespace clap::service {

struct RuntimeVersions {
  EngineReport engine;
  std::vector<std::pair<std::string, std::string>> libraries;  // name, version; in print order
};

RuntimeVersions runtime_versions();

}  // namespace clap::service
