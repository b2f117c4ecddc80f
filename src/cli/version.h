// `clapsearch --version`: the program, the commit it was built from, the build, the CPU's
// extensions and kernels, and every library's version (ffmpeg -version, rg --version).
#pragma once
#include <string>

namespace clap::cli {

std::string version_text();

}  // namespace clap::cli
