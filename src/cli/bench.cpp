// clapsearch bench: model load time, audio ms per 10 s window (batch 1 and --batch), text
// query latency, achieved GFLOP/s against the GEMM peak measured on the spot, peak RSS
// (measured by the bench layer, bench/src/bench/; here: options, the --config snapshot, output).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/user_option.h"
#include "cli/fidelity.h"
#include "service/records.h"
#include "core/error.h"
#include "core/sha256.h"
#include "core/text_file.h"
#include "core/user_dirs.h"
#include "hub/hub.h"
#include "index/identity.h"
#include "bench/model_bench.h"
#include "model/clap.h"
#include "bench/vector_bench.h"
#include "bench/load_bench.h"
#include "bench/index_bench.h"
#include "bench/fingerprint_bench.h"
#include "bench/kernel_bench.h"
#include "service/compressed_windows.h"
#include "bench/scale_bench.h"
#include "bench/history_bench.h"
#include "cli/bench_for_you.h"

namespace clap::cli {
namespace {

struct BenchOptions {
  std::string model, config, tokenizer;
  std::vector<int64_t> vectors;  // --vectors: vector-index benchmark sizes
  bool hnsw = false;
  int64_t serve_tracks = 0;  // --serve-tracks: server load test
  int windows_per_track = 0;  // 0 = the mode's default (24 for --serve-tracks, 20 for --scale)
  int64_t scale_tracks = 0;    // --scale: compressed index at library scale
  int64_t history_listens = 0;  // --history-listens: the listening-history import
  int64_t history_tracks = 100000;
  std::string db;
  int64_t queries = 200;
  std::vector<int> nprobes = {16, 32};
  std::vector<int> shortlists = {200, 500, 1000};
  std::vector<int> refines = {0, 4000};
  int nlist = 0, code_bytes = 64, refine_bytes = service::kNodeSecondCodeBytes;
  bool opq = false;
  std::string index_file;
  double seconds = 5;
  std::vector<int> clients = {1, 4, 16};
  std::string keep;
  int windows = 8;
  int repeat = 3;
  int batch = 8;
  int threads = 0;
  std::string precision = "fp32";
  std::string text_precision = "fp32";
  std::string window_index = "auto";  // --window-index (with --serve-tracks)
  std::string where;                  // --where (with --serve-tracks)
  bool subsonic = false;              // --subsonic (with --serve-tracks)
  int64_t plays = 0;                  // --plays N (with --subsonic)
  std::vector<std::string> fidelity;  // --fidelity DIR...: lower precision vs fp32 on this audio
  std::vector<std::string> index;     // --index DIR...: indexing speed end to end
  bool kernels = false;               // --kernels: instruction peaks and the GEMMs at the layer shapes
  bool fingerprints = false;          // --fingerprints: fingerprint line-up with each popcount kernel
  int decoders = 0;
  int first_pass = -1;
  int top = 10;
  bool json = false;
  bool for_you = false;  // --for-you: taste, mixes and the radio's next song on --db
  std::string user;
};

namespace fs = std::filesystem;

// --config: build the architecture with generated weights once, store it as a snapshot
// folder under the user cache, and bench that folder in a fresh process, so load time and
// peak RSS are those of the real memory-mapped loading path.
std::string random_snapshot(const BenchOptions& o) {
  const std::string text = read_text_file(o.config, "model config");
  const fs::path dir = fs::path(clapsearch_cache_dir()) / "bench" / sha256_hex(text.data(), text.size()).substr(0, 16);
  if (fs::exists(dir / "model.safetensors")) return dir.string();
  std::fprintf(stderr, "bench: generating weights for %s into %s (once)\n", o.config.c_str(), dir.c_str());
  const fs::path tmp = dir.string() + ".partial";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  // A failed or interrupted generation leaves nothing behind (no `.partial` folders in the cache).
  struct RemoveOnFailure {
    fs::path path;
    bool done = false;
    ~RemoveOnFailure() {
      std::error_code ec;
      if (!done) fs::remove_all(path, ec);
    }
  } guard{tmp};
  try {
    ClapModel::random(o.config, 1)->save_random_snapshot(tmp.string());
  } catch (const std::bad_alloc&) {
    throw Error(o.config + ": not enough memory to build this architecture with generated weights");
  }
  fs::copy_file(o.config, tmp / "config.json");
  const fs::path pre = fs::path(o.config).parent_path() / "preprocessor_config.json";
  if (fs::exists(pre)) fs::copy_file(pre, tmp / "preprocessor_config.json");
  if (!o.tokenizer.empty())
    for (const char* f : {"vocab.json", "merges.txt", "tokenizer.json"})
      if (fs::exists(fs::path(o.tokenizer) / f)) fs::copy_file(fs::path(o.tokenizer) / f, tmp / f);
  fs::remove_all(dir);
  fs::rename(tmp, dir);
  guard.done = true;
  return dir.string();
}

int rerun_with_model(const BenchOptions& o, const std::string& model_dir) {
  std::vector<std::string> args = {"clapsearch", "bench", "--model", model_dir, "--windows", std::to_string(o.windows),
                                   "--repeat", std::to_string(o.repeat),
                                   "--batch", std::to_string(o.batch), "--threads", std::to_string(o.threads),
                                   "--precision", o.precision, "--text-precision", o.text_precision};
  if (o.json) args.push_back("--json");
  for (const std::string& dir : o.fidelity) args.insert(args.end(), {"--fidelity", dir});
  if (!o.fidelity.empty()) args.insert(args.end(), {"--top", std::to_string(o.top)});
  for (const std::string& dir : o.index) args.insert(args.end(), {"--index", dir});
  if (!o.index.empty()) args.insert(args.end(), {"--decoders", std::to_string(o.decoders)});
  if (!o.index.empty() && o.first_pass >= 0) args.insert(args.end(), {"--first-pass", std::to_string(o.first_pass)});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execv(self_executable().c_str(), argv.data());
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
  if (o.json) std::printf("%s\n", service::json_text(all, 2).c_str());
  return 0;
}

int run_history_bench(const BenchOptions& o) {
  bench::HistoryBenchOptions h;
  h.listens = o.history_listens;
  h.tracks = o.history_tracks;
  h.keep = o.keep;
  h.progress = [](const std::string& m) { print_note(m); };
  const bench::HistoryBenchReport r = bench::run_history_bench(h);
  if (o.json) {
    print_json(ojson{{"listens", r.listens}, {"tracks", r.tracks}, {"export_bytes", r.export_bytes}, {"read_s", r.read_s},
                     {"import_s", r.import_s}, {"total_s", r.import_s}, {"read_cpu_s", r.read_cpu_s},
                     {"import_cpu_s", r.import_cpu_s}, {"reimport_s", r.reimport_s},
                     {"imported", r.imported}, {"already", r.already}, {"unresolved", r.unresolved},
                     {"reimported", r.reimported}, {"peak_rss_mb", r.peak_rss_mb}});
    return 0;
  }
  std::printf("history import: %lld ListenBrainz listens (%.0f MB) over %lld tracks\n", static_cast<long long>(r.listens),
              r.export_bytes / 1e6, static_cast<long long>(r.tracks));
  std::printf("  read and parse alone          %8.2f s  (CPU %.2f s)\n"
              "  import (read, resolve, write) %8.2f s  (CPU %.2f s, %.0f listens/s)\n",
              r.read_s, r.read_cpu_s, r.import_s, r.import_cpu_s, r.listens / std::max(1e-9, r.import_s));
  std::printf("  imported %lld, already %lld, unresolved %lld\n", static_cast<long long>(r.imported),
              static_cast<long long>(r.already), static_cast<long long>(r.unresolved));
  std::printf("  the same file again: %.2f s, %lld imported\n  peak RSS %.0f MB\n", r.reimport_s,
              static_cast<long long>(r.reimported), r.peak_rss_mb);
  return 0;
}

int run_serve_bench(const BenchOptions& o) {
  if (o.model.empty()) throw InvalidArgument("--serve-tracks needs --model (the model whose text tower answers the queries)");
  server::LoadBenchOptions lo;
  lo.model = o.model;
  lo.tracks = o.serve_tracks;
  lo.windows_per_track = o.windows_per_track > 0 ? o.windows_per_track : 24;
  lo.seconds = o.seconds;
  lo.clients = o.clients;
  lo.threads = o.threads;
  lo.text_precision = parse_precision(o.text_precision);
  lo.window_index = o.window_index;
  lo.work_dir = o.keep;
  lo.where = o.where;
  lo.subsonic = o.subsonic;
  lo.plays = o.plays;
  if (o.plays > 0 && !o.subsonic) throw InvalidArgument("--plays goes with --subsonic (the Subsonic user's history)");
  lo.progress = [](const std::string& m) { std::fprintf(stderr, "bench: %s\n", m.c_str()); };
  const server::LoadBenchReport r = server::run_load_bench(lo);
  if (o.json) {
    nlohmann::ordered_json j = {{"tracks", r.tracks}, {"windows", r.windows}, {"make_index_s", r.make_index_s},
                                {"server_start_s", r.server_start_s}, {"peak_rss_mb", r.peak_rss_mb}};
    for (const auto& l : r.levels)
      j["levels"].push_back({{"kind", l.kind}, {"clients", l.clients}, {"requests", l.requests}, {"errors", l.errors},
                             {"p50_ms", l.p50_ms}, {"p99_ms", l.p99_ms}, {"max_ms", l.max_ms}, {"per_second", l.per_second}});
    std::printf("%s\n", service::json_text(j, 2).c_str());
    return 0;
  }
  std::printf("synthetic index: %lld tracks, %lld windows (made in %.1f s); server up in %.1f s\n",
              static_cast<long long>(r.tracks), static_cast<long long>(r.windows), r.make_index_s, r.server_start_s);
  std::printf("%-20s %7s %9s %7s %9s %9s %9s\n", "requests", "clients", "done", "errors", "p50 ms", "p99 ms", "per s");
  for (const auto& l : r.levels)
    std::printf("%-20s %7d %9lld %7lld %9.1f %9.1f %9.1f\n", l.kind.c_str(), l.clients, static_cast<long long>(l.requests),
                static_cast<long long>(l.errors), l.p50_ms, l.p99_ms, l.per_second);
  std::printf("peak RSS of this process (server + clients + the index it made): %.0f MB\n", r.peak_rss_mb);
  return 0;
}

// --index DIR...: the whole indexing pipeline on real files against the model alone.
int run_fingerprint_bench(const BenchOptions& o) {
  constexpr int kPairs = 20;
  const FingerprintBenchReport r = bench_fingerprints(kPairs, std::max(o.repeat, 1));
  if (o.json) {
    nlohmann::json j = {{"items", r.items}, {"pairs", r.pairs}, {"repeat", r.repeat}, {"chosen", r.chosen},
                        {"kernels", nlohmann::json::array()}};
    for (const FingerprintKernelRate& k : r.kernels)
      j["kernels"].push_back({{"kernel", k.kernel}, {"ms_per_pair", k.ms_per_pair}, {"speedup", k.speedup}});
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("two fingerprints of %d items (3 minutes), every offset; best of %d timings of %d pairs; this machine uses %s\n",
              r.items, r.repeat, r.pairs, r.chosen.c_str());
  for (const FingerprintKernelRate& k : r.kernels)
    std::printf("%-9s %8.3f ms a pair   %5.1fx portable\n", k.kernel.c_str(), k.ms_per_pair, k.speedup);
  return 0;
}

int run_kernel_bench(const BenchOptions& o) {
  std::string config = o.config;
  if (config.empty() && !o.model.empty()) config = ModelFiles::in_folder(o.model).config;
  if (config.empty())
    throw InvalidArgument("--kernels needs --config config.json (or --model FOLDER with one): the architecture whose layer "
                          "shapes are timed");
  const ClapConfig c = ClapConfig::from_json_file(config);
  const KernelBenchReport r = bench_kernels(c.audio);
  double peak[3] = {0, 0, 0};
  for (const InstructionPeak& p : r.peaks) peak[p.precision == "fp32" ? 0 : p.precision == "bf16" ? 1 : 2] = p.gops;
  if (o.json) {
    nlohmann::json j = {{"config", config}, {"peaks", nlohmann::json::array()}, {"shapes", nlohmann::json::array()}};
    for (const InstructionPeak& p : r.peaks)
      j["peaks"].push_back(
          {{"instruction", p.instruction}, {"precision", p.precision}, {"gops_per_core", p.gops}, {"ceiling", p.ceiling}});
    for (const LayerShapeRate& l : r.shapes)
      j["shapes"].push_back({{"layer", l.layer}, {"rows", l.rows}, {"in", l.in}, {"out", l.out},
                             {"fp32_gops", l.gops[0]}, {"bf16_gops", l.gops[1]}, {"int8_gops", l.gops[2]}});
    if (!r.note.empty()) j["note"] = r.note;
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("one core; GOP/s (a multiply-add is two operations)\n");
  for (const InstructionPeak& p : r.peaks)
    std::printf("peak %-16s %7.0f   (%s: %s)\n", p.instruction.c_str(), p.gops, p.precision.c_str(),
                p.ceiling ? "no kernel can exceed it" : "the vector kernels' ceiling; this CPU's AMX tiles go past it");
  if (!r.note.empty()) std::printf("%s\n", r.note.c_str());
  std::printf("%-26s %16s %15s %15s %15s\n", "linear() at the tower's", "rows x in x out", "fp32", "bf16", "int8");
  for (const LayerShapeRate& l : r.shapes) {
    char shape[48];
    std::snprintf(shape, sizeof shape, "%lld x %lld x %lld", static_cast<long long>(l.rows), static_cast<long long>(l.in),
                  static_cast<long long>(l.out));
    std::printf("%-26s %16s", l.layer.c_str(), shape);
    for (int t = 0; t < 3; ++t) {
      if (peak[t] > 0) std::printf("   %5.0f (%3.0f%%)", l.gops[t], 100 * l.gops[t] / peak[t]);
      else std::printf("   %5.0f       ", l.gops[t]);
    }
    std::printf("\n");
  }
  return 0;
}

int run_index_bench(const BenchOptions& o) {
  service::IndexBenchRequest r;
  r.model = o.model;
  r.model_options.tokenizer = o.tokenizer;
  r.precision = parse_precision(o.precision);
  r.dirs = o.index;
  r.threads = o.threads;
  r.batch = o.batch;
  r.decoders = o.decoders;
  r.first_pass = o.first_pass;
  r.repeat = o.repeat;
  const service::IndexBenchReport b = service::bench_index(r);
  if (o.json) {
    nlohmann::json j = {{"model", o.model},
                        {"precision", b.precision},
                        {"files", b.files},
                        {"errors", b.errors},
                        {"windows", b.windows},
                        {"audio_seconds", b.audio_seconds},
                        {"load_seconds", b.load_seconds},
                        {"pipeline_seconds", b.pipeline_seconds},
                        {"model_seconds", b.model_seconds},
                        {"decode_cpu_seconds", b.decode_cpu_seconds},
                        {"pure_model_seconds", b.pure_model_seconds},
                        {"realtime_factor", b.realtime_factor()},
                        {"pipeline_overhead", b.pipeline_overhead()},
                        {"outside_model_fraction", b.outside_model_fraction()}};
    std::printf("%s\n", service::json_text(j, 2).c_str());
    return 0;
  }
  std::printf("indexed          %lld files (%lld errors), %lld windows, %.1f s of audio, %s audio tower\n",
              static_cast<long long>(b.files), static_cast<long long>(b.errors), static_cast<long long>(b.windows),
              b.audio_seconds, b.precision.c_str());
  std::printf("pipeline         %.2f s (model loading and packing %.2f s not included): %.1fx real time\n",
              b.pipeline_seconds, b.load_seconds, b.realtime_factor());
  std::printf("model alone      %.2f s for the same windows: the pipeline adds %.1f%%\n", b.pure_model_seconds,
              100 * b.pipeline_overhead());
  std::printf("inside pipeline  model %.2f s (%.1f%% of the time outside it), decoding %.2f s of CPU\n", b.model_seconds,
              100 * b.outside_model_fraction(), b.decode_cpu_seconds);
  return 0;
}

// --scale TRACKS --db LOCATION: the compressed window index of a search node over a synthetic
// library of TRACKS tracks (service/scale_bench.h).
int run_scale_bench(const BenchOptions& o) {
  if (o.db.empty())
    throw InvalidArgument("--scale needs --db: an empty database (SQLite file or postgresql:// URL) to fill with the synthetic "
                "library, or one an earlier --scale run filled");
  service::ScaleBenchRequest r;
  r.db = o.db;
  r.tracks = o.scale_tracks;
  r.windows_per_track = o.windows_per_track > 0 ? o.windows_per_track : 20;
  r.queries = o.queries;
  r.nprobes = o.nprobes;
  r.shortlists = o.shortlists;
  r.refines = o.refines;
  r.index.nlist = o.nlist;
  r.index.code_bytes = o.code_bytes;
  r.index.refine_bytes = o.refine_bytes;
  r.index.opq = o.opq;
  r.index_path = o.index_file;
  r.progress = [](const std::string& m) { std::fprintf(stderr, "bench: %s\n", m.c_str()); };
  const service::ScaleBenchReport b = service::run_scale_bench(r);
  if (o.json) {
    nlohmann::ordered_json j = {{"store", b.store}, {"tracks", b.tracks}, {"windows", b.windows},
                                {"loaded", b.loaded}, {"load_s", b.load_s}, {"nlist", b.nlist},
                                {"code_bytes", b.code_bytes}, {"refine_bytes", b.refine_bytes}, {"train_points", b.train_points},
                                {"k", b.k}, {"ids_s", b.ids_s},
                                {"sample_s", b.sample_s}, {"train_s", b.train_s}, {"scan_add_s", b.scan_add_s},
                                {"ground_truth_s", b.ground_truth_s}, {"build_s", b.build_s()},
                                {"save_s", b.save_s}, {"reload_s", b.reload_s}, {"index_bytes", b.index_bytes},
                                {"file_bytes", b.file_bytes}, {"rss_mb", b.rss_mb}, {"peak_rss_mb", b.peak_rss_mb}};
    for (const auto& q : b.results)
      j["queries"].push_back({{"nprobe", q.nprobe}, {"refine", q.refine}, {"shortlist", q.shortlist}, {"p50_ms", q.p50_ms}, {"p99_ms", q.p99_ms}, {"mean_ms", q.mean_ms},
                              {"fetch_mean_ms", q.fetch_mean_ms}, {"recall", q.recall}});
    if (b.filtered_tracks > 0)
      j["filtered"] = {{"tracks", b.filtered_tracks}, {"windows", b.filtered_windows}, {"p50_ms", b.filtered.p50_ms},
                       {"p99_ms", b.filtered.p99_ms}, {"mean_ms", b.filtered.mean_ms},
                       {"fetch_mean_ms", b.filtered.fetch_mean_ms}};
    std::printf("%s\n", service::json_text(j, 2).c_str());
    return 0;
  }
  std::printf("library          %lld tracks, %lld windows in %s%s\n", static_cast<long long>(b.tracks),
              static_cast<long long>(b.windows), b.store.c_str(),
              b.loaded ? (" (loaded in " + std::to_string(static_cast<int>(b.load_s + 0.5)) + " s)").c_str() : "");
  std::printf("index            %sIVF-PQ, %d lists, %d-byte codes%s, trained on %lld windows\n", o.opq ? "OPQ + " : "", b.nlist,
              b.code_bytes, b.refine_bytes > 0 ? (" + " + std::to_string(b.refine_bytes) + "-byte second codes").c_str() : "",
              static_cast<long long>(b.train_points));
  std::printf("build            %.1f s (ids %.1f, sample %.1f, train %.1f, scan + add %.1f; the exact ground truth's "
              "%.1f s left out)\n",
              b.build_s(), b.ids_s, b.sample_s, b.train_s, b.scan_add_s - b.ground_truth_s, b.ground_truth_s);
  std::printf("file             %.0f MB, saved in %.1f s, loaded in %.1f s\n", b.file_bytes / 1e6, b.save_s, b.reload_s);
  std::printf("memory           index %.0f MB, process %.0f MB after loading (peak %.0f MB)\n", b.index_bytes / 1e6,
              b.rss_mb, b.peak_rss_mb);
  std::printf("%8s %7s %9s %9s %9s %9s %11s %10s\n", "nprobe", "refine", "shortlist", "p50 ms", "p99 ms", "mean ms", "of it fetch", ("recall@" + std::to_string(b.k)).c_str());
  for (const auto& q : b.results)
    std::printf("%8d %7d %9d %9.2f %9.2f %9.2f %11.2f %10.3f\n", q.nprobe, q.refine, q.shortlist, q.p50_ms, q.p99_ms, q.mean_ms, q.fetch_mean_ms,
                q.recall);
  if (b.filtered_tracks > 0)
    std::printf("%8s %7s %9s %9.2f %9.2f %9.2f %11.2f %10s   filtered: %lld tracks, %lld windows, scored exactly\n", "-", "-",
                "-", b.filtered.p50_ms, b.filtered.p99_ms, b.filtered.mean_ms, b.filtered.fetch_mean_ms, "exact",
                static_cast<long long>(b.filtered_tracks), static_cast<long long>(b.filtered_windows));
  std::printf("(single warm queries: refine > 0 candidates by the first codes ranked again by both, then the shortlist "
              "re-ranked exactly from the store; recall@%d against exact search)\n",
              b.k);
  return 0;
}

int run_bench(const BenchOptions& o) {
  if (o.for_you) return run_for_you_bench(o.db, o.user, o.repeat, o.json);
  if (!o.vectors.empty()) return run_vector_bench(o);
  if (o.scale_tracks > 0) return run_scale_bench(o);
  if (o.serve_tracks > 0) return run_serve_bench(o);
  if (o.history_listens > 0) return run_history_bench(o);
  if (o.kernels) return run_kernel_bench(o);
  if (o.fingerprints) return run_fingerprint_bench(o);
  if (o.model.empty() == o.config.empty()) throw InvalidArgument("give exactly one of --model PATH or --config config.json");
  if (!o.config.empty()) return rerun_with_model(o, random_snapshot(o));
  if (!o.fidelity.empty()) {
    // The fidelity report is a check of a precision on the user's own files: doctor's.
    std::fprintf(stderr, "bench: --fidelity is `clapsearch doctor --fidelity` now (the same report)\n");
    FidelityOptions f;
    f.model = o.model;
    f.tokenizer = o.tokenizer;
    f.precision = o.precision;
    f.text_precision = o.text_precision;
    f.dirs = o.fidelity;
    f.top = o.top;
    f.threads = o.threads;
    f.batch = o.batch;
    f.json = o.json;
    return run_fidelity(f);
  }
  if (!o.index.empty()) return run_index_bench(o);
  ModelBenchOptions options;
  options.windows = o.windows;
  options.batch = o.batch;
  options.repeat = o.repeat;
  options.threads = o.threads;
  options.precision = parse_precision(o.precision);
  options.text_precision = parse_precision(o.text_precision);
  const ModelBenchReport r = bench_model(index::model_files_of(hub::resolve_model(o.model)), options);
  const double peak = r.gemm_peak_gflops;

  if (o.json) {
    nlohmann::json j = {{"model", o.model},
                        {"threads", r.threads},
                        {"windows", o.windows},
                        {"repeat", o.repeat},
                        {"batch", o.batch},
                        {"precision", o.precision},
                        {"text_precision", o.text_precision},
                        {"load_ms", r.load_ms},
                        {"audio_ms_per_window_batch1", r.audio_ms_per_window_batch1},
                        {"audio_ms_per_window", r.audio_ms_per_window},
                        {"mel_ms_per_window", r.mel_ms_per_window},
                        {"text_ms_short", r.text_ms_short},
                        {"text_ms_16", r.text_ms_16},
                        {"gflop_per_window", r.gflop_per_window},
                        {"gflops_audio", r.gflops_audio},
                        {"first_audio_ms", r.first_audio_ms},
                        {"gemm_peak_gflops", peak},
                        {"gemm_kernel", r.gemm_kernel},
                        {"onednn_sgemm_gflops", r.onednn_sgemm_gflops},
                        {"weight_mb", r.weight_mb},
                        {"parameters", r.parameters},
                        {"peak_rss_mb", r.peak_rss_mb}};
    for (const auto& [stage, ms] : r.audio_stage_ms_per_window) j["audio_stage_ms_per_window"][stage] = ms;
    std::printf("%s\n", service::json_text(j, 2).c_str());
  } else {
    std::printf("model            %s (%lld parameters, %.1f MB fp32)\n", o.model.c_str(),
                static_cast<long long>(r.parameters), r.weight_mb);
    std::printf("threads          %d\n", r.threads);
    std::printf("precision        audio %s, text %s (the towers' GEMMs)\n", o.precision.c_str(), o.text_precision.c_str());
    std::printf("load             %.1f ms\n", r.load_ms);
    std::printf("first window     %.1f ms (pages in and repacks the audio weights, once)\n", r.first_audio_ms);
    if (o.batch != 1) std::printf("audio, batch 1   %s per 10 s window\n", ms_text(r.audio_ms_per_window_batch1).c_str());
    std::printf("audio, batch %-3d %s per 10 s window (%.1f GFLOP/window, %.0f GFLOP/s)\n", o.batch,
                ms_text(r.audio_ms_per_window).c_str(), r.gflop_per_window, r.gflops_audio);
    std::printf("  of which mel   %s\n", ms_text(r.mel_ms_per_window).c_str());
    size_t width = 0;
    for (const auto& [stage, ms] : r.audio_stage_ms_per_window) width = std::max(width, display_width(stage));
    for (const auto& [stage, ms] : r.audio_stage_ms_per_window)
      std::printf("  %s%s  %10s\n", stage.c_str(), std::string(width - display_width(stage), ' ').c_str(), ms_text(ms).c_str());
    std::printf("text, 1 query    %s\n", ms_text(r.text_ms_short).c_str());
    std::printf("text, 16 queries %s\n", ms_text(r.text_ms_16).c_str());
    std::printf("GEMM peak        %.0f GFLOP/s, own %s kernel (audio tower reaches %.0f%%); oneDNN sgemm %.0f GFLOP/s\n", peak,
                r.gemm_kernel.c_str(), 100 * r.gflops_audio / peak, r.onednn_sgemm_gflops);
    std::printf("peak RSS         %.0f MB\n", r.peak_rss_mb);
  }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure model load, audio and text embedding speed");
  cmd->add_option("--model,-m", o->model, "Model folder or checkpoint file (.pt, .bin)");
  cmd->add_option("--config", o->config,
                  "config.json of an architecture: weights are generated once (cached under ~/.cache/clapsearch/bench) "
                  "and benchmarked like a downloaded model");
  cmd->add_option("--tokenizer", o->tokenizer, "Folder with vocab.json + merges.txt for --config (optional)");
  cmd->add_option("--windows", o->windows, "10 s windows to time")->default_val(8)->check(CLI::Range(1, 100000));
  cmd->add_option("--repeat", o->repeat, "Timed passes; the best is reported")->default_val(3)->check(CLI::Range(1, 1000));
  cmd->add_option("--batch", o->batch, "Windows per model call")->default_val(8)->check(CLI::Range(1, 1024));
  cmd->add_option("--threads", o->threads, "Threads (0 = all cores)")->default_val(0)->check(CLI::Range(0, 1024));
  add_precision_option(cmd, o->precision);
  add_text_precision_option(cmd, o->text_precision);
  cmd->add_option("--fidelity", o->fidelity,
                  "Instead: the report of `clapsearch doctor --fidelity` (its place now): embed every window of the "
                  "audio under these folders with --precision and with fp32 (and the query texts with "
                  "--text-precision and with fp32) and report how far embeddings and top-k rankings move; repeatable");
  cmd->add_option("--index", o->index,
                  "Instead: index the audio under these folders into a temporary index (as `clapsearch index`) and "
                  "compare the run with the model alone on as many windows; repeatable");
  cmd->add_option("--decoders", o->decoders, "With --index: decoding threads (0 = automatic, as index)")
      ->default_val(0)
      ->check(CLI::Range(0, 64));
  cmd->add_flag("--kernels", o->kernels,
                "Instead: the CPU's multiply-add peaks (one core) and linear() in fp32, bf16 and int8 at the audio "
                "tower's layer shapes of --config (or --model), each as a share of its peak");
  cmd->add_flag("--fingerprints", o->fingerprints,
                "Instead: two 3-minute acoustic fingerprints lined up at every offset with each popcount kernel the "
                "CPU has (portable, popcnt, avx512), best of --repeat timings, and which one this machine uses");
  cmd->add_option("--first-pass", o->first_pass,
                  "With --index: windows per track in the first pass, as `index --first-pass` (0: every window in one "
                  "pass, each file decoded once; default: index's)")
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--top", o->top, "With --fidelity: k of the top-k lists compared")->default_val(10)->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->add_option("--vectors", o->vectors,
                  "Instead: vector-index benchmark at these numbers of synthetic 512-d windows (e.g. 10000 100000 1000000): "
                  "build time, single-query latency, recall@10 of IVF vs exact")
      ->check(CLI::Range(int64_t(100), int64_t(100000000)));
  cmd->add_flag("--hnsw", o->hnsw, "With --vectors: also time HNSW (slow to build on 2 cores)");
  cmd->add_option("--serve-tracks", o->serve_tracks,
                  "Instead: load test of `clapsearch serve` over loopback on a synthetic index of N tracks (needs --model): "
                  "text search p50/p99 and requests/s at each --clients level, cached and uncached texts, query by example")
      ->check(CLI::Range(int64_t(1), int64_t(10000000)));
  cmd->add_option("--windows-per-track", o->windows_per_track,
                  "With --serve-tracks (default 24) or --scale (default 20): windows per synthetic track")
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--scale", o->scale_tracks,
                  "Instead: the compressed window index of a search node over a synthetic library of N tracks, "
                  "loaded into --db (an empty SQLite file or PostgreSQL database; kept for later runs): build time, "
                  "memory, warm query p50/p99 and recall@10 against exact search")
      ->check(CLI::Range(int64_t(1), int64_t(100000000)));
  cmd->add_option("--db", o->db, "With --scale: the database to fill (or the one an earlier --scale run filled); with --for-you: the index");
  cmd->add_option("--queries", o->queries, "With --scale: timed queries per (nprobe, shortlist) row")
      ->default_val(200)
      ->check(CLI::Range(int64_t(1), int64_t(100000)));
  cmd->add_option("--nprobe", o->nprobes, "With --scale: lists scanned per query, one row each")
      ->default_str("16 32")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--shortlist", o->shortlists, "With --scale: candidates re-ranked exactly per query, one row each")
      ->default_str("200 500 1000")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--nlist", o->nlist, "With --scale: inverted lists (0 = sqrt of the windows, a power of two)")
      ->default_val(0)
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--code-bytes", o->code_bytes, "With --scale: PQ code bytes per window (must divide 512)")
      ->default_val(64)
      ->check(CLI::Range(1, 512));
  cmd->add_option("--refine-bytes", o->refine_bytes,
                  "With --scale: bytes of a second code per window, of what the first leaves (0 = none; must divide 512)")
      ->default_val(service::kNodeSecondCodeBytes)
      ->check(CLI::Range(0, 512));
  cmd->add_option("--refine", o->refines,
                  "With --scale and --refine-bytes: candidates taken from the first codes and ranked again by both "
                  "before the shortlist, one row each (0 = the first codes alone)")
      ->default_str("0 4000")
      ->check(CLI::Range(0, 1000000));
  cmd->add_flag("--opq", o->opq, "With --scale: a learned rotation before the PQ codes (FAISS's OPQ)");
  cmd->add_option("--index-file", o->index_file,
                  "With --scale: where the compressed index is saved (default: beside a SQLite file; this machine's index cache for PostgreSQL)");
  cmd->add_option("--seconds", o->seconds, "With --serve-tracks: seconds per load level")->default_val(5)->check(CLI::Range(0.5, 3600.0));
  cmd->add_option("--window-index", o->window_index,
                  "With --serve-tracks: how the server searches windows (auto, memory, compressed; see --help of search)")
      ->default_val("auto")
      ->check(CLI::IsMember({"auto", "memory", "compressed"}));
  cmd->add_option("--where", o->where,
                  "With --serve-tracks: also time the cached texts under this filter (the synthetic tracks' years run "
                  "1926-2025, one year per track in turn: \"year = 1990\" keeps 1 %)");
  cmd->add_flag("--subsonic", o->subsonic,
                "With --serve-tracks: time the Subsonic API (/rest/: album lists, search, a phone's sync page, artists, "
                "sonic similarity, a stream's first byte, a cached cover) instead of the text and audio queries");
  cmd->add_option("--plays", o->plays,
                  "With --subsonic: give the benchmark's user a history of N plays (every answer listing songs shows "
                  "their play counts)")
      ->check(CLI::Range(int64_t{0}, int64_t{100000000}));
  cmd->add_option("--keep", o->keep,
                  "With --serve-tracks: make the synthetic index in this folder and keep it (bench.db; a later run of the "
                  "same sizes uses it again); with "
                  "--history-listens: keep the index and the export there");
  cmd->add_option("--history-listens", o->history_listens,
                  "Instead: `history import` of a synthetic ListenBrainz export of N listens over a synthetic library "
                  "(--history-tracks): read, resolve and write times, then the same file again (nothing added)")
      ->check(CLI::Range(int64_t(1), int64_t(100000000)));
  cmd->add_option("--history-tracks", o->history_tracks, "With --history-listens: tracks of the synthetic library")
      ->default_val(100000)
      ->check(CLI::Range(int64_t(1), int64_t(10000000)));
  // Bounded like every other count: 0 or -5 gave rows of nothing, rc 0 (hostile pass 10, H10C-7).
  cmd->add_option("--clients", o->clients, "With --serve-tracks: concurrent clients per level")
      ->default_str("1 4 16")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--for-you", o->for_you,
                "Instead: time a user's taste centres, six mixes of 50 and the radio for you's next song on the index --db "
                "(best of --repeat)");
  cmd->add_option("--user", o->user, "With --for-you: whose history (default: the index's only user)")->check(user_name());
  cmd->callback([o, &action] { action = [o] { return run_bench(*o); }; });
}

}  // namespace clap::cli
