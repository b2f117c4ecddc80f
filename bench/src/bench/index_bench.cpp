#include "bench/index_bench.h"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "service/indexing.h"

namespace clap::service {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A temporary folder removed when the run ends, whatever happens.
struct TempDir {
  std::string path;
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/clapsearch-index-bench-XXXXXX";
    if (!mkdtemp(pattern.data())) throw Error("cannot create a temporary folder for the benchmark index in " + pattern);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

IndexBenchReport bench_index(const IndexBenchRequest& r) {
  IndexBenchReport rep;
  rep.precision = precision_name(r.precision);
  const TempDir dir;

  IndexRequest ir;
  ir.dirs = r.dirs;
  ir.db = dir.path + "/bench.db";
  ir.model = r.model;
  ir.model_config = r.model_options.config;
  ir.model_tokenizer = r.model_options.tokenizer;
  ir.precision = rep.precision;
  ir.threads = r.threads;
  ir.batch = r.batch;
  ir.decoders = r.decoders;
  if (r.first_pass >= 0) ir.first_pass = r.first_pass;
  ir.quiet = true;
  const IndexRun run = run_index(ir);
  const index::IndexSummary& s = run.summary;
  rep.files = s.indexed;
  rep.errors = s.errors;
  rep.windows = s.embedded_windows;
  rep.audio_seconds = s.audio_seconds;
  rep.load_seconds = s.load_seconds;
  rep.pipeline_seconds = s.wall_seconds - s.load_seconds;
  rep.model_seconds = s.model_seconds;
  rep.decode_cpu_seconds = s.decode_seconds;
  if (rep.windows == 0) throw Error("nothing was embedded: no decodable, non-silent audio under the given folders");

  // The model alone: a sample of windows in batches like the indexer's, best of `repeat` passes.
  ModelOpenOptions mo;
  mo.hub = r.model_options;
  mo.threads = r.threads;
  mo.audio_precision = r.precision;
  mo.prepare_audio = true;
  const OpenedModel opened = open_model(r.model, mo);
  const ClapModel& model = *opened.model;
  const int sample = static_cast<int>(std::min<int64_t>(rep.windows, 4 * std::max(1, r.batch)));
  std::vector<std::vector<float>> clips(sample, std::vector<float>(model.window_samples()));
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  for (int w = 0; w < sample; ++w)
    for (size_t i = 0; i < clips[w].size(); ++i)
      clips[w][i] = 0.3f * std::sin(2 * 3.14159265f * 220.0f * (w + 1) * i / model.sample_rate()) + noise(rng);
  const std::vector<std::span<const float>> spans(clips.begin(), clips.end());
  ClapState state(r.threads);
  (void)model.embed_audio(state, {spans.front()}, 1);  // buffers sized
  double best = 1e300;
  for (int pass = 0; pass < std::max(1, r.repeat); ++pass) {
    const auto t = Clock::now();
    (void)model.embed_audio(state, spans, r.batch);
    best = std::min(best, seconds_since(t));
  }
  rep.pure_model_seconds = best / sample * static_cast<double>(rep.windows);
  return rep;
}

}  // namespace clap::service
