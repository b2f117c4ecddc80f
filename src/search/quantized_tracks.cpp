#include "search/quantized_tracks.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/error.h"
#include "core/isa.h"
#include "core/vector_math.h"
#include "search/first_pass_kernels.h"
#include "search/kernels.h"
#include "search/similar.h"

namespace clap::search {
namespace {

constexpr double kUnit = 0x1p-24;  // float's unit roundoff

// γ_d of the standard dot-product error bound, |fl(a·b) − a·b| ≤ γ_d·|a|·|b| for d terms in any
// summation order, with or without FMA.
double gamma_of(int d) { return d * kUnit / (1 - d * kUnit); }

// The first pass scores q̂·x̂ exactly, q̂ the query in 24-bit fixed point: q̂ = s·m, s a power
// of two putting the largest |qⱼ| in [2²², 2²³), m in [-(2²³ − 1), 2²³ − 1]^d. Then
// |q − q̂| ≤ √d·|q|/(2²³ − 1) (each |qⱼ − s·mⱼ| ≤ s/2 < max|qⱼ|/(2²³ − 1)): error_bound() needs
// no more of the query than its length. m = 65536·h + 256·b + l (h in [-128, 127], b and l in
// [0, 255]), and the integer m·c = 65536·Σh·c + 256·Σb·c + Σl·c is summed exactly by every
// kernel (int32 sums of u8·s8 or s16·s16 products, |each| ≤ 255·127·d < 2³¹ for d ≤ kMaxDim),
// then scaled once in double and once to float: the same bits on every CPU and kernel set, and
// the same bound (the float loop on codes it replaces gave other bits per CPU, and only the bound
// was the same).
constexpr int kMaxDim = 65536;
constexpr double kQueryLevels = 8388607.0;  // 2²³ − 1

// The query's parts in the forms the kernels multiply: int16 for vpmaddwd, u8 for vpdpbusd (h +
// 128: its first operand is unsigned), padded with zeros to whole 64-byte blocks.
struct QueryParts {
  std::vector<int16_t> high, mid, low;
  std::vector<uint8_t> high_u, mid_u, low_u;
};

struct RowSums {  // Σh·c, Σb·c, Σl·c of one row
  int32_t high, mid, low;
};

RowSums sums_portable(const QueryParts& q, const int8_t* c, int d) {
  RowSums r{0, 0, 0};
  for (int j = 0; j < d; ++j) {
    r.high += int32_t{q.high[j]} * c[j];
    r.mid += int32_t{q.mid[j]} * c[j];
    r.low += int32_t{q.low[j]} * c[j];
  }
  return r;
}

#if defined(__x86_64__)
#define CLAP_QT_AVX2 __attribute__((target("avx2")))
#define CLAP_QT_AVX_VNNI __attribute__((target("avx2,avxvnni")))
#define CLAP_QT_AVX512_BW __attribute__((target("avx512f,avx512bw")))
#define CLAP_QT_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

CLAP_QT_AVX2 inline int32_t add_lanes(__m256i v) {
  const __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  const __m128i y = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4E));
  return _mm_cvtsi128_si32(_mm_add_epi32(y, _mm_shuffle_epi32(y, 0xB1)));
}

CLAP_QT_AVX2 inline __m256i madd_row(__m256i acc, const int16_t* part, __m256i codes) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(part)), codes));
}

// AVX2: 16 codes a step widened to 16 bits, vpmaddwd with each part.
CLAP_QT_AVX2 RowSums sums_avx2(const QueryParts& q, const int8_t* c, int d) {
  __m256i h = _mm256_setzero_si256(), b = h, l = h;
  int j = 0;
  for (; j + 16 <= d; j += 16) {
    const __m256i codes = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + j)));
    h = madd_row(h, q.high.data() + j, codes);
    b = madd_row(b, q.mid.data() + j, codes);
    l = madd_row(l, q.low.data() + j, codes);
  }
  RowSums r{add_lanes(h), add_lanes(b), add_lanes(l)};
  for (; j < d; ++j) {
    r.high += int32_t{q.high[j]} * c[j];
    r.mid += int32_t{q.mid[j]} * c[j];
    r.low += int32_t{q.low[j]} * c[j];
  }
  return r;
}

