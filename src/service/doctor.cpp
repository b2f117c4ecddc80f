#include "service/doctor.h"

#include <chrono>
#include <filesystem>

#include "core/sha256.h"
#include "hub/hub.h"
#include "index/identity.h"
#include "model/clap.h"
#include "model/engine_report.h"
#include "search/blas.h"
#include "core/error.h"

namespace clap::service {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

ReusedIdReport reused_track_ids(const std::string& db) {
  ReusedIdReport r;
  const std::string location = store::resolve_location(db);
  r.db = store::display_location(location);
  try {
    const std::unique_ptr<store::Store> s = store::open_store(location, store::OpenMode::ReadOnly);
    r.found = s->misattached_songs();
    for (const store::Store::Misattached& m : r.found) r.rows += m.rows;
  } catch (const Error& e) {
    r.error = e.what();
  }
  return r;
}

int64_t detach_reused_track_ids(const std::string& db) {
  const std::unique_ptr<store::Store> s = store::open_store(store::resolve_location(db), store::OpenMode::ReadWriteExisting);
  // Rows whose recording is in the library again go back to it first (as after an index run);
  // only the rest are detached.
  s->reattach_songs();
  return s->detach_misattached_songs();
}

DoctorReport check_model(const std::string& spec, int threads, const hub::HubOptions& options) {
  namespace fs = std::filesystem;
  DoctorReport r;
  auto t0 = std::chrono::steady_clock::now();
  hub::HubOptions hub_options = options;
  hub_options.quiet = false;
  const hub::ResolvedModel resolved = hub::resolve_model(spec, hub_options);
  r.resolve_seconds = seconds_since(t0);
  r.id = resolved.id;
  r.revision = resolved.revision;
  r.dir = resolved.dir;

  t0 = std::chrono::steady_clock::now();
  const ModelFiles files = index::model_files_of(resolved);
  const auto model = ClapModel::load(files);
  r.load_seconds = seconds_since(t0);

  r.weights_file = files.weights;
  r.weights_format = model->weights_format();
  r.weights_sha256 = sha256_file(r.weights_file);
  r.hub_sha256 = hub::cached_blob_sha256(r.weights_file);
  std::error_code ec;
  r.weights_file_bytes = static_cast<int64_t>(fs::file_size(r.weights_file, ec));
  r.parameters = model->parameter_count();
  r.weight_bytes = model->weight_bytes();
  r.embedding_dim = model->embedding_dim();
  r.kernel_fp32 = audio_gemm_kernel(Precision::F32);
  r.kernel_bf16 = audio_gemm_kernel(Precision::BF16);
  r.kernel_int8 = audio_gemm_kernel(Precision::I8);
  r.precision_advice = precision_advice(r.kernel_bf16, r.kernel_int8);
  r.blas_library = search::blas_library();
  r.blas_optimised = search::blas_is_optimised(r.blas_library);
  r.health_checked = model->has_tokenizer();
  if (r.health_checked) {
    t0 = std::chrono::steady_clock::now();
    r.health = check_text_health(*model, threads);
    r.health_seconds = seconds_since(t0);
  }
  return r;
}

}  // namespace clap::service
