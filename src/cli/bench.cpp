// clapsearch bench: model load time, audio ms per 10 s window (batch 1 and --batch), text
// query latency, achieved GFLOP/s against the GEMM peak measured on the spot, peak RSS.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.h"
#include "core/error.h"
#include "core/profile.h"
#include "core/sha256.h"
#include "model/clap_impl.h"
#include "search/bench.h"
#include "service/model.h"
#include "tensor/gemm.h"
#include "tensor/ops.h"

namespace clap::cli {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct BenchOptions {
  std::string model, config, tokenizer;
  std::vector<int64_t> vectors;  // --vectors: vector-index benchmark sizes
  bool hnsw = false;
  int windows = 8;
  int repeat = 3;
  int batch = 8;
  int threads = 0;
  bool json = false;
};

struct GemmPeak {
  double packed = 0;  // the engine's own kernel on prepacked weights (what the towers use)
  double onednn = 0;  // oneDNN sgemm on the same shape, for comparison
};

// Best-of-5 GEMM, M = 2048 rows x 1536 x 1536 (a typical late-stage layer of a batch).
GemmPeak measure_gemm_peak() {
  const int m = 2048, n = 1536;
  std::vector<float> a(size_t(m) * n), w(size_t(n) * n), bias(n, 0.0f), c(size_t(m) * n);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto& x : a) x = u(rng);
  for (auto& x : w) x = u(rng);
  const PackedLinear packed = pack_linear(w.data(), bias.data(), n, n);
  double best_packed = 1e30, best_onednn = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    auto t = Clock::now();
    linear_packed(a.data(), m, n, packed, c.data(), n);
    best_packed = std::min(best_packed, ms_since(t));
    t = Clock::now();
    gemm(false, true, m, n, n, 1.0f, a.data(), n, w.data(), n, 0.0f, c.data(), n);
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

namespace fs = std::filesystem;

// --config: build the architecture with generated weights once, store it as a snapshot
// folder under the user cache, and bench that folder in a fresh process, so load time and
// peak RSS are those of the real memory-mapped loading path.
std::string random_snapshot(const BenchOptions& o) {
  std::ifstream in(o.config, std::ios::binary);
  if (!in) throw Error(o.config + ": cannot open");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const fs::path cache = xdg && *xdg ? fs::path(xdg) : fs::path(home ? home : "/tmp") / ".cache";
  const fs::path dir = cache / "clapsearch" / "bench" / sha256_hex(text.data(), text.size()).substr(0, 16);
  if (fs::exists(dir / "model.safetensors")) return dir.string();
  std::fprintf(stderr, "bench: generating weights for %s into %s (once)\n", o.config.c_str(), dir.c_str());
  const fs::path tmp = dir.string() + ".partial";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  ClapModel::random(o.config, 1)->save_random_snapshot(tmp.string());
  fs::copy_file(o.config, tmp / "config.json");
  const fs::path pre = fs::path(o.config).parent_path() / "preprocessor_config.json";
  if (fs::exists(pre)) fs::copy_file(pre, tmp / "preprocessor_config.json");
  if (!o.tokenizer.empty())
    for (const char* f : {"vocab.json", "merges.txt", "tokenizer.json"})
      if (fs::exists(fs::path(o.tokenizer) / f)) fs::copy_file(fs::path(o.tokenizer) / f, tmp / f);
  fs::remove_all(dir);
  fs::rename(tmp, dir);
  return dir.string();
}

int rerun_with_model(const BenchOptions& o, const std::string& model_dir) {
  std::vector<std::string> args = {"clapsearch", "bench", "--model", model_dir, "--windows", std::to_string(o.windows),
                                   "--repeat", std::to_string(o.repeat),
                                   "--batch", std::to_string(o.batch), "--threads", std::to_string(o.threads)};
  if (o.json) args.push_back("--json");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

// --vectors N...: query latency of the vector index at N windows of synthetic unit vectors,
// exact vs approximate, and recall@10 of the approximate index.
int run_vector_bench(const BenchOptions& o) {
  nlohmann::json all = nlohmann::json::array();
  for (int64_t n : o.vectors) {
    search::VectorBenchOptions options;
    options.approximate = {search::IndexKind::Ivf};
    if (o.hnsw) options.approximate.push_back(search::IndexKind::Hnsw);
    const auto r = search::run_vector_bench(n, 512, 200, 10, options);
    for (const auto& idx : r.indexes) {
      if (o.json) {
        all.push_back({{"vectors", n}, {"index", idx.kind}, {"params", idx.params}, {"build_ms", idx.build_ms},
                       {"query_ms_mean", idx.mean_ms}, {"query_ms_p50", idx.p50_ms}, {"query_ms_p99", idx.p99_ms},
                       {"recall_at_10", idx.recall}});
      } else {
        std::printf("%9lld vectors  %-6s %-28s build %8.0f ms  query mean %7.2f ms  p50 %7.2f  p99 %7.2f  recall@10 %.3f\n",
                    static_cast<long long>(n), idx.kind.c_str(), idx.params.c_str(), idx.build_ms, idx.mean_ms, idx.p50_ms,
                    idx.p99_ms, idx.recall);
      }
    }
  }
  if (o.json) std::printf("%s\n", all.dump(2).c_str());
  return 0;
}

int run_bench(const BenchOptions& o) {
  if (!o.vectors.empty()) return run_vector_bench(o);
  if (o.model.empty() == o.config.empty()) throw Error("give exactly one of --model PATH or --config config.json");
  if (!o.config.empty()) return rerun_with_model(o, random_snapshot(o));
  set_num_threads(o.threads);
  auto t0 = Clock::now();
  service::ModelOpenOptions mo;
  mo.threads = o.threads;
  std::unique_ptr<ClapModel> model = service::open_model(o.model, mo).model;
  const double load_ms = ms_since(t0);
  const auto& m = model->impl();

  auto clips = synthetic_windows(o.windows, model->window_samples(), model->sample_rate());
  std::vector<std::span<const float>> spans(clips.begin(), clips.end());
  // Warm-up at both batch sizes: pages in the weights, packs them for the GEMM kernel and
  // sizes the activation buffers, so the timings below are the steady state of indexing.
  auto t_first = Clock::now();
  model->embed_audio({spans[0]}, 1);
  const double first_audio_ms = ms_since(t_first);  // includes the one-time weight packing
  model->embed_audio(std::vector<std::span<const float>>(spans.begin(), spans.begin() + std::min<size_t>(spans.size(), o.batch)),
                     o.batch);

  // Each timing is the best of --repeat passes: on a shared machine the best pass is the one
  // least disturbed by other tenants (the usual practice of timeit and the reference's timings).
  double audio_b1 = 1e300, audio_bn = 1e300;
  std::vector<std::pair<std::string, double>> stages;
  for (int pass = 0; pass < o.repeat; ++pass) {
    auto t1 = Clock::now();
    for (const auto& s : spans) model->embed_audio({s}, 1);
    audio_b1 = std::min(audio_b1, ms_since(t1) / o.windows);
    profile::reset();
    profile::enable(true);
    auto t2 = Clock::now();
    model->embed_audio(spans, o.batch);
    const double ms = ms_since(t2) / o.windows;
    profile::enable(false);
    if (ms < audio_bn) {
      audio_bn = ms;
      stages = profile::totals();
    }
  }

  // Feature extraction alone (part of the per-window time above).
  auto t3 = Clock::now();
  for (const auto& s : spans) m.mel->features(s.data(), s.size());
  const double mel_ms = ms_since(t3) / o.windows;

  // Text: tokenizer when available, otherwise token ids of typical lengths.
  double text_short = 0, text_16 = 0;
  std::vector<std::string> queries = {"female vocalist", "warm lo-fi guitar", "rock music", "a dog barking",
                                      "solo piano, slow and sad", "energetic electronic dance track with heavy bass",
                                      "male voice speaking", "jazz trio", "orchestral film score", "rain and thunder",
                                      "acoustic folk song with harmonica", "hip hop beat", "choir singing in a church",
                                      "lo-fi hip hop to study to", "heavy metal guitar solo", "birds chirping in the morning"};
  auto time_text = [&](const std::vector<std::string>& q) {
    auto t = Clock::now();
    if (model->has_tokenizer()) {
      model->embed_text(q);
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
  for (int r = 0; r < 9; ++r) shorts.push_back(time_text({queries[0]}));
  std::sort(shorts.begin(), shorts.end());
  text_short = shorts[shorts.size() / 2];
  text_16 = 1e300;
  for (int pass = 0; pass < o.repeat; ++pass) text_16 = std::min(text_16, time_text(queries));

  const double flops = htsat_flops_per_window(m.config.audio);
  const double gflops = flops / (audio_bn / 1000) / 1e9;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const double rss_mb = ru.ru_maxrss / 1024.0;  // before the GEMM measurement's own buffers
  const GemmPeak peaks = measure_gemm_peak();
  const double peak = peaks.packed;

  if (o.json) {
    nlohmann::json j = {{"model", o.model},
                        {"threads", num_threads()},
                        {"windows", o.windows},
                        {"repeat", o.repeat},
                        {"batch", o.batch},
                        {"load_ms", load_ms},
                        {"audio_ms_per_window_batch1", audio_b1},
                        {"audio_ms_per_window", audio_bn},
                        {"mel_ms_per_window", mel_ms},
                        {"text_ms_short", text_short},
                        {"text_ms_16", text_16},
                        {"gflop_per_window", flops / 1e9},
                        {"gflops_audio", gflops},
                        {"first_audio_ms", first_audio_ms},
                        {"gemm_peak_gflops", peak},
                        {"gemm_kernel", packed_gemm_kernel()},
                        {"onednn_sgemm_gflops", peaks.onednn},
                        {"weight_mb", model->weight_bytes() / 1048576.0},
                        {"parameters", model->parameter_count()},
                        {"peak_rss_mb", rss_mb}};
    for (const auto& [stage, ms] : stages) j["audio_stage_ms_per_window"][stage] = ms / o.windows;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("model            %s (%lld parameters, %.1f MB fp32)\n", o.model.c_str(),
                static_cast<long long>(model->parameter_count()), model->weight_bytes() / 1048576.0);
    std::printf("threads          %d\n", num_threads());
    std::printf("load             %.1f ms\n", load_ms);
    std::printf("first window     %.1f ms (pages in and repacks the audio weights, once)\n", first_audio_ms);
    std::printf("audio, batch 1   %.1f ms per 10 s window\n", audio_b1);
    std::printf("audio, batch %-3d %.1f ms per 10 s window (%.1f GFLOP/window, %.0f GFLOP/s)\n", o.batch, audio_bn,
                flops / 1e9, gflops);
    std::printf("  of which mel   %.1f ms\n", mel_ms);
    for (const auto& [stage, ms] : stages) std::printf("  %-44s %7.1f ms\n", stage.c_str(), ms / o.windows);
    std::printf("text, 1 query    %.1f ms\n", text_short);
    std::printf("text, 16 queries %.1f ms\n", text_16);
    std::printf("GEMM peak        %.0f GFLOP/s, own %s kernel (audio tower reaches %.0f%%); oneDNN sgemm %.0f GFLOP/s\n", peak,
                packed_gemm_kernel(), 100 * gflops / peak, peaks.onednn);
    std::printf("peak RSS         %.0f MB\n", rss_mb);
  }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure model load, audio and text embedding speed");
  cmd->add_option("--model,-m", o->model, "Model folder");
  cmd->add_option("--config", o->config,
                  "config.json of an architecture: weights are generated once (cached under ~/.cache/clapsearch/bench) "
                  "and benchmarked like a downloaded model");
  cmd->add_option("--tokenizer", o->tokenizer, "Folder with vocab.json + merges.txt for --config (optional)");
  cmd->add_option("--windows", o->windows, "10 s windows to time")->default_val(8)->check(CLI::Range(1, 100000));
  cmd->add_option("--repeat", o->repeat, "Timed passes; the best is reported")->default_val(3)->check(CLI::Range(1, 1000));
  cmd->add_option("--batch", o->batch, "Windows per model call")->default_val(8)->check(CLI::Range(1, 1024));
  cmd->add_option("--threads", o->threads, "Threads (0 = all cores)")->default_val(0)->check(CLI::Range(0, 1024));
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->add_option("--vectors", o->vectors,
                  "Instead: vector-index benchmark at these numbers of synthetic 512-d windows (e.g. 10000 100000 1000000): "
                  "build time, single-query latency, recall@10 of IVF vs exact")
      ->check(CLI::Range(int64_t(100), int64_t(100000000)));
  cmd->add_flag("--hnsw", o->hnsw, "With --vectors: also time HNSW (slow to build on 2 cores)");
  cmd->callback([o, &action] { action = [o] { return run_bench(*o); }; });
}

}  // namespace clap::cli