// acc + the four u8·s8 products of each 32-bit lane, exact in int32 (vpdpbusd, not the
// saturating vpdpbusds), in the VEX form: the assembler would otherwise pick the EVEX encoding,
// an AVX-512 instruction (as tensor/linear_avx2.cpp).
CLAP_QT_AVX_VNNI inline __m256i dpbusd_vex(__m256i acc, __m256i u, __m256i s) {
  asm("%{vex%} vpdpbusd %[s], %[u], %[acc]" : [acc] "+x"(acc) : [u] "x"(u), [s] "x"(s));
  return acc;
}

CLAP_QT_AVX_VNNI inline __m256i load32(const uint8_t* u) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u)); }

// AVX-VNNI: 32 codes a step; Σ(h + 128)·c − 128·Σc = Σh·c, Σc from a vector of ones.
CLAP_QT_AVX_VNNI RowSums sums_avx_vnni(const QueryParts& q, const int8_t* c, int d) {
  __m256i h = _mm256_setzero_si256(), b = h, l = h, sum = h;
  const __m256i ones = _mm256_set1_epi8(1);
  int j = 0;
  for (; j + 32 <= d; j += 32) {
    const __m256i codes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + j));
    h = dpbusd_vex(h, load32(q.high_u.data() + j), codes);
    b = dpbusd_vex(b, load32(q.mid_u.data() + j), codes);
    l = dpbusd_vex(l, load32(q.low_u.data() + j), codes);
    sum = dpbusd_vex(sum, ones, codes);
  }
  RowSums r{add_lanes(h) - 128 * add_lanes(sum), add_lanes(b), add_lanes(l)};
  for (; j < d; ++j) {
    r.high += int32_t{q.high[j]} * c[j];
    r.mid += int32_t{q.mid[j]} * c[j];
    r.low += int32_t{q.low[j]} * c[j];
  }
  return r;
}

// The sum of the 16 lanes (exact). The maskz form: GCC 12 warns of the undefined source of the
// plain extracts inside _mm512_reduce_add_epi32 and _mm512_castsi512_si256 (as tensor/linear_avx512.cpp).
CLAP_QT_AVX512_BW inline int32_t add_lanes512(__m512i v) {
  return add_lanes(_mm256_add_epi32(_mm512_maskz_extracti64x4_epi64(0xFF, v, 0), _mm512_maskz_extracti64x4_epi64(0xFF, v, 1)));
}

CLAP_QT_AVX512_BW inline __m512i madd_row512(__m512i acc, const int16_t* part, __m512i codes) {
  return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_loadu_si512(part), codes));
}

// AVX-512BW without VNNI (Skylake-SP): 32 codes a step widened to 16 bits, vpmaddwd.
CLAP_QT_AVX512_BW RowSums sums_avx512_bw(const QueryParts& q, const int8_t* c, int d) {
  __m512i h = _mm512_setzero_si512(), b = h, l = h;
  int j = 0;
  for (; j + 32 <= d; j += 32) {
    const __m512i codes = _mm512_maskz_cvtepi8_epi16(0xFFFFFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + j)));
    h = madd_row512(h, q.high.data() + j, codes);
    b = madd_row512(b, q.mid.data() + j, codes);
    l = madd_row512(l, q.low.data() + j, codes);
  }
  RowSums r{add_lanes512(h), add_lanes512(b), add_lanes512(l)};
  for (; j < d; ++j) {
    r.high += int32_t{q.high[j]} * c[j];
    r.mid += int32_t{q.mid[j]} * c[j];
    r.low += int32_t{q.low[j]} * c[j];
  }
  return r;
}

