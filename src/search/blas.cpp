#include "search/blas.h"

#include <dlfcn.h>

namespace clap::search {

std::string blas_library() {
  void* symbol = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (!symbol || !dladdr(symbol, &info) || !info.dli_fname) return "";
  char resolved[4096];
  return realpath(info.dli_fname, resolved) ? std::string(resolved) : std::string(info.dli_fname);
}

bool blas_is_optimised(const std::string& library) {
  // Debian's reference BLAS lives in .../blas/libblas.so.3*; OpenBLAS, BLIS and MKL elsewhere.
  return !library.empty() && library.find("/blas/libblas.so") == std::string::npos;
}

}  // namespace clap::search
