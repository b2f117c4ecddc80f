// R14C-1: the cost of store::non_finite_value (src/store/rows.cpp) beside the copy every embedding
// read makes (Stmt/Result::append_floats). Not built by CMake; by hand:
//   g++ -std=c++20 -O3 finite_check.cpp -o /tmp/finite_check && /tmp/finite_check
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>
static std::string non_finite_value(const float* v, size_t n) {
  uint32_t any = 0;
  for (size_t k = 0; k < n; ++k) any |= (std::bit_cast<uint32_t>(v[k]) & 0x7f800000u) + 0x00800000u;
  if (!(any & 0x80000000u)) return "";
  for (size_t k = 0; k < n; ++k) if (!std::isfinite(v[k])) return "x";
  return "";
}
int main() {
  const size_t rows = 100000, dim = 512;
  std::vector<float> src(rows * dim);
  for (size_t i = 0; i < src.size(); ++i) src[i] = float((i * 2654435761u) % 1000) / 1000.f - 0.5f;
  std::vector<float> out;
  out.reserve(rows * dim);
  double bests[2] = {1e9, 1e9};
  for (int rep = 0; rep < 15; ++rep)
  for (int check = 0; check < 2; ++check) {
    double& best = bests[check];
    {
      out.clear();
      auto t0 = std::chrono::steady_clock::now();
      size_t bad = 0;
      for (size_t r = 0; r < rows; ++r) {
        const size_t at = out.size();
        out.resize(at + dim);
        std::memcpy(out.data() + at, src.data() + r * dim, dim * 4);
        if (check) bad += !non_finite_value(out.data() + at, dim).empty();
      }
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::min(best, s);
      if (bad) std::printf("bad\n");
    }
  }
  std::printf("decode: %.1f ms, decode+check: %.1f ms for %zu windows of %zu (best of 15, alternating)\n", bests[0] * 1e3, bests[1] * 1e3, rows, dim);
}