// AVX-512 VNNI: 64 codes a step, the last step's missing codes masked to zero (the query is
// padded with zeros); Σ(h + 128)·c − 128·Σc = Σh·c, Σc from a vector of ones.
CLAP_QT_AVX512_VNNI RowSums sums_avx512_vnni(const QueryParts& q, const int8_t* c, int d) {
  __m512i h = _mm512_setzero_si512(), b = h, l = h, sum = h;
  const __m512i ones = _mm512_set1_epi8(1);
  for (int j = 0; j < d; j += 64) {
    const __mmask64 valid = d - j >= 64 ? ~__mmask64{0} : (__mmask64{1} << (d - j)) - 1;
    const __m512i codes = _mm512_maskz_loadu_epi8(valid, c + j);
    h = _mm512_dpbusd_epi32(h, _mm512_loadu_si512(q.high_u.data() + j), codes);
    b = _mm512_dpbusd_epi32(b, _mm512_loadu_si512(q.mid_u.data() + j), codes);
    l = _mm512_dpbusd_epi32(l, _mm512_loadu_si512(q.low_u.data() + j), codes);
    sum = _mm512_dpbusd_epi32(sum, ones, codes);
  }
  return {add_lanes512(h) - 128 * add_lanes512(sum), add_lanes512(b),
          add_lanes512(l)};
}
#endif

using RowSumsKernel = RowSums (*)(const QueryParts&, const int8_t*, int);

RowSumsKernel kernel_function(FirstPassKernel kernel) {
  switch (kernel) {
#if defined(__x86_64__)
    case FirstPassKernel::Avx2: return sums_avx2;
    case FirstPassKernel::AvxVnni: return sums_avx_vnni;
    case FirstPassKernel::Avx512Bw: return sums_avx512_bw;
    case FirstPassKernel::Avx512Vnni: return sums_avx512_vnni;
#endif
    default: return sums_portable;
  }
}

// AVX-512's extensions, from cpuid as tensor/linear.cpp reads them (asked only at the Avx512
// level, so CLAPSEARCH_ISA caps them too).
bool avx512_bw() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx512bw");
#else
  return false;
#endif
}
bool avx512_vnni() {
#if defined(__x86_64__)
  return avx512_bw() && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

std::atomic<int> g_forced_kernel{-1};

// The kernel dots() uses: the best the kernel set (core/isa.h, CLAPSEARCH_ISA) allows.
FirstPassKernel chosen_kernel() {
  if (const int forced = g_forced_kernel.load(std::memory_order_relaxed); forced >= 0) return static_cast<FirstPassKernel>(forced);
#if defined(__x86_64__)
  switch (isa_level()) {
    case IsaLevel::Avx512:
      if (avx512_vnni()) return FirstPassKernel::Avx512Vnni;
      if (avx512_bw()) return FirstPassKernel::Avx512Bw;
      return FirstPassKernel::Avx2;
    case IsaLevel::Avx2: return isa_allows_avx_vnni() ? FirstPassKernel::AvxVnni : FirstPassKernel::Avx2;
    case IsaLevel::Baseline: break;
  }
#endif
  // ARM64: NEON is part of the baseline; the compiler vectorises the portable loop for it.
  return FirstPassKernel::Portable;
}

void check_dim(int d) {
  if (d > kMaxDim)
    throw Error("8-bit track embeddings: dimension " + std::to_string(d) + " is above the " + std::to_string(kMaxDim) +
                " whose integer sums fit 32 bits");
}

// The smallest float not below v (v >= 0).
float round_up(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) < v) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

}  // namespace

