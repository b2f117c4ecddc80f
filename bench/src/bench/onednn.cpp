#include "bench/onednn.h"

#include <oneapi/dnnl/dnnl.h>

#include <string>

#include "core/error.h"

namespace clap {

void onednn_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (st != dnnl_success) throw Error("oneDNN sgemm failed with status " + std::to_string(int(st)));
}

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  std::string out = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  // Debian's build has no commit ("N/A").
  const std::string hash = v->hash != nullptr ? v->hash : "";
  if (!hash.empty() && hash != "N/A") out += " (commit " + hash.substr(0, 8) + ")";
  return out;
}

}  // namespace clap
