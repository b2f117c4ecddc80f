// Compiled with -ffp-contract=off (CMakeLists.txt): a multiply followed by an add must stay two
// roundings, as in clap::dot (dot_kernels.h says why the bits are the same).
#include "search/dot_kernels.h"

#include "core/isa.h"
#include "core/vector_math.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace clap::search {
namespace {

void dots_portable(int64_t nq, const float* queries, const float* const* rows, int nrows, int64_t d, float* out,
                   int64_t stride) {
  for (int r = 0; r < nrows; ++r)
    for (int64_t q = 0; q < nq; ++q) out[q * stride + r] = dot(queries + q * d, rows[r], d);
}

#if defined(__x86_64__)
// Four queries share each load of the row; a group of fewer at the end.
constexpr int kGroup = 4;

// clap::dot's tail: the products after the last full chunk of 16, summed in order.
float tail_isa_sum(const float* a, const float* b, int64_t from, int64_t d) {
  float tail = 0;
  for (int64_t i = from; i < d; ++i) tail += a[i] * b[i];
  return tail;
}

// The fold of clap::dot from 8 lanes (lanes j and j + 8 already added): j + 4, j + 2, j + 1,
// the lower lane always the first operand, as acc[j] += acc[j + s].
__attribute__((target("avx2"))) float fold8_avx2(__m256 v8) {
  const __m128 v4 = _mm_add_ps(_mm256_castps256_ps128(v8), _mm256_extractf128_ps(v8, 1));
  const __m128 v2 = _mm_add_ps(v4, _mm_movehl_ps(v4, v4));
  const __m128 v1 = _mm_add_ss(v2, _mm_shuffle_ps(v2, v2, 1));
  return _mm_cvtss_f32(v1);
}

template <int G>
__attribute__((target("avx2"))) void group_avx2(const float* queries, const float* row, int64_t d, float* out,
                                                int64_t stride) {
  __m256 lo[G], hi[G];  // lanes 0-7 and 8-15 of clap::dot's 16
  for (int g = 0; g < G; ++g) lo[g] = hi[g] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const __m256 r_lo = _mm256_loadu_ps(row + i), r_hi = _mm256_loadu_ps(row + i + 8);
    for (int g = 0; g < G; ++g) {
      const float* q = queries + g * d + i;
      lo[g] = _mm256_add_ps(lo[g], _mm256_mul_ps(_mm256_loadu_ps(q), r_lo));
      hi[g] = _mm256_add_ps(hi[g], _mm256_mul_ps(_mm256_loadu_ps(q + 8), r_hi));
    }
  }
  for (int g = 0; g < G; ++g)
    out[g * stride] = fold8_avx2(_mm256_add_ps(lo[g], hi[g])) + tail_isa_sum(queries + g * d, row, i, d);
}

// One row at a time: 4 queries x 2 halves are already eight sums (of 16 registers).
__attribute__((target("avx2"))) void dots_avx2(int64_t nq, const float* queries, const float* const* rows, int nrows,
                                               int64_t d, float* out, int64_t stride) {
  for (int r = 0; r < nrows; ++r) {
    int64_t q = 0;
    for (; q + kGroup <= nq; q += kGroup) group_avx2<kGroup>(queries + q * d, rows[r], d, out + q * stride + r, stride);
    for (; q < nq; ++q) group_avx2<1>(queries + q * d, rows[r], d, out + q * stride + r, stride);
  }
}

// G queries against R rows: G · R accumulators, each row load shared by G queries and each
// query load by R rows. Eight independent sums (4 x 2) keep both vector adders busy; four
// were bound by the add's latency (each sum waits for its previous add).
template <int G, int R>
__attribute__((target("avx512f"))) void block_avx512(const float* queries, const float* const* rows, int64_t d,
                                                     float* out, int64_t stride) {
  __m512 acc[G][R];
  for (int g = 0; g < G; ++g)
    for (int r = 0; r < R; ++r) acc[g][r] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m512 row[R];
    for (int r = 0; r < R; ++r) row[r] = _mm512_loadu_ps(rows[r] + i);
    for (int g = 0; g < G; ++g) {
      const __m512 q = _mm512_loadu_ps(queries + g * d + i);
      for (int r = 0; r < R; ++r) acc[g][r] = _mm512_add_ps(acc[g][r], _mm512_mul_ps(q, row[r]));
    }
  }
  for (int g = 0; g < G; ++g)
    for (int r = 0; r < R; ++r) {
      // Lanes j + 8 onto j (the lower half the first operand), then the 8-lane fold. Halved
      // through memory: GCC 12's _mm512_extractf64x4_pd trips -Wmaybe-uninitialized in its header.
      alignas(64) float lanes[16];
      _mm512_store_ps(lanes, acc[g][r]);
      const __m256 low = _mm256_load_ps(lanes), high = _mm256_load_ps(lanes + 8);
      out[g * stride + r] = fold8_avx2(_mm256_add_ps(low, high)) + tail_isa_sum(queries + g * d, rows[r], i, d);
    }
}

template <int R>
__attribute__((target("avx512f"))) void rows_avx512(int64_t nq, const float* queries, const float* const* rows,
                                                    int64_t d, float* out, int64_t stride) {
  int64_t q = 0;
  for (; q + kGroup <= nq; q += kGroup) block_avx512<kGroup, R>(queries + q * d, rows, d, out + q * stride, stride);
  for (; q < nq; ++q) block_avx512<1, R>(queries + q * d, rows, d, out + q * stride, stride);
}

__attribute__((target("avx512f"))) void dots_avx512(int64_t nq, const float* queries, const float* const* rows,
                                                    int nrows, int64_t d, float* out, int64_t stride) {
  if (nrows == 2) rows_avx512<2>(nq, queries, rows, d, out, stride);
  else
    for (int r = 0; r < nrows; ++r) rows_avx512<1>(nq, queries, rows + r, d, out + r, stride);
}
#endif

}  // namespace

const char* dot_kernel_name(DotKernel kernel) {
  switch (kernel) {
    case DotKernel::Avx2: return "avx2";
    case DotKernel::Avx512: return "avx512";
    case DotKernel::Portable: break;
  }
  return "portable";
}

bool dot_kernel_available(DotKernel kernel) {
#if defined(__x86_64__)
  switch (kernel) {
    case DotKernel::Portable: return true;
    case DotKernel::Avx2: return __builtin_cpu_supports("avx2");
    case DotKernel::Avx512: return __builtin_cpu_supports("avx512f");
  }
  return false;
#else
  return kernel == DotKernel::Portable;
#endif
}

DotKernel dot_kernel() {
  static const DotKernel chosen = [] {
    const IsaLevel level = isa_level();
    if (level >= IsaLevel::Avx512 && dot_kernel_available(DotKernel::Avx512)) return DotKernel::Avx512;
    if (level >= IsaLevel::Avx2 && dot_kernel_available(DotKernel::Avx2)) return DotKernel::Avx2;
    return DotKernel::Portable;
  }();
  return chosen;
}

void dots_with_rows(DotKernel kernel, int64_t nq, const float* queries, const float* const* rows, int nrows, int64_t d,
                    float* out, int64_t stride) {
#if defined(__x86_64__)
  switch (kernel) {
    case DotKernel::Avx512: return dots_avx512(nq, queries, rows, nrows, d, out, stride);
    case DotKernel::Avx2: return dots_avx2(nq, queries, rows, nrows, d, out, stride);
    case DotKernel::Portable: break;
  }
#else
  (void)kernel;
#endif
  dots_portable(nq, queries, rows, nrows, d, out, stride);
}

}  // namespace clap::search