void QuantizedTracks::push_row(int64_t id, const float* x) {
  const int d = dim_;
  float peak = 0;
  bool finite = true;
  for (int j = 0; j < d; ++j) {
    finite = finite && std::isfinite(x[j]);
    peak = std::max(peak, std::fabs(x[j]));
  }
  if (!finite) {  // no bound holds: an unbounded error makes it a candidate of every search
    codes_.insert(codes_.end(), static_cast<size_t>(d), int8_t{0});
    ids_.push_back(id);
    scales_.push_back(0);
    errors_.push_back(std::numeric_limits<float>::infinity());
    norms_.push_back(std::sqrt(static_cast<double>(dot(x, x, d))));
    return;
  }
  const float scale = peak > 0 ? peak / 127.0f : 0.0f;
  double residual = 0;
  for (int j = 0; j < d; ++j) {
    const float r = scale > 0 ? std::nearbyint(x[j] / scale) : 0.0f;
    const int8_t c = static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f));
    codes_.push_back(c);
    const double diff = static_cast<double>(x[j]) - static_cast<double>(scale) * c;  // exact in double
    residual += diff * diff;
  }
  const double err = std::sqrt(residual) * (1 + 1e-12);
  const double length = std::sqrt(static_cast<double>(dot(x, x, d)));
  // |q·x − approx| ≤ |q|·(err + γ|x| + (γ + 2u)(|x| + err)) + |q − q̂|·|x̂|: the residual,
  // clap::dot's rounding of q·x, the score's rounding (2u of q̂·x̂, |x̂| ≤ |x| + err; γ is
  // spare) and the query's 24 bits (error_bound). |x| itself is known to within γ.
  const double g = gamma_of(d);
  const double x_len = length * (1 + g);
  const double factor = err + g * x_len + (g + 2 * kUnit) * (x_len + err);
  ids_.push_back(id);
  scales_.push_back(scale);
  errors_.push_back(round_up(factor * (1 + 1e-6)));
  norms_.push_back(length);
}

void QuantizedTracks::reserve(int64_t rows) {
  const size_t n = static_cast<size_t>(std::max<int64_t>(rows, 0));
  ids_.reserve(n);
  codes_.reserve(n * static_cast<size_t>(dim_));
  scales_.reserve(n);
  errors_.reserve(n);
  norms_.reserve(n);
}

void QuantizedTracks::append(const Embeddings& rows) {
  rows.check("8-bit track embeddings");
  if (rows.size() == 0) return;
  if (dim_ == 0) dim_ = rows.dim;
  check_dim(dim_);
  if (rows.dim != dim_)
    throw Error("8-bit track embeddings: rows of dimension " + std::to_string(rows.dim) + ", not " + std::to_string(dim_));
  if (ids_.empty()) reserve(rows.size());
  for (int64_t i = 0; i < rows.size(); ++i) {
    if (!ids_.empty() && rows.ids[i] <= ids_.back())
      throw Error("8-bit track embeddings: track " + std::to_string(rows.ids[i]) + " out of order");
    push_row(rows.ids[i], rows.row(i));
  }
}

QuantizedTracks QuantizedTracks::merge(const QuantizedTracks& old, const std::function<bool(int64_t)>& keep,
                                       const Embeddings& added) {
  added.check("8-bit track embeddings");
  QuantizedTracks out(old.dim_ ? old.dim_ : added.dim);
  check_dim(out.dim_);
  if (added.size() > 0 && added.dim != out.dim_)
    throw Error("8-bit track embeddings: rows of dimension " + std::to_string(added.dim) + ", not " + std::to_string(out.dim_));
  const size_t d = static_cast<size_t>(out.dim_);
  out.reserve(old.size() + added.size());
  auto take_old = [&](size_t i) {
    out.ids_.push_back(old.ids_[i]);
    out.codes_.insert(out.codes_.end(), old.codes_.begin() + static_cast<ptrdiff_t>(i * d),
                      old.codes_.begin() + static_cast<ptrdiff_t>((i + 1) * d));
    out.scales_.push_back(old.scales_[i]);
    out.errors_.push_back(old.errors_[i]);
    out.norms_.push_back(old.norms_[i]);
  };
  size_t a = 0;
  for (size_t i = 0; i < old.ids_.size(); ++i) {
    if (!keep(old.ids_[i])) continue;
    while (a < added.ids.size() && added.ids[a] < old.ids_[i]) {
      out.push_row(added.ids[a], added.row(static_cast<int64_t>(a)));
      ++a;
    }
    if (a < added.ids.size() && added.ids[a] == old.ids_[i])
      throw Error("8-bit track embeddings: track " + std::to_string(added.ids[a]) + " both kept and added");
    take_old(i);
  }
  for (; a < added.ids.size(); ++a) {
    if (!out.ids_.empty() && added.ids[a] <= out.ids_.back())
      throw Error("8-bit track embeddings: track " + std::to_string(added.ids[a]) + " out of order");
    out.push_row(added.ids[a], added.row(static_cast<int64_t>(a)));
  }
  return out;
}

