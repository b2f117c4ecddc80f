#include "search/quantized_tracks.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/error.h"
#include "core/isa.h"
#include "core/vector_math.h"
#include "search/kernels.h"
#include "search/similar.h"

namespace clap::search {
namespace {

constexpr double kUnit = 0x1p-24;  // float's unit roundoff

// γ_d of the standard dot-product error bound, |fl(a·b) − a·b| ≤ γ_d·|a|·|b| for d terms in any
// summation order, with or without FMA.
double gamma_of(int d) { return d * kUnit / (1 - d * kUnit); }

// q·(scale·c) with 16 lane sums; the compiler may contract and reorder lanes per CPU: only the
// bound above is relied on, never these bits.
__attribute__((always_inline)) inline float code_dot(const float* q, const int8_t* c, int d) {
  float lanes[16] = {};
  int j = 0;
  for (; j + 16 <= d; j += 16)
    for (int l = 0; l < 16; ++l) lanes[l] += q[j + l] * static_cast<float>(c[j + l]);
  float s = 0;
  for (float v : lanes) s += v;
  for (; j < d; ++j) s += q[j] * static_cast<float>(c[j]);
  return s;
}

// One entry per kernel set (core/isa.h), not target_clones: their resolver cannot be capped.
#if defined(__x86_64__)
// Written out for AVX-512: GCC made four 4-lane accumulators of code_dot (separate multiply and
// add, the codes widened in three steps), 5x the instructions of 16-lane sign extension and FMA;
// the first pass of every similar-tracks request at 100,000 tracks is this loop. Any summation
// order is within the bound (error_bound), so only speed differs. The maskz forms: GCC 12 warns
// of the undefined source of the plain ones (as tensor/linear_avx512.cpp).
__attribute__((target("avx512f"))) float code_dot_isa_avx512(const float* q, const int8_t* c, int d) {
  __m512 even = _mm512_setzero_ps(), odd = _mm512_setzero_ps();
  int j = 0;
  for (; j + 32 <= d; j += 32) {
    const __m512 a = _mm512_maskz_cvtepi32_ps(0xFFFF, _mm512_maskz_cvtepi8_epi32(0xFFFF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + j))));
    const __m512 b = _mm512_maskz_cvtepi32_ps(0xFFFF, _mm512_maskz_cvtepi8_epi32(0xFFFF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + j + 16))));
    even = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), a, even);
    odd = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 16), b, odd);
  }
  for (; j + 16 <= d; j += 16) {
    const __m512 a = _mm512_maskz_cvtepi32_ps(0xFFFF, _mm512_maskz_cvtepi8_epi32(0xFFFF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + j))));
    even = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), a, even);
  }
  float lanes[16];
  _mm512_storeu_ps(lanes, _mm512_add_ps(even, odd));
  float s = 0;
  for (const float v : lanes) s += v;
  for (; j < d; ++j) s += q[j] * static_cast<float>(c[j]);
  return s;
}
__attribute__((target("avx2"))) float code_dot_isa_avx2(const float* q, const int8_t* c, int d) { return code_dot(q, c, d); }
#endif
float code_dot_isa_baseline(const float* q, const int8_t* c, int d) { return code_dot(q, c, d); }

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
  // |q·x − approx| ≤ |q|·(err + γ|x| + (γ + 2u)(|x| + err)): the residual, clap::dot's rounding
  // of q·x, and code_dot's and the scale's rounding of q·x̂ (|x̂| ≤ |x| + err). |x| itself is
  // known to within γ.
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

void QuantizedTracks::dots(const float* query, float* approx) const {
  const int64_t n = size();
  const int d = dim_;
  const IsaLevel level = isa_level();
#if defined(__x86_64__)
  const auto code_dot = level == IsaLevel::Avx512 ? code_dot_isa_avx512 : level == IsaLevel::Avx2 ? code_dot_isa_avx2 : code_dot_isa_baseline;
#else
  (void)level;  // ARM64: NEON is part of the baseline; the compiler vectorises code_dot for it
  const auto code_dot = code_dot_isa_baseline;
#endif
#pragma omp parallel for schedule(static) if (worth_threads(n * d))
  for (int64_t i = 0; i < n; ++i) approx[i] = scales_[i] * code_dot(query, codes_.data() + i * d, d);
}

double QuantizedTracks::error_bound(int64_t i, double q_norm) const {
  const double g = gamma_of(dim_);
  return static_cast<double>(errors_[static_cast<size_t>(i)]) * q_norm * (1 + 2 * g) * (1 + 1e-6);
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
