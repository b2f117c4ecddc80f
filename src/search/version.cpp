#include "search/version.h"

#include <dlfcn.h>
#include <faiss/Index.h>

#include "search/blas.h"

namespace clap::search {

std::string faiss_version() {
  return std::to_string(FAISS_VERSION_MAJOR) + "." + std::to_string(FAISS_VERSION_MINOR) + "." + std::to_string(FAISS_VERSION_PATCH);
}

std::string blas_version() {
  // Looked up rather than declared: openblas_get_config is OpenBLAS's alone, and the build
  // pins OpenBLAS but another sgemm_ could still answer first.
  using Config = const char* (*)();
  if (auto config = reinterpret_cast<Config>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) return config();
  const std::string library = blas_library();
  return library.empty() ? "none" : library;
}

}  // namespace clap::search
