// The vector-search libraries this process runs with, for `clapsearch --version`.
#pragma once
#include <string>

namespace clap::search {

std::string faiss_version();  // FAISS's version macros (compile time: FAISS has no run-time query)
// OpenBLAS's own description ("OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"),
// or the file of whichever library answers sgemm_ when it is not OpenBLAS.
std::string blas_version();

}  // namespace clap::search