int64_t QuantizedTracks::find(int64_t id) const {
  const auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  return it != ids_.end() && *it == id ? it - ids_.begin() : -1;
}

int64_t QuantizedTracks::memory_bytes() const {
  return static_cast<int64_t>(ids_.capacity() * sizeof(int64_t) + codes_.capacity() + scales_.capacity() * sizeof(float) +
                              errors_.capacity() * sizeof(float) + norms_.capacity() * sizeof(double));
}

std::vector<FirstPassKernel> first_pass_kernels_here() {
  std::vector<FirstPassKernel> out{FirstPassKernel::Portable};
#if defined(__x86_64__)
  const IsaLevel level = isa_level();
  if (level != IsaLevel::Baseline) out.push_back(FirstPassKernel::Avx2);
  if (level != IsaLevel::Baseline && isa_allows_avx_vnni()) out.push_back(FirstPassKernel::AvxVnni);
  if (level == IsaLevel::Avx512 && avx512_bw()) out.push_back(FirstPassKernel::Avx512Bw);
  if (level == IsaLevel::Avx512 && avx512_vnni()) out.push_back(FirstPassKernel::Avx512Vnni);
#endif
  return out;
}

const char* first_pass_kernel_name(FirstPassKernel kernel) {
  switch (kernel) {
    case FirstPassKernel::Avx2: return "avx2";
    case FirstPassKernel::AvxVnni: return "avx-vnni";
    case FirstPassKernel::Avx512Bw: return "avx512bw";
    case FirstPassKernel::Avx512Vnni: return "avx512-vnni";
    default: return "portable";
  }
}

void force_first_pass_kernel(std::optional<FirstPassKernel> kernel) {
  g_forced_kernel.store(kernel ? static_cast<int>(*kernel) : -1, std::memory_order_relaxed);
}

