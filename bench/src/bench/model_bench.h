// How fast a model runs on this machine: what `clapsearch bench` measures and prints. Every
// timing is the best of `repeat` passes (on a shared machine the best pass is the least
// disturbed one).
#pragma once
#include <cstdint>
#include <string>
#include <utility>

#include "model/clap.h"
#include <vector>

namespace clap {

struct ModelBenchOptions {
  int windows = 8;  // synthetic 10 s windows embedded per pass
  int batch = 8;    // windows per call for the batched timing
  int repeat = 3;   // timed passes
  int threads = 0;  // 0 = default_thread_count()
  Precision precision = Precision::F32;  // of the audio tower (LoadOptions::audio_precision)
  Precision text_precision = Precision::F32;  // of the text tower (LoadOptions::text_precision)
};

struct ModelBenchReport {
  int threads = 0;
  double load_ms = 0;                     // ClapModel::load (memory-mapped, warm page cache)
  double first_audio_ms = 0;              // the first window: pages in and packs the audio weights
  double audio_ms_per_window_batch1 = 0;  // one window per call
  double audio_ms_per_window = 0;         // `batch` windows per call
  // Where the time of the best batched pass went, per window, in first-seen order.
  std::vector<std::pair<std::string, double>> audio_stage_ms_per_window;
  double mel_ms_per_window = 0;  // feature extraction alone, one clip after the other
  double text_ms_short = 0;      // one short query (median of 9 calls)
  double text_ms_16 = 0;         // 16 queries in one call
  double gflop_per_window = 0;   // the audio tower's arithmetic
  double gflops_audio = 0;       // achieved at `batch`
  double gemm_peak_gflops = 0;   // the own kernel on packed weights of the precision, 2048 x 1536 x 1536
  std::string gemm_kernel;       // its family: "avx512", "avx2", "generic", "avx512-bf16", ...
  double onednn_sgemm_gflops = 0;  // oneDNN's sgemm on the same shape, for comparison
  double weight_mb = 0;
  int64_t parameters = 0;
  double peak_rss_mb = 0;  // of the process, before the GEMM measurement's own buffers
};

// Loads the model folder and measures it. Text timings use the model's tokenizer, or token
// ids of typical lengths when the folder has none.
ModelBenchReport bench_model(const ModelFiles& model, const ModelBenchOptions& options);

}  // namespace clap
