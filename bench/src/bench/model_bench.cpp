#include "bench/model_bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "core/profile.h"
#include "model/clap_impl.h"
#include "tensor/linear.h"
#include "bench/onednn.h"

namespace clap {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct GemmPeak {
  double packed = 0;  // the engine's own kernel on prepacked weights (what the towers use)
  double onednn = 0;  // oneDNN sgemm on the same shape, for comparison
};

// Best-of-5 GEMM, M = 2048 rows x 1536 x 1536 (a typical late-stage layer of a batch).
GemmPeak measure_gemm_peak(WeightType type) {
  const int m = 2048, n = 1536;
  std::vector<float> a(size_t(m) * n), w(size_t(n) * n), bias(n, 0.0f), c(size_t(m) * n);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto& x : a) x = u(rng);
  for (auto& x : w) x = u(rng);
  const PackedLinear packed = pack_linear(w.data(), bias.data(), n, n, type);
  LinearScratch scratch;
  double best_packed = 1e30, best_onednn = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    auto t = Clock::now();
    linear(a.data(), m, n, packed.view(), c.data(), n, Epilogue::None, nullptr, &scratch);
    best_packed = std::min(best_packed, ms_since(t));
    t = Clock::now();
    onednn_sgemm(false, true, m, n, n, 1.0f, a.data(), n, w.data(), n, 0.0f, c.data(), n);
    best_onednn = std::min(best_onednn, ms_since(t));
  }
  const double flops = 2.0 * m * n * n;
  return {flops / (best_packed / 1000) / 1e9, flops / (best_onednn / 1000) / 1e9};
}

std::vector<std::vector<float>> synthetic_windows(int count, int64_t samples, int rate) {
  std::vector<std::vector<float>> out(count, std::vector<float>(samples));
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  for (int w = 0; w < count; ++w)
    for (int64_t i = 0; i < samples; ++i)
      out[w][i] = 0.3f * std::sin(2 * 3.14159265f * (220.0f * (w + 1)) * i / rate) + noise(rng);
  return out;
}

}  // namespace

ModelBenchReport bench_model(const ModelFiles& files, const ModelBenchOptions& o) {
  ModelBenchReport r;
  ClapState state(o.threads);
  r.threads = state.threads();
  // Everything below on the state's thread count (loading, feature extraction alone, the
  // GEMM peak); the embed calls apply it themselves.
  const ThreadCountScope threads(state.threads());
  auto t0 = Clock::now();
  LoadOptions load_options;
  load_options.audio_precision = o.precision;
  load_options.text_precision = o.text_precision;
  std::unique_ptr<ClapModel> model = ClapModel::load(files, load_options);
  r.load_ms = ms_since(t0);
  const auto& m = model->impl();

  auto clips = synthetic_windows(o.windows, model->window_samples(), model->sample_rate());
  std::vector<std::span<const float>> spans(clips.begin(), clips.end());
  // Warm-up at both batch sizes: pages in the weights, packs them for the GEMM kernel and
  // sizes the activation buffers, so the timings below are the steady state of indexing.
  auto t_first = Clock::now();
  model->embed_audio(state, {spans[0]}, 1);
  r.first_audio_ms = ms_since(t_first);  // includes the one-time weight packing
  model->embed_audio(
      state, std::vector<std::span<const float>>(spans.begin(), spans.begin() + std::min<size_t>(spans.size(), o.batch)),
      o.batch);

  // Each timing is the best of --repeat passes: on a shared machine the best pass is the one
  // least disturbed by other tenants (the usual practice of timeit and the reference's timings).
  r.audio_ms_per_window_batch1 = 1e300;
  r.audio_ms_per_window = 1e300;
  std::vector<std::pair<std::string, double>> stages;
  for (int pass = 0; pass < o.repeat; ++pass) {
    auto t1 = Clock::now();
    for (const auto& s : spans) model->embed_audio(state, {s}, 1);
    r.audio_ms_per_window_batch1 = std::min(r.audio_ms_per_window_batch1, ms_since(t1) / o.windows);
    profile::reset();
    profile::enable(true);
    auto t2 = Clock::now();
    model->embed_audio(state, spans, o.batch);
    const double ms = ms_since(t2) / o.windows;
    profile::enable(false);
    if (ms < r.audio_ms_per_window) {
      r.audio_ms_per_window = ms;
      stages = profile::totals();
    }
  }
  for (const auto& [stage, ms] : stages) r.audio_stage_ms_per_window.emplace_back(stage, ms / o.windows);

  // Feature extraction alone (part of the per-window time above).
  auto t3 = Clock::now();
  for (const auto& s : spans) m.mel->features(s.data(), s.size());
  r.mel_ms_per_window = ms_since(t3) / o.windows;

  // Text: tokenizer when available, otherwise token ids of typical lengths.
  std::vector<std::string> queries = {"female vocalist", "warm lo-fi guitar", "rock music", "a dog barking",
                                      "solo piano, slow and sad", "energetic electronic dance track with heavy bass",
                                      "male voice speaking", "jazz trio", "orchestral film score", "rain and thunder",
                                      "acoustic folk song with harmonica", "hip hop beat", "choir singing in a church",
                                      "lo-fi hip hop to study to", "heavy metal guitar solo", "birds chirping in the morning"};
  auto time_text = [&](const std::vector<std::string>& q) {
    auto t = Clock::now();
    if (model->has_tokenizer()) {
      model->embed_text(state, q);
    } else {
      std::vector<float> e(m.config.projection_dim);
      for (const auto& s : q) {
        std::vector<int64_t> ids(s.size() / 4 + 3, 100);  // about one token per 4 characters + <s> </s>
        ids.front() = 0;
        ids.back() = 2;
        m.text_from_ids(ids.data(), static_cast<int>(ids.size()), e.data());
      }
    }
    return ms_since(t);
  };
  time_text({queries[0]});
  std::vector<double> shorts;
  for (int i = 0; i < 9; ++i) shorts.push_back(time_text({queries[0]}));
  std::sort(shorts.begin(), shorts.end());
  r.text_ms_short = shorts[shorts.size() / 2];
  r.text_ms_16 = 1e300;
  for (int pass = 0; pass < o.repeat; ++pass) r.text_ms_16 = std::min(r.text_ms_16, time_text(queries));

  const double flops = htsat_flops_per_window(m.config.audio);
  r.gflop_per_window = flops / 1e9;
  r.gflops_audio = flops / (r.audio_ms_per_window / 1000) / 1e9;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  r.peak_rss_mb = ru.ru_maxrss / 1024.0;  // before the GEMM measurement's own buffers
  const WeightType type = o.precision == Precision::BF16 ? WeightType::BF16
                          : o.precision == Precision::I8 ? WeightType::I8
                                                         : WeightType::F32;
  const GemmPeak peaks = measure_gemm_peak(type);
  r.gemm_peak_gflops = peaks.packed;
  r.gemm_kernel = packed_gemm_kernel(type);
  r.onednn_sgemm_gflops = peaks.onednn;
  r.weight_mb = model->weight_bytes() / 1048576.0;
  r.parameters = model->parameter_count();
  return r;
}

}  // namespace clap
