#include "bench/kernel_bench.h"

#include <omp.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>

#include "model/htsat.h"
#include "tensor/linear.h"

namespace clap {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

#if defined(__x86_64__)
// 12 independent accumulators, each updated twice per iteration: enough in flight to cover the
// instruction's latency, so the loop runs at its throughput. Returns instructions per second.
#define CLAP_PEAK_LOOP(name, isa, asm_text)                                                     \
  __attribute__((target(isa))) double name(int64_t iterations) {                                \
    __m512 a0 = _mm512_set1_ps(0.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, \
           a8 = a0, a9 = a0, a10 = a0, a11 = a0;                                                   \
    const __m512 x = _mm512_set1_ps(1.0001f), y = _mm512_set1_ps(0.9999f);                         \
    const auto t = Clock::now();                                                                   \
    for (int64_t i = 0; i < iterations; ++i) {                                                     \
      asm volatile(asm_text " %12, %13, %0\n\t" asm_text " %12, %13, %1\n\t" asm_text " %12, %13, %2\n\t"           \
                   asm_text " %12, %13, %3\n\t" asm_text " %12, %13, %4\n\t" asm_text " %12, %13, %5\n\t"           \
                   asm_text " %12, %13, %6\n\t" asm_text " %12, %13, %7\n\t" asm_text " %12, %13, %8\n\t"           \
                   asm_text " %12, %13, %9\n\t" asm_text " %12, %13, %10\n\t" asm_text " %12, %13, %11\n\t"         \
                   asm_text " %12, %13, %0\n\t" asm_text " %12, %13, %1\n\t" asm_text " %12, %13, %2\n\t"           \
                   asm_text " %12, %13, %3\n\t" asm_text " %12, %13, %4\n\t" asm_text " %12, %13, %5\n\t"           \
                   asm_text " %12, %13, %6\n\t" asm_text " %12, %13, %7\n\t" asm_text " %12, %13, %8\n\t"           \
                   asm_text " %12, %13, %9\n\t" asm_text " %12, %13, %10\n\t" asm_text " %12, %13, %11"             \
                   : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), "+v"(a8),   \
                     "+v"(a9), "+v"(a10), "+v"(a11)                                                \
                   : "v"(x), "v"(y));                                                              \
    }                                                                                              \
    return 24.0 * static_cast<double>(iterations) / seconds_since(t);                              \
  }
CLAP_PEAK_LOOP(peak_fma_avx512, "avx512f", "vfmadd231ps")
CLAP_PEAK_LOOP(peak_dpbf16_avx512, "avx512f,avx512bf16", "vdpbf16ps")
CLAP_PEAK_LOOP(peak_dpbusd_avx512_vnni, "avx512f,avx512vnni", "vpdpbusd")
#undef CLAP_PEAK_LOOP

// Best of 5 runs of ~0.1 s, as operations per second (ops per instruction: 16 lanes times
// 2 for fp32, 4 for a bf16 pair, 8 for four int8 products).
template <typename Loop>
double best_rate(Loop loop, double ops_per_instruction) {
  double best = 0;
  for (int run = 0; run < 5; ++run) best = std::max(best, loop(int64_t{10'000'000}));
  return best * ops_per_instruction / 1e9;
}
#endif

std::vector<InstructionPeak> instruction_peaks(std::string& note) {
  std::vector<InstructionPeak> out;
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("avx512f")) {
    note = "instruction peaks are measured on AVX-512 CPUs only";
    return out;
  }
  out.push_back({"vfmadd231ps zmm", "fp32", best_rate(peak_fma_avx512, 32)});
  if (__builtin_cpu_supports("avx512bf16"))
    out.push_back({"vdpbf16ps zmm", "bf16", best_rate(peak_dpbf16_avx512, 64),
                   std::strcmp(packed_gemm_kernel(WeightType::BF16), "avx512-amx-bf16") != 0});
  if (__builtin_cpu_supports("avx512vnni"))
    out.push_back({"vpdpbusd zmm", "int8", best_rate(peak_dpbusd_avx512_vnni, 128),
                   std::strcmp(packed_gemm_kernel(WeightType::I8), "avx512-amx-int8") != 0});
#else
  note = "instruction peaks are measured on x86-64 (AVX-512) only";
#endif
  return out;
}

// One core: the best of 7 timings of `linear` on random data, each repeated to ~0.1 GOP.
double shape_rate(int64_t rows, int64_t in, int64_t out, WeightType type, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(static_cast<size_t>(rows * in)), w(static_cast<size_t>(out * in)), y(static_cast<size_t>(rows * out));
  std::vector<float> bias(static_cast<size_t>(out), 0.0f);
  for (float& v : x) v = u(rng);
  for (float& v : w) v = u(rng);
  const PackedLinear packed = pack_linear(w.data(), bias.data(), out, in, type);
  LinearScratch scratch;
  const double ops = 2.0 * static_cast<double>(rows * in * out);
  const int calls = std::max(1, static_cast<int>(1e8 / ops));
  double best = 1e300;
  for (int run = 0; run < 7; ++run) {
    const auto t = Clock::now();
    for (int c = 0; c < calls; ++c)
      linear(x.data(), rows, in, packed.view(), y.data(), out, Epilogue::None, nullptr, &scratch);
    best = std::min(best, seconds_since(t) / calls);
  }
  return ops / best / 1e9;
}

}  // namespace

KernelBenchReport bench_kernels(const AudioConfig& audio) {
  KernelBenchReport r;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  r.peaks = instruction_peaks(r.note);
  std::mt19937 rng(1);
  int64_t dim = audio.patch_embeds_hidden_size;
  for (size_t stage = 0; stage < audio.depths.size(); ++stage) {
    const int64_t hidden = static_cast<int64_t>(dim * audio.mlp_ratio);
    const std::string s = "stage " + std::to_string(stage) + " ";
    const int64_t a = kHtsatAttentionChunkRows, m = kHtsatMlpChunkRows;
    std::vector<LayerShapeRate> layers = {{s + "q/k/v", a, dim, 3 * dim},
                                          {s + "output projection", a, dim, dim},
                                          {s + "fc1", m, dim, hidden},
                                          {s + "fc2", m, hidden, dim}};
    if (stage + 1 < audio.depths.size()) layers.push_back({s + "patch merging", m, 4 * dim, 2 * dim});
    for (LayerShapeRate& l : layers) {
      const WeightType types[3] = {WeightType::F32, WeightType::BF16, WeightType::I8};
      for (int t = 0; t < 3; ++t) l.gops[t] = shape_rate(l.rows, l.in, l.out, types[t], rng);
      r.shapes.push_back(l);
    }
    dim *= 2;
  }
  omp_set_num_threads(threads);
  return r;
}

}  // namespace clap
