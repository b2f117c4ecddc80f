// `clapsearch doctor`: what a model is (id, revision, folder, weights hash, size, parameter
// count, load time) and whether its text tower is healthy.
#pragma once
#include <cstdint>
#include <string>

#include <vector>

#include "hub/hub.h"
#include "service/model_health.h"
#include "store/store.h"

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

// User data (stars, ratings, plays, playlist, queue and bookmark entries) on a track id given
// again: before the K6-1 fix a deleted song's id went to the next new file, and its user data
// showed on that file. Such a row names a live track with neither its content hash nor its path
// (store.h Store::misattached_songs). `error`: the index could not be read (not counted).
struct ReusedIdReport {
  std::string db, error;
  std::vector<store::Store::Misattached> found;
  int64_t rows = 0;
};
ReusedIdReport reused_track_ids(const std::string& db);
// Detaches them (Store::detach_misattached_songs): the rows are kept, unseen until their
// recording is indexed again. Returns the rows moved.
int64_t detach_reused_track_ids(const std::string& db);

}  // namespace clap::service
