// Which BLAS the vector index's FAISS calls. Debian's FAISS asks for `libblas.so.3`, which the
// system's alternatives may point at the reference BLAS (a machine easily ends up there): an
// IVF build of 1 M windows then took 520 s instead of 20 s. clapsearch links OpenBLAS ahead of
// it (CMakeLists.txt), so `sgemm_` resolves to OpenBLAS whatever that setting says; this tells
// which library really answers, for `doctor` and the test that guards the link.
#pragma once
#include <string>

namespace clap::search {

// The file of the library that provides `sgemm_` in this process ("" when none does).
std::string blas_library();

// True when that library is an optimised BLAS (not the reference implementation).
bool blas_is_optimised(const std::string& library);

}  // namespace clap::search
