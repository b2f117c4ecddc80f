// `clapsearch doctor`: what a model is (id, revision, folder, weights hash, size, parameter
// count, load time) and whether its text tower is healthy.
#pragma once
#include <cstdint>
#include <string>

#include "hub/hub.h"
#include "service/model_health.h"

namespace clap::service {

struct DoctorReport {
  std::string id, revision, dir;
  std::string weights_file, weights_sha256;
  std::string weights_format;  // "safetensors", "PyTorch training checkpoint (epoch 15)", ...
  std::string hub_sha256;  // the sha256 the hub reported for the cached file; "" when unknown
  int64_t weights_file_bytes = 0;
  int64_t parameters = 0;
  size_t weight_bytes = 0;
  int embedding_dim = 0;
  double resolve_seconds = 0, load_seconds = 0;
  bool health_checked = false;  // false: the model has no tokenizer
  ModelHealth health;
  double health_seconds = 0;
  // This machine: the GEMM kernels the audio tower runs per precision, and the library that
  // answers FAISS's sgemm_ (search/blas.h).
  std::string kernel_fp32, kernel_bf16, kernel_int8;
  std::string precision_advice;  // model/engine_report.h: which precision to pick on this CPU
  std::string blas_library;
  bool blas_optimised = false;

  bool hub_checksum_mismatch() const { return !hub_sha256.empty() && hub_sha256 != weights_sha256; }
  bool collapsed() const { return health_checked && health.collapsed; }
};

DoctorReport check_model(const std::string& spec, int threads = 0, const hub::HubOptions& options = {});

}  // namespace clap::service
