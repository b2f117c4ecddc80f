// Packing for linear() (tensor/linear.h): a layer's float32 rows (or several layers stacked)
// into the panels of 32 outputs the kernels read, as float32, bfloat16 or int8 with its scales,
// weight sums and channel smoothing; and what a PackedLinear holds where.
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "tensor/linear_kernels.h"

namespace clap {

using detail::kPanel;

namespace {

// 64-byte aligned; blocks of 2 MB and more are aligned to 2 MB and their whole 2 MB pages
// marked for transparent huge pages. The partial page at the end is not: a huge page there
// would make the padding resident too (up to 2 MB per layer, ~40 MB over a text tower).
void* allocate_bytes(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t align = bytes >= kHuge ? kHuge : 64;
  void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
  if (!p) throw Error("out of memory packing weights (" + std::to_string(bytes >> 20) + " MB)");
  if (align == kHuge) madvise(p, bytes / kHuge * kHuge, MADV_HUGEPAGE);  // advisory
  return p;
}

int64_t panel_elements(int64_t in, WeightType type) {  // weights per panel (elements of `type`)
  switch (type) {
    case WeightType::BF16: return (in + 1) / 2 * 2 * kPanel;
    case WeightType::I8: return (in + 3) / 4 * 4 * kPanel;
    default: return in * kPanel;
  }
}
size_t element_bytes(WeightType type) { return type == WeightType::BF16 ? 2 : type == WeightType::I8 ? 1 : 4; }
// Per-output arrays after the panels: biases; I8 adds scales and weight sums (4 bytes each).
int per_output_arrays(WeightType type) { return type == WeightType::I8 ? 3 : 1; }
// Per-input floats after those: I8's input multipliers (k padded to groups of 4).
int64_t per_input_floats(int64_t in, WeightType type) { return type == WeightType::I8 ? (in + 3) / 4 * 4 : 0; }

// I8 channel smoothing: per input channel k, a power of two s_k >= 1 that brings a weight
// column much smaller than the layer's median column (max |w| over outputs) up to it:
// s_k = 2^round(log2(median / column max)), at most 2^10. The weights are packed times s_k and
// the inputs multiplied by 1/s_k before they are quantised: the same function, exactly (powers
// of two), but an activation channel that a trained model makes hundreds of times larger than
// the rest while giving it as many times smaller weights (a large LayerNorm gain) no longer
// sets the row's quantisation range alone. Data-free: read from the weights only.
std::vector<float> channel_smoothing(int64_t out, int64_t in, const std::function<const float*(int64_t)>& weight_row) {
  std::vector<float> column_max(static_cast<size_t>(in), 0.0f);
  for (int64_t o = 0; o < out; ++o) {
    const float* w = weight_row(o);
    for (int64_t k = 0; k < in; ++k) column_max[k] = std::max(column_max[k], std::fabs(w[k]));
  }
  std::vector<float> nonzero;
  for (float m : column_max)
    if (m > 0.0f) nonzero.push_back(m);
  std::vector<float> s(static_cast<size_t>(in), 1.0f);
  if (nonzero.empty()) return s;
  std::sort(nonzero.begin(), nonzero.end());
  const float median = nonzero[nonzero.size() / 2];
  for (int64_t k = 0; k < in; ++k) {
    if (column_max[k] == 0.0f || column_max[k] >= median) continue;
    int e = 0;
    const float m = std::frexp(median / column_max[k], &e);  // ratio = m · 2^e, m in [0.5, 1)
    const int power = std::clamp(m >= 0.70710678f ? e : e - 1, 0, 10);
    s[k] = std::ldexp(1.0f, power);
  }
  return s;
}

// One output's weights to int8, symmetric: scale = max|w| / 127, q = round(w·127/max|w|) (ties
// to even; an all-zero row: scale 0, q 0). Returns the scale; `sum` gets Σq.
float quantize_weights_s8(const float* w, int64_t in, int8_t* q, int32_t* sum) {
  float amax = 0.0f;
  for (int64_t k = 0; k < in; ++k) amax = std::max(amax, std::fabs(w[k]));
  *sum = 0;
  if (amax == 0.0f) {
    std::fill(q, q + in, int8_t{0});
    return 0.0f;
  }
  const float inv = 127.0f / amax;
  for (int64_t k = 0; k < in; ++k) {
    q[k] = static_cast<int8_t>(std::clamp(static_cast<int32_t>(std::nearbyint(w[k] * inv)), -127, 127));
    *sum += q[k];
  }
  return amax / 127.0f;
}

}  // namespace

PackedLinear pack_linear(int parts, const float* const* weights, const float* const* biases, const int64_t* outs,
                         int64_t in, WeightType type) {
  PackedLinear p;
  p.in = in;
  p.type = type;
  for (int i = 0; i < parts; ++i) p.out += outs[i];
  const int64_t panels = (p.out + kPanel - 1) / kPanel;
  const size_t panel_bytes = static_cast<size_t>(panels * panel_elements(in, type)) * element_bytes(type);
  const size_t extras = static_cast<size_t>(per_output_arrays(type) * panels * kPanel + per_input_floats(in, type));  // 4-byte values
  p.data.reset(allocate_bytes(panel_bytes + extras * sizeof(float)));
  float* bias = reinterpret_cast<float*>(static_cast<char*>(p.data.get()) + panel_bytes);
  std::fill(bias, bias + extras, 0.0f);  // (all-zero bits are also int32 zeros)
  // Row o of the stacked matrix comes from part `which`, row `o - first`.
  std::vector<std::pair<int, int64_t>> source(static_cast<size_t>(p.out));
  int64_t o = 0;
  for (int i = 0; i < parts; ++i)
    for (int64_t r = 0; r < outs[i]; ++r, ++o) {
      source[o] = {i, r};
      if (biases[i]) bias[o] = biases[i][r];
    }
  const auto weight_row = [&](int64_t row) -> const float* {
    return row < p.out ? weights[source[row].first] + source[row].second * in : nullptr;  // null: padding
  };
  // Transposed in 64-k blocks: the destination block stays in L1 while 32 source rows are
  // read sequentially.
  constexpr int64_t kBlock = 64;
  if (type == WeightType::F32) {
    float* data = static_cast<float*>(p.data.get());
#pragma omp parallel for schedule(static)
    for (int64_t panel = 0; panel < panels; ++panel) {
      float* dst = data + panel * in * kPanel;
      for (int64_t k0 = 0; k0 < in; k0 += kBlock) {
        const int64_t k1 = std::min(in, k0 + kBlock);
        for (int j = 0; j < kPanel; ++j) {
          const float* src = weight_row(panel * kPanel + j);
          for (int64_t k = k0; k < k1; ++k) dst[k * kPanel + j] = src ? src[k] : 0.0f;
        }
      }
    }
  } else if (type == WeightType::I8) {
    int8_t* data = static_cast<int8_t*>(p.data.get());
    float* scale = bias + panels * kPanel;
    int32_t* weight_sum = reinterpret_cast<int32_t*>(scale + panels * kPanel);
    float* multiplier = reinterpret_cast<float*>(weight_sum + panels * kPanel);
    const int64_t groups = (in + 3) / 4;
    const std::vector<float> smoothing = channel_smoothing(p.out, in, weight_row);
    for (int64_t k = 0; k < 4 * groups; ++k) multiplier[k] = k < in ? 1.0f / smoothing[k] : 1.0f;
#pragma omp parallel for schedule(static)
    for (int64_t panel = 0; panel < panels; ++panel) {
      int8_t* dst = data + panel * groups * 4 * kPanel;
      std::vector<int8_t> q(static_cast<size_t>(4 * groups), 0);  // one output, k padded with zeros
      std::vector<float> smoothed(static_cast<size_t>(in));
      for (int j = 0; j < kPanel; ++j) {
        const int64_t o = panel * kPanel + j;
        const float* src = weight_row(o);
        if (src) {
          for (int64_t k = 0; k < in; ++k) smoothed[k] = src[k] * smoothing[k];
          scale[o] = quantize_weights_s8(smoothed.data(), in, q.data(), &weight_sum[o]);
        }
        else std::fill(q.begin(), q.end(), int8_t{0});
        for (int64_t k = 0; k < 4 * groups; ++k) dst[(k / 4) * 4 * kPanel + 4 * j + k % 4] = q[k];  // group, output, k%4
      }
    }
  } else {
    uint16_t* data = static_cast<uint16_t*>(p.data.get());
    const int64_t pairs = (in + 1) / 2;
#pragma omp parallel for schedule(static)
    for (int64_t panel = 0; panel < panels; ++panel) {
      uint16_t* dst = data + panel * pairs * 2 * kPanel;
      for (int64_t k0 = 0; k0 < 2 * pairs; k0 += kBlock) {
        const int64_t k1 = std::min(2 * pairs, k0 + kBlock);
        for (int j = 0; j < kPanel; ++j) {
          const float* src = weight_row(panel * kPanel + j);
          for (int64_t k = k0; k < k1; ++k)  // pair k/2, output j, half k%2
            dst[(k / 2) * 2 * kPanel + 2 * j + k % 2] = src && k < in ? to_bf16(src[k]) : 0;
        }
      }
    }
  }
  return p;
}

PackedLinear pack_linear(std::span<const LinearWeights> parts, WeightType type) {
  std::vector<const float*> weights, biases;
  std::vector<int64_t> outs;
  const int64_t in = parts.empty() ? 0 : parts.front().in;
  for (const LinearWeights& part : parts) {
    if (part.layout != WeightLayout::Rows || part.type != WeightType::F32 || part.in != in)
      throw Error("pack_linear: expects float32 layers in the checkpoint layout with the same input size");
    weights.push_back(static_cast<const float*>(part.weight));
    biases.push_back(part.bias);
    outs.push_back(part.out);
  }
  return pack_linear(static_cast<int>(parts.size()), weights.data(), biases.data(), outs.data(), in, type);
}

size_t PackedLinear::bytes() const {
  const int64_t panels = (out + kPanel - 1) / kPanel;
  return static_cast<size_t>(panels * panel_elements(in, type)) * element_bytes(type) +
         static_cast<size_t>(per_output_arrays(type) * panels * kPanel + per_input_floats(in, type)) * sizeof(float);
}

void PackedLinear::Free::operator()(void* p) const { std::free(p); }

LinearWeights PackedLinear::view() const {
  const int64_t panels = (out + kPanel - 1) / kPanel;
  const char* base = static_cast<const char*>(data.get());
  const size_t panel_bytes = static_cast<size_t>(panels * panel_elements(in, type)) * element_bytes(type);
  LinearWeights w{in, out, WeightLayout::Panels, type, base, reinterpret_cast<const float*>(base + panel_bytes)};
  if (type == WeightType::I8) {
    w.scale = w.bias + panels * kPanel;
    w.weight_sum = reinterpret_cast<const int32_t*>(w.scale + panels * kPanel);
    w.input_multiplier = reinterpret_cast<const float*>(w.weight_sum + panels * kPanel);
  }
  return w;
}

}  // namespace clap
