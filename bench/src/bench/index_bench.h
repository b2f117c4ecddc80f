// `clapsearch bench --index DIR`: indexing speed end to end on real files. The folders are
// indexed into a temporary index exactly as `clapsearch index` would (decoding, resampling,
// windows, silence, the model, the database), then the same number of windows is embedded by
// the model alone; the report says how fast the whole run is in audio seconds per second and
// how much the pipeline adds over the pure model time of the same windows.
#pragma once
#include <string>
#include <vector>

#include "service/model.h"

namespace clap::service {

struct IndexBenchRequest {
  std::string model;
  hub::HubOptions model_options;  // --config / --tokenizer
  Precision precision = Precision::F32;
  std::vector<std::string> dirs;
  int threads = 0, batch = 8, decoders = 0;
  int first_pass = -1;  // windows of the first pass (index/passes.h); -1: index's default, 0: one shot
  int repeat = 3;  // passes of the pure-model timing; the best is used
};

struct IndexBenchReport {
  std::string precision;
  int64_t files = 0, errors = 0, windows = 0;  // windows embedded
  double audio_seconds = 0;
  double load_seconds = 0;       // loading and packing the model (not part of the rates below)
  double pipeline_seconds = 0;   // the run's wall time without model loading
  double model_seconds = 0;      // of which inside the model
  double decode_cpu_seconds = 0; // CPU time of the decoder threads
  double pure_model_seconds = 0; // the same number of windows through the model alone
  double realtime_factor() const { return pipeline_seconds > 0 ? audio_seconds / pipeline_seconds : 0; }
  // How much longer the pipeline took than the model alone would: pipeline / pure - 1.
  double pipeline_overhead() const { return pure_model_seconds > 0 ? pipeline_seconds / pure_model_seconds - 1 : 0; }
  double outside_model_fraction() const {
    return pipeline_seconds > 0 ? std::max(0.0, 1.0 - model_seconds / pipeline_seconds) : 0;
  }
};

// Throws clap::Error when the model cannot be opened or nothing could be indexed.
IndexBenchReport bench_index(const IndexBenchRequest& request);

}  // namespace clap::service