void QuantizedTracks::dots(const float* query, float* approx) const {
  const int64_t n = size();
  const int d = dim_;
  if (n == 0) return;
  float peak = 0;
  bool finite = true;
  for (int j = 0; j < d; ++j) {
    finite = finite && std::isfinite(query[j]);
    peak = std::max(peak, std::fabs(query[j]));
  }
  if (!finite) {  // no bound holds (q_norm is not finite either): every row is a candidate
    std::fill(approx, approx + n, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  int exponent = 0;
  std::frexp(static_cast<double>(peak) / kQueryLevels, &exponent);
  const double s = peak > 0 ? std::ldexp(1.0, exponent) : 1.0;  // peak / s ≤ 2²³ − 1
  const size_t padded = (static_cast<size_t>(d) + 63) / 64 * 64;
  QueryParts q;
  for (auto* part : {&q.high, &q.mid, &q.low}) part->assign(padded, 0);
  for (auto* part : {&q.high_u, &q.mid_u, &q.low_u}) part->assign(padded, 0);
  for (int j = 0; j < d; ++j) {
    const auto m = static_cast<int32_t>(std::clamp(std::nearbyint(static_cast<double>(query[j]) / s), -kQueryLevels, kQueryLevels));
    const int32_t h = m >= 0 ? m / 65536 : -((-m + 65535) / 65536);  // floor(m / 65536)
    const int32_t rest = m - 65536 * h;                              // in [0, 65535]
    q.high[j] = static_cast<int16_t>(h);
    q.mid[j] = static_cast<int16_t>(rest / 256);
    q.low[j] = static_cast<int16_t>(rest % 256);
    q.high_u[j] = static_cast<uint8_t>(h + 128);
    q.mid_u[j] = static_cast<uint8_t>(rest / 256);
    q.low_u[j] = static_cast<uint8_t>(rest % 256);
  }
  const RowSumsKernel sums = kernel_function(chosen_kernel());
#pragma omp parallel for schedule(static) if (worth_threads(n * d))
  for (int64_t i = 0; i < n; ++i) {
    const RowSums r = sums(q, codes_.data() + i * d, d);
    const int64_t total = int64_t{65536} * r.high + int64_t{256} * r.mid + r.low;  // m·c, exact (< 2⁵³)
    // One rounding in double (s is a power of two), one to float: the same bits on every path.
    approx[i] = static_cast<float>(static_cast<double>(scales_[static_cast<size_t>(i)]) * static_cast<double>(total) * s);
  }
}

double QuantizedTracks::error_bound(int64_t i, double q_norm) const {
  const double g = gamma_of(dim_);
  const size_t r = static_cast<size_t>(i);
  // errors_ covers the row's part (≥ err); the query's part is |q − q̂|·|x̂| with
  // |q − q̂| ≤ √d·|q|/(2²³ − 1) and |x̂| ≤ |x| + err ≤ norm·(1 + γ) + errors_, plus the score's
  // rounding of it (4u) and an underflow's worth. q_norm is |q| to within 2γ.
  const double row = static_cast<double>(errors_[r]);
  const double query = std::sqrt(static_cast<double>(dim_)) / kQueryLevels * (norms_[r] * (1 + g) + row) * (1 + 4 * kUnit);
  return (row + query) * q_norm * (1 + 2 * g) * (1 + 1e-6) + 0x1p-149;
}

std::vector<Hit> similar_quantized(const QuantizedTracks& tracks, const float* query, int64_t exclude_id, int64_t k,
                                   const TrackFetch& fetch, int64_t* fetched) {
  const int64_t n = tracks.size();
  const int d = tracks.dim();
  if (fetched) *fetched = 0;
  if (n == 0) return {};
  // search::similar's cosine is double(clap::dot(q, x)) / (|q|·|x|), both lengths as computed
  // here; the 8-bit score differs from that dot by at most error_bound.
  const double q_norm = std::sqrt(static_cast<double>(dot(query, query, d)));
  std::vector<float> approx(static_cast<size_t>(n));
  tracks.dots(query, approx.data());
  const auto bounds = [&](int64_t i) -> std::pair<double, double> {
    const double denom = q_norm * tracks.norm(i);
    if (!(denom > 0)) return {0.0, 0.0};  // cosine() gives 0 for a zero vector
    const double b = tracks.error_bound(i, q_norm);
    return {(approx[i] - b) / denom - 1e-12, (approx[i] + b) / denom + 1e-12};
  };
  const auto excluded = [&](int64_t i) { return tracks.ids()[i] == exclude_id; };
  const std::vector<int64_t> rows = rows_that_may_rank(n, k, bounds, excluded);
  // Read and ranked in batches, each cut to k: the best k of the batches' best k are the best k.
  constexpr size_t kBatch = 16384;
  std::vector<Hit> hits;
  for (size_t at = 0; at < rows.size(); at += kBatch) {
    std::vector<int64_t> ids;
    for (size_t r = at; r < std::min(rows.size(), at + kBatch); ++r) ids.push_back(tracks.ids()[rows[r]]);
    const Embeddings exact = fetch(ids);
    if (fetched) *fetched += exact.size();
    if (exact.size() == 0) continue;
    if (exact.dim != d)
      throw Error("similar: track embeddings of dimension " + std::to_string(exact.dim) + ", not " + std::to_string(d));
    const int64_t skip_id = exclude_id;
    auto part = similar(exact, 1, query, &skip_id, k)[0];
    hits.insert(hits.end(), part.begin(), part.end());
  }
  sort_hits(hits, k > 0 ? k : -1);
  return hits;
}

}  // namespace clap::search
