#include "model/htsat.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <sstream>
#include <span>

#include <omp.h>

#include "core/error.h"
#include "core/profile.h"
#include "tensor/linear.h"
#include "tensor/ops.h"

namespace clap {
namespace {

// The reference's spectrogram image: spec_size x spec_size, built from freq_ratio time chunks.
struct ImageGeometry {
  int spec_size = 256;
  int freq_ratio = 4;
  int spec_width = 1024;   // frames after resizing = spec_size * freq_ratio
  int grid_h = 64, grid_w = 64;  // patch grid
};

ImageGeometry geometry(const AudioConfig& c) {
  ImageGeometry g;
  g.spec_size = c.spec_size;
  g.freq_ratio = c.spec_size / c.num_mel_bins;
  g.spec_width = c.spec_size * g.freq_ratio;
  g.grid_h = c.spec_size / c.patch_stride[0];
  g.grid_w = c.spec_size / c.patch_stride[1];
  return g;
}

// PyTorch's bicubic convolution coefficients (A = -0.75).
inline float cubic1(float x, float A) { return ((A + 2) * x - (A + 3)) * x * x + 1; }
inline float cubic2(float x, float A) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }

// Builds the relative position bias (heads x w² x w²) from the table, as Swin indexes it.
std::vector<float> gather_position_bias(const float* table, int window, int heads) {
  const int n = window * window, span = 2 * window - 1;
  std::vector<float> bias(static_cast<size_t>(heads) * n * n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      const int dy = i / window - j / window + window - 1;
      const int dx = i % window - j % window + window - 1;
      const float* row = table + static_cast<size_t>(dy * span + dx) * heads;
      for (int h = 0; h < heads; ++h) bias[(static_cast<size_t>(h) * n + i) * n + j] = row[h];
    }
  }
  return bias;
}

// Shifted-window attention mask: tokens from different regions of the rolled image may
// not attend to each other (-100, as the reference).
std::vector<float> build_shift_mask(int height, int width, int window, int shift) {
  std::vector<int> region(static_cast<size_t>(height) * width);
  auto band = [&](int v, int size) { return v < size - window ? 0 : (v < size - shift ? 1 : 2); };
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) region[y * width + x] = band(y, height) * 3 + band(x, width);
  const int wy = height / window, wx = width / window, n = window * window;
  std::vector<float> mask(static_cast<size_t>(wy) * wx * n * n);
  for (int w = 0; w < wy * wx; ++w) {
    const int oy = (w / wx) * window, ox = (w % wx) * window;
    for (int i = 0; i < n; ++i) {
      const int ri = region[(oy + i / window) * width + ox + i % window];
      for (int j = 0; j < n; ++j) {
        const int rj = region[(oy + j / window) * width + ox + j % window];
        mask[(static_cast<size_t>(w) * n + i) * n + j] = ri == rj ? 0.0f : -100.0f;
      }
    }
  }
  return mask;
}

// Eval-mode BatchNorm on a channel vector, PyTorch's form: x * (w / sqrt(var + eps)) + (b - mean * alpha).
inline float batch_norm_value(const BatchNormWeights& bn, int64_t c, float x, float eps) {
  const float alpha = bn.weight[c] / std::sqrt(bn.running_var[c] + eps);
  return x * alpha + (bn.bias[c] - bn.running_mean[c] * alpha);
}

// 1x1 convolution (packed) + eval BatchNorm over rows of `in` channels -> `out` channels.
void conv1x1_bn(const float* x, int64_t rows, const PackedLinear& conv, const BatchNormWeights& bn, float* y,
                LinearScratch& scratch) {
  linear(x, rows, conv.in, conv.view(), y, conv.out, Epilogue::None, nullptr, &scratch);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < conv.out; ++c) y[r * conv.out + c] = batch_norm_value(bn, c, y[r * conv.out + c], 1e-5f);
}

// Strided convolution with kernel == stride over one image channel, as a GEMM on patches
// (`packed`: conv packed as a linear layer). img: height x width; out: (out_h * out_w) x
// conv.out, row = oy * out_w + ox.
void patch_conv(const float* img, int width, const ConvWeights& conv, const PackedLinear& packed, int out_h, int out_w,
                float* out, std::vector<float>& patches, LinearScratch& scratch) {
  const int kh = static_cast<int>(conv.kh), kw = static_cast<int>(conv.kw);
  patches.resize(static_cast<size_t>(out_h) * out_w * kh * kw);
  for (int oy = 0; oy < out_h; ++oy)
    for (int ox = 0; ox < out_w; ++ox) {
      float* p = patches.data() + (static_cast<size_t>(oy) * out_w + ox) * kh * kw;
      for (int y = 0; y < kh; ++y)
        std::memcpy(p + y * kw, img + static_cast<size_t>(oy * kh + y) * width + ox * kw, sizeof(float) * kw);
    }
  linear(patches.data(), static_cast<int64_t>(out_h) * out_w, kh * kw, packed.view(), out, conv.out, Epilogue::None,
         nullptr, &scratch);
}

// Tokens (rows x dim) -> channel-major (dim x rows), the layout the reference reports for convs.
std::vector<float> to_channel_major(const float* tokens, int64_t rows, int64_t dim) {
  std::vector<float> out(static_cast<size_t>(rows * dim));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < dim; ++c) out[c * rows + r] = tokens[r * dim + c];
  return out;
}

void append(Trace* trace, const std::string& name, const float* data, size_t n) {
  if (trace) (*trace)[name].insert((*trace)[name].end(), data, data + n);
}

// BatchNorm over mel bins, bicubic resize of time to spec_width, fold into the spec image.
// in: frames x mels of one channel; img: spec_size x spec_size.
void mel_to_image(const HtsatWeights& w, const ImageGeometry& g, const float* in, int frames,
                  int mels, float* img, std::vector<float>& norm) {
  norm.resize(static_cast<size_t>(frames) * mels);
  for (int t = 0; t < frames; ++t)
    for (int f = 0; f < mels; ++f) norm[t * mels + f] = batch_norm_value(w.batch_norm, f, in[t * mels + f], 1e-5f);
  const int chunk = g.spec_width / g.freq_ratio;  // frames per image row block
  const float scale = frames > 1 && g.spec_width > 1 ? static_cast<float>(frames - 1) / (g.spec_width - 1) : 0.0f;
  const bool resize = frames < g.spec_width;
  const float A = -0.75f;
  std::vector<float> row(static_cast<size_t>(mels));
  for (int t = 0; t < g.spec_width; ++t) {
    const float* src;
    if (resize) {  // align_corners=True source coordinate, 4 taps clamped at the borders
      const float real = scale * t;
      const int x0 = static_cast<int>(std::floor(real));
      const float tx = real - x0;
      const float c[4] = {cubic2(tx + 1, A), cubic1(tx, A), cubic1(1 - tx, A), cubic2(2 - tx, A)};
      const float* taps[4];
      for (int k = 0; k < 4; ++k) taps[k] = norm.data() + std::clamp(x0 - 1 + k, 0, frames - 1) * mels;
      for (int f = 0; f < mels; ++f) row[f] = taps[0][f] * c[0] + taps[1][f] * c[1] + taps[2][f] * c[2] + taps[3][f] * c[3];
      src = row.data();
    } else {
      src = norm.data() + static_cast<size_t>(t) * mels;
    }
    const int k = t / chunk, col = t % chunk;
    for (int f = 0; f < mels; ++f) img[static_cast<size_t>(k * mels + f) * g.spec_size + col] = src[f];
  }
}

// Local-crop branch of fused models: mel_conv2d over image channels 1..3, laid side by side
// along width and zero-padded to the global grid. out: grid_h*grid_w x dim tokens.
void fusion_local(const HtsatWeights& w, const HtsatKernels& k, const ImageGeometry& g, const float* images,
                  float* local, Trace* trace, std::vector<float>& scratch, LinearScratch& linear_scratch) {
  const int dim = static_cast<int>(w.mel_conv2d.out);
  const int out_h = g.spec_size / static_cast<int>(w.mel_conv2d.kh);
  const int out_w = (g.spec_size - static_cast<int>(w.mel_conv2d.kw)) / static_cast<int>(w.mel_conv2d.kw) + 1;
  if (out_h != g.grid_h || 3 * out_w > g.grid_w) throw Error("fusion: mel_conv2d output does not fit the patch grid");
  std::fill(local, local + static_cast<size_t>(g.grid_h) * g.grid_w * dim, 0.0f);
  std::vector<float> conv(static_cast<size_t>(out_h) * out_w * dim);
  for (int c = 0; c < 3; ++c) {
    patch_conv(images + static_cast<size_t>(c + 1) * g.spec_size * g.spec_size, g.spec_size, w.mel_conv2d, k.mel_conv2d,
               out_h, out_w, conv.data(), scratch, linear_scratch);
    if (trace) {
      auto cm = to_channel_major(conv.data(), static_cast<int64_t>(out_h) * out_w, dim);
      append(trace, "fusion_mel_conv2d", cm.data(), cm.size());
    }
    for (int y = 0; y < out_h; ++y)
      for (int x = 0; x < out_w; ++x)
        std::memcpy(local + (static_cast<size_t>(y) * g.grid_w + c * out_w + x) * dim,
                    conv.data() + (static_cast<size_t>(y) * out_w + x) * dim, sizeof(float) * dim);
  }
}

// Attentional feature fusion: 2·x·σ(L(x+r)+G(x+r)) + 2·r·(1−σ(...)), x = global, r = local.
void aff_fuse(const AffWeights& a, const AffKernels& k, float* x, const float* r, int64_t tokens, int64_t dim,
              LinearScratch& scratch) {
  const int64_t inter = a.local_conv1.out;
  std::vector<float> sum(static_cast<size_t>(tokens * dim)), hidden(static_cast<size_t>(tokens * inter)),
      local(static_cast<size_t>(tokens * dim));
  for (int64_t i = 0; i < tokens * dim; ++i) sum[i] = x[i] + r[i];
  conv1x1_bn(sum.data(), tokens, k.local_conv1, a.local_bn1, hidden.data(), scratch);
  apply_activation(Activation::Relu, hidden.data(), tokens * inter);
  conv1x1_bn(hidden.data(), tokens, k.local_conv2, a.local_bn2, local.data(), scratch);
  std::vector<float> mean(static_cast<size_t>(dim), 0.0f), ghid(static_cast<size_t>(inter)), glob(static_cast<size_t>(dim));
  for (int64_t c = 0; c < dim; ++c) {
    double s = 0;
    for (int64_t t = 0; t < tokens; ++t) s += sum[t * dim + c];
    mean[c] = static_cast<float>(s / tokens);
  }
  conv1x1_bn(mean.data(), 1, k.global_conv1, a.global_bn1, ghid.data(), scratch);
  apply_activation(Activation::Relu, ghid.data(), inter);
  conv1x1_bn(ghid.data(), 1, k.global_conv2, a.global_bn2, glob.data(), scratch);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t c = 0; c < dim; ++c) {
      const int64_t i = t * dim + c;
      const float s = 1.0f / (1.0f + std::exp(-(local[i] + glob[c])));
      x[i] = 2 * x[i] * s + 2 * r[i] * (1 - s);
    }
}

// Tokens per group of clips going through a Swin stage together (see htsat_forward).
constexpr int64_t kStageRows = 2048;

template <typename T>
T* sized(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// Chunk size for `items` items over `threads` threads: at most `most` per chunk, and at least
// two chunks per thread while the items allow it, so the threads stay balanced.
int64_t chunk_items(int64_t items, int64_t most, int threads) {
  const int64_t balanced = (items + 2 * threads - 1) / (2 * threads);
  return std::max<int64_t>(1, std::min(most, balanced));
}

// Runs body(c) for every chunk c < chunks across the OpenMP threads, chunks handed out
// dynamically; an exception (allocation) leaves the parallel region as the first one thrown.
template <typename Body>
void for_each_chunk(int64_t chunks, const Body& body) {
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic)
  for (int64_t c = 0; c < chunks; ++c) {
    try {
      body(c);
    } catch (...) {
#pragma omp critical(clap_swin_chunk_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

// One Swin block on x (batch x height x width x dim), in place. Each half runs in chunks of
// rows, one chunk per thread at a time, from x back into x: attention over chunks of whole
// windows (LayerNorm gathered into window order, q/k/v, every head's attention, the output
// projection added to the residual rows the windows came from), then the MLP over chunks of
// token rows. Rows and windows are computed independently of each other (tensor/linear.h), so
// the chunking decides nothing about the result; and each token belongs to one window, so a
// chunk reads and writes only its own rows of x. Chunks are handed out dynamically
// (for_each_chunk): when the indexer's decoder takes a core from one thread, the other takes
// over its chunks instead of waiting at the end of the loop.
void swin_block(const SwinBlockWeights& b, const SwinBlockKernels& k, HtsatScratch& s, float* x, int batch, int height,
                int width, int dim, float eps, Activation act) {
  const int ws = b.window, n = ws * ws, shift = b.shift, heads = b.heads, hd = dim / heads;
  const int hp = (height + ws - 1) / ws * ws, wp = (width + ws - 1) / ws * ws;
  const int nwy = hp / ws, nwx = wp / ws, nw = nwy * nwx;
  const int64_t tokens = static_cast<int64_t>(batch) * height * width;
  const int64_t windows = static_cast<int64_t>(batch) * nw;
  int64_t* source = sized(s.source, windows * n);
  const int threads = omp_get_max_threads();
  if (s.threads.size() < static_cast<size_t>(threads)) s.threads.resize(static_cast<size_t>(threads));

  // Source token of each windowed position (roll by -shift, then window partition); -1 = padding.
  for (int bi = 0; bi < batch; ++bi)
    for (int w = 0; w < nw; ++w)
      for (int p = 0; p < n; ++p) {
        const int y = ((w / nwx) * ws + p / ws + shift) % hp, xx = ((w % nwx) * ws + p % ws + shift) % wp;
        source[(static_cast<int64_t>(bi) * nw + w) * n + p] =
            (y < height && xx < width) ? (static_cast<int64_t>(bi) * height + y) * width + xx : -1;
      }
  {
    profile::Scope scope("swin: attention (layernorm, q/k/v, heads, output + residual)");
    const int64_t per_chunk = chunk_items(windows, std::max<int64_t>(1, kHtsatAttentionChunkRows / n), threads);
    const int64_t chunks = (windows + per_chunk - 1) / per_chunk;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const int64_t ld = 3 * dim;
    for_each_chunk(chunks, [&](int64_t c) {
      SwinThreadScratch& t = s.threads[static_cast<size_t>(omp_get_thread_num())];
      const int64_t w0 = c * per_chunk, count = std::min(per_chunk, windows - w0), rows = count * n;
      const int64_t* rows_source = source + w0 * n;
      float* normed = sized(t.normed, rows * dim);  // layer-normed tokens in window order
      float* qkv = sized(t.qkv, rows * ld);         // per windowed token: query | key | value
      float* ctx = sized(t.ctx, rows * dim);
      float* attention = sized(t.attention, static_cast<size_t>(attention_scratch_floats(n, hd)));
      layer_norm_gather(x, rows_source, rows, dim, b.layernorm_before.weight, b.layernorm_before.bias, eps, normed);
      linear(normed, rows, dim, k.qkv.view(), qkv, ld, Epilogue::None, nullptr, &t.linear);
      for (int64_t i = 0; i < count; ++i) {
        const int w = static_cast<int>((w0 + i) % nw);
        for (int h = 0; h < heads; ++h) {
          const float* q = qkv + i * n * ld + h * hd;
          attention_head(q, q + dim, q + 2 * dim, ld, n, hd, scale,
                         b.position_bias.data() + static_cast<size_t>(h) * n * n,
                         shift > 0 && b.window_masked[w] ? b.shift_mask.data() + static_cast<size_t>(w) * n * n : nullptr,
                         ctx + i * n * dim + h * hd, dim, attention);
        }
      }
      // Rows go back from window order to the token grid (reverse partition and roll) and are
      // added to the residual there, in the GEMM's epilogue.
      linear(ctx, rows, dim, k.attention_output.view(), x, dim, Epilogue::AddResidual, rows_source, &t.linear);
    });
  }
  {
    profile::Scope scope("swin: MLP (layernorm, fc1 + activation, fc2 + residual)");
    const int64_t hidden = b.intermediate.out;
    const int64_t per_chunk = chunk_items(tokens, kHtsatMlpChunkRows, threads);
    const int64_t chunks = (tokens + per_chunk - 1) / per_chunk;
    for_each_chunk(chunks, [&](int64_t c) {
      SwinThreadScratch& t = s.threads[static_cast<size_t>(omp_get_thread_num())];
      const int64_t r0 = c * per_chunk, rows = std::min(per_chunk, tokens - r0);
      float* xr = x + r0 * dim;
      float* normed = sized(t.normed, rows * dim);
      float* mlp = sized(t.mlp, rows * hidden);
      layer_norm(xr, rows, dim, b.layernorm_after.weight, b.layernorm_after.bias, eps, normed);
      if (act == Activation::Gelu) {
        linear(normed, rows, dim, k.intermediate.view(), mlp, hidden, Epilogue::Gelu, nullptr, &t.linear);
      } else {
        linear(normed, rows, dim, k.intermediate.view(), mlp, hidden, Epilogue::None, nullptr, &t.linear);
        apply_activation(act, mlp, rows * hidden);
      }
      linear(mlp, rows, hidden, k.output.view(), xr, dim, Epilogue::AddResidual, nullptr, &t.linear);
    });
  }
}

// PatchMerging: 2x2 neighbours concatenated [(0,0),(1,0),(0,1),(1,1)] -> LayerNorm -> Linear 4C->2C.
// out: batch x ceil(height/2) x ceil(width/2) x 2·dim.
void patch_merge(const SwinStageWeights& s, const SwinStageKernels& k, HtsatScratch& scratch, const float* x, int batch,
                 int height, int width, int dim, float eps, float* out) {
  const int oh = (height + 1) / 2, ow = (width + 1) / 2;
  const int64_t rows = static_cast<int64_t>(batch) * oh * ow;
  float* cat = sized(scratch.merge_input, static_cast<size_t>(rows * 4 * dim));
  const int dy[4] = {0, 1, 0, 1}, dx[4] = {0, 0, 1, 1};
  profile::Scope scope("patch merging");
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t bi = row / (oh * ow);
    const int y = static_cast<int>(row / ow % oh), xx = static_cast<int>(row % ow);
    float* dst = cat + row * 4 * dim;
    for (int q = 0; q < 4; ++q) {
      const int sy = 2 * y + dy[q], sx = 2 * xx + dx[q];
      if (sy < height && sx < width)
        std::memcpy(dst + q * dim, x + ((bi * height + sy) * width + sx) * dim, sizeof(float) * dim);
      else
        std::fill(dst + q * dim, dst + (q + 1) * dim, 0.0f);
    }
  }
  layer_norm(cat, rows, 4 * dim, s.downsample_norm.weight, s.downsample_norm.bias, eps, cat);
  linear(cat, rows, 4 * dim, k.downsample_reduction.view(), out, 2 * dim, Epilogue::None, nullptr, &scratch.linear);
}

}  // namespace

HtsatWeights load_htsat(const AudioConfig& c, WeightSource& src, const std::string& prefix) {
  constexpr WeightUse kPacked = WeightUse::Packed;  // the layers pack_htsat packs
  const ImageGeometry g = geometry(c);
  if (c.spec_size % c.num_mel_bins != 0) throw Error("audio_config: spec_size must be a multiple of num_mel_bins");
  if (c.patch_size != c.patch_stride[0] || c.patch_size != c.patch_stride[1])
    throw Error("audio_config: patch_size must equal patch_stride (overlapping patches are not supported)");
  HtsatWeights w;
  const int embed = c.patch_embeds_hidden_size;
  w.batch_norm = src.batch_norm(prefix + ".batch_norm", c.num_mel_bins);
  w.patch_proj = src.conv(prefix + ".patch_embed.proj", embed, 1, c.patch_size, c.patch_size, kPacked);
  if (c.enable_patch_layer_norm) w.patch_norm = src.norm(prefix + ".patch_embed.norm", embed);
  w.fusion = c.enable_fusion;
  if (w.fusion) {
    const std::string f = prefix + ".patch_embed.fusion_model";
    const int inter = embed / c.aff_block_r;
    w.mel_conv2d = src.conv(prefix + ".patch_embed.mel_conv2d", embed, 1, c.patch_size, c.patch_size * 3, kPacked);
    w.aff.local_conv1 = src.conv(f + ".local_att.0", inter, embed, 1, 1, kPacked);
    w.aff.local_bn1 = src.batch_norm(f + ".local_att.1", inter);
    w.aff.local_conv2 = src.conv(f + ".local_att.3", embed, inter, 1, 1, kPacked);
    w.aff.local_bn2 = src.batch_norm(f + ".local_att.4", embed);
    w.aff.global_conv1 = src.conv(f + ".global_att.1", inter, embed, 1, 1, kPacked);
    w.aff.global_bn1 = src.batch_norm(f + ".global_att.2", inter);
    w.aff.global_conv2 = src.conv(f + ".global_att.4", embed, inter, 1, 1, kPacked);
    w.aff.global_bn2 = src.batch_norm(f + ".global_att.5", embed);
  }
  int height = g.grid_h, width = g.grid_w, dim = embed;
  const int stages = static_cast<int>(c.depths.size());
  for (int i = 0; i < stages; ++i) {
    SwinStageWeights s;
    s.dim = dim;
    s.height = height;
    s.width = width;
    const std::string sp = prefix + ".layers." + std::to_string(i);
    if (std::min(height, width) < c.window_size)
      throw Error("audio_config: stage " + std::to_string(i) + " grid " + std::to_string(height) + "x" +
                  std::to_string(width) + " is smaller than window_size " + std::to_string(c.window_size));
    for (int j = 0; j < c.depths[i]; ++j) {
      SwinBlockWeights b;
      const std::string bp = sp + ".blocks." + std::to_string(j);
      b.heads = c.num_attention_heads[i];
      b.window = c.window_size;
      // Odd blocks shift by half a window, except when the grid is a single window.
      b.shift = (j % 2 == 1 && std::min(height, width) > c.window_size) ? c.window_size / 2 : 0;
      b.layernorm_before = src.norm(bp + ".layernorm_before", dim);
      b.layernorm_after = src.norm(bp + ".layernorm_after", dim);
      b.query = src.linear(bp + ".attention.self.query", dim, dim, c.qkv_bias, kPacked);
      b.key = src.linear(bp + ".attention.self.key", dim, dim, c.qkv_bias, kPacked);
      b.value = src.linear(bp + ".attention.self.value", dim, dim, c.qkv_bias, kPacked);
      b.attention_output = src.linear(bp + ".attention.output.dense", dim, dim, true, kPacked);
      const int hidden = static_cast<int>(dim * c.mlp_ratio);
      b.intermediate = src.linear(bp + ".intermediate.dense", dim, hidden, true, kPacked);
      b.output = src.linear(bp + ".output.dense", hidden, dim, true, kPacked);
      const int span = 2 * c.window_size - 1;
      b.relative_position_bias_table = src.get(bp + ".attention.self.relative_position_bias_table", {span * span, b.heads});
      if (b.relative_position_bias_table) b.position_bias = gather_position_bias(b.relative_position_bias_table, b.window, b.heads);
      if (b.shift > 0) {
        const int hp = (height + b.window - 1) / b.window * b.window, wp = (width + b.window - 1) / b.window * b.window;
        b.shift_mask = build_shift_mask(hp, wp, b.window, b.shift);
        const size_t area = static_cast<size_t>(b.window) * b.window * b.window * b.window;
        for (size_t at = 0; at < b.shift_mask.size(); at += area)
          b.window_masked.push_back(std::any_of(b.shift_mask.begin() + at, b.shift_mask.begin() + at + area,
                                                [](float m) { return m != 0.0f; }));
      }
      s.blocks.push_back(std::move(b));
    }
    s.has_downsample = i < stages - 1;
    if (s.has_downsample) {
      s.downsample_norm = src.norm(sp + ".downsample.norm", 4 * dim);
      s.downsample_reduction = src.linear(sp + ".downsample.reduction", 4 * dim, 2 * dim, false, kPacked);
      height = (height + 1) / 2;
      width = (width + 1) / 2;
      dim *= 2;
    }
    w.stages.push_back(std::move(s));
  }
  if (dim != c.hidden_size)
    throw Error("audio_config: hidden_size " + std::to_string(c.hidden_size) + " does not match the final stage width " +
                std::to_string(dim) + " (patch_embeds_hidden_size x 2^(stages-1))");
  w.final_norm = src.norm(prefix + ".norm", dim);
  return w;
}

// Measured (README "Design"): the patch embedding and the AFF convolutions stay bf16 (k = 16
// for the 4x4 patches: per-row quantisation of so few values is coarse, and they are 1 % of the
// FLOPs); the rest run int8.
const char* const kHtsatInt8Layers = "qkv,proj,fc1,fc2,merge";

HtsatLayerTypes htsat_int8_layers(const std::string& spec) {
  struct Entry {
    HtsatLayerKind kind;
    bool every_kind = false;
    int stage = -2;  // -2: every stage, -1: the last
  };
  static const std::map<std::string, HtsatLayerKind> kinds = {
      {"patch", HtsatLayerKind::PatchEmbed}, {"fusion", HtsatLayerKind::Fusion}, {"qkv", HtsatLayerKind::Qkv},
      {"proj", HtsatLayerKind::Projection},  {"fc1", HtsatLayerKind::Fc1},       {"fc2", HtsatLayerKind::Fc2},
      {"merge", HtsatLayerKind::Merge}};
  std::vector<Entry> entries;
  std::stringstream list(spec);
  for (std::string item; std::getline(list, item, ',');) {
    if (item == "none") continue;
    Entry e{HtsatLayerKind::Qkv};
    const size_t at = item.find('@');
    const std::string kind = item.substr(0, at);
    if (kind == "all") {
      e.every_kind = true;
    } else if (auto it = kinds.find(kind); it != kinds.end()) {
      e.kind = it->second;
    } else {
      throw Error("int8 layer list: unknown layer kind '" + kind + "' in '" + spec + "'");
    }
    if (at != std::string::npos) {
      const std::string stage = item.substr(at + 1);
      if (stage == "last") e.stage = -1;
      else if (!stage.empty() && stage.find_first_not_of("0123456789") == std::string::npos) e.stage = std::stoi(stage);
      else throw Error("int8 layer list: bad stage '" + stage + "' in '" + spec + "'");
    }
    entries.push_back(e);
  }
  return [entries](const HtsatLayer& layer) {
    for (const Entry& e : entries) {
      const bool kind = e.every_kind || e.kind == layer.kind;
      const bool stage = e.stage == -2 || (e.stage == -1 ? layer.stage == layer.stages - 1 : layer.stage == e.stage);
      if (kind && stage) return WeightType::I8;
    }
    return WeightType::BF16;
  };
}

HtsatKernels pack_htsat(const HtsatWeights& w, const HtsatLayerTypes& types,
                        const std::function<void(const LinearWeights&)>& release) {
  const int stages = static_cast<int>(w.stages.size());
  const auto pack = [&](HtsatLayerKind kind, int stage, std::initializer_list<LinearWeights> layers) {
    const WeightType type = types(HtsatLayer{kind, stage, stages});
    PackedLinear packed = pack_linear(std::span<const LinearWeights>(layers.begin(), layers.size()), type);
    if (release)
      for (const LinearWeights& l : layers) release(l);
    return packed;
  };
  using K = HtsatLayerKind;
  HtsatKernels k;
  k.patch_proj = pack(K::PatchEmbed, -1, {w.patch_proj.as_linear()});
  if (w.fusion) {
    k.mel_conv2d = pack(K::PatchEmbed, -1, {w.mel_conv2d.as_linear()});
    k.aff.local_conv1 = pack(K::Fusion, -1, {w.aff.local_conv1.as_linear()});
    k.aff.local_conv2 = pack(K::Fusion, -1, {w.aff.local_conv2.as_linear()});
    k.aff.global_conv1 = pack(K::Fusion, -1, {w.aff.global_conv1.as_linear()});
    k.aff.global_conv2 = pack(K::Fusion, -1, {w.aff.global_conv2.as_linear()});
  }
  for (int si = 0; si < stages; ++si) {
    const SwinStageWeights& s = w.stages[si];
    SwinStageKernels& sk = k.stages.emplace_back();
    for (const SwinBlockWeights& b : s.blocks)
      sk.blocks.push_back({pack(K::Qkv, si, {b.query, b.key, b.value}), pack(K::Projection, si, {b.attention_output}),
                           pack(K::Fc1, si, {b.intermediate}), pack(K::Fc2, si, {b.output})});
    if (s.has_downsample) sk.downsample_reduction = pack(K::Merge, si, {s.downsample_reduction});
  }
  return k;
}

void htsat_forward(const AudioConfig& c, const HtsatWeights& w, const HtsatKernels& k, HtsatScratch& scratch_buffers,
                   const float* input, int batch, int channels, int frames, int mels, const uint8_t* is_longer,
                   float* pooled, Trace* trace) {
  const ImageGeometry g = geometry(c);
  if (mels != c.num_mel_bins)
    throw Error("audio features have " + std::to_string(mels) + " mel bins, the model expects " + std::to_string(c.num_mel_bins));
  if (frames > g.spec_width)
    throw Error("audio features have " + std::to_string(frames) + " frames, more than the model's " + std::to_string(g.spec_width));
  if (k.stages.size() != w.stages.size()) throw Error("internal: htsat_forward with kernels packed from other weights");
  if (w.fusion && channels != 4) throw Error("fused model expects 4 feature channels, got " + std::to_string(channels));
  if (!w.fusion && channels != 1) throw Error("unfused model expects 1 feature channel, got " + std::to_string(channels));
  const float eps = static_cast<float>(c.layer_norm_eps);
  const int embed = c.patch_embeds_hidden_size;
  const int64_t grid = static_cast<int64_t>(g.grid_h) * g.grid_w;
  const size_t image_size = static_cast<size_t>(g.spec_size) * g.spec_size;

  // Patch embedding per clip -> tokens: batch x grid x embed. Activations live in the caller's
  // scratch, reused across calls (fresh multi-megabyte allocations cost page faults each time).
  // Two activation buffers, x and the other one, swap roles at each patch merging; both are
  // sized for the first stage (every later stage holds half as many floats).
  float* x = sized(scratch_buffers.tokens, static_cast<size_t>(batch * grid * embed));
  float* spare = sized(scratch_buffers.merged, static_cast<size_t>(batch * grid * embed));
  size_t x_size = static_cast<size_t>(batch * grid * embed);
  {
  profile::Scope embed_scope("patch embedding (BatchNorm, bicubic, conv, fusion)");
  std::vector<float>& images = scratch_buffers.images;
  std::vector<float>& scratch = scratch_buffers.patches;
  std::vector<float>& local = scratch_buffers.local;
  images.resize(channels * image_size);
  for (int b = 0; b < batch; ++b) {
    const float* feats = input + static_cast<size_t>(b) * channels * frames * mels;
    for (int ch = 0; ch < channels; ++ch)
      mel_to_image(w, g, feats + static_cast<size_t>(ch) * frames * mels, frames, mels, images.data() + ch * image_size,
                   scratch_buffers.mel_norm);
    append(trace, "mel2img", images.data(), images.size());
    float* tokens = x + b * grid * embed;
    patch_conv(images.data(), g.spec_size, w.patch_proj, k.patch_proj, g.grid_h, g.grid_w, tokens, scratch,
               scratch_buffers.linear);
    if (trace) {
      auto cm = to_channel_major(tokens, grid, embed);
      append(trace, "patch_proj_conv", cm.data(), cm.size());
    }
    if (w.fusion && is_longer && is_longer[b]) {
      local.resize(static_cast<size_t>(grid * embed));
      fusion_local(w, k, g, images.data(), local.data(), trace, scratch, scratch_buffers.linear);
      aff_fuse(w.aff, k.aff, tokens, local.data(), grid, embed, scratch_buffers.linear);
      if (trace) {
        auto cm = to_channel_major(tokens, grid, embed);
        append(trace, "fusion_aff_out", cm.data(), cm.size());
      }
    }
  }
  if (w.patch_norm.weight) layer_norm(x, batch * grid, embed, w.patch_norm.weight, w.patch_norm.bias, eps, x);
  append(trace, "patch_embed", x, x_size);
  }

  int height = g.grid_h, width = g.grid_w, dim = embed;
  for (size_t i = 0; i < w.stages.size(); ++i) {
    const SwinStageWeights& s = w.stages[i];
    const SwinStageKernels& sk = k.stages[i];
    // Clips go through a stage in groups of about kStageRows tokens: early stages (4096
    // tokens a clip) one clip at a time so activations stay in cache, late stages several
    // clips at once so each weight matrix is read once per group. Every kernel treats rows
    // (and windows) independently, so a clip's result does not depend on its group.
    const int64_t clip_tokens = static_cast<int64_t>(height) * width;
    const int group = static_cast<int>(std::clamp<int64_t>(kStageRows / clip_tokens, 1, batch));
    for (int b0 = 0; b0 < batch; b0 += group) {
      float* xs = x + static_cast<size_t>(b0) * clip_tokens * dim;
      for (size_t j = 0; j < s.blocks.size(); ++j)
        swin_block(s.blocks[j], sk.blocks[j], scratch_buffers, xs, std::min(group, batch - b0), height, width, dim, eps,
                   c.hidden_act);
    }
    append(trace, "stage" + std::to_string(i) + "_pre_downsample", x, x_size);
    if (s.has_downsample) {
      const int in_height = height, in_width = width;
      height = (height + 1) / 2;
      width = (width + 1) / 2;
      x_size = static_cast<size_t>(batch) * height * width * dim * 2;
      patch_merge(s, sk, scratch_buffers, x, batch, in_height, in_width, dim, eps, spare);
      std::swap(x, spare);
      dim *= 2;
    }
    append(trace, "stage" + std::to_string(i) + "_out", x, x_size);
  }
  profile::Scope pool_scope("final layernorm + pooling");
  const int64_t tokens = static_cast<int64_t>(height) * width;
  layer_norm(x, batch * tokens, dim, w.final_norm.weight, w.final_norm.bias, eps, x);
  append(trace, "final_norm", x, x_size);
  for (int b = 0; b < batch; ++b)
    for (int ch = 0; ch < dim; ++ch) {
      double s = 0;
      for (int64_t t = 0; t < tokens; ++t) s += x[(b * tokens + t) * dim + ch];
      pooled[static_cast<size_t>(b) * dim + ch] = static_cast<float>(s / tokens);
    }
}

double htsat_flops_per_window(const AudioConfig& c) {
  const ImageGeometry g = geometry(c);
  double flops = 0;
  int height = g.grid_h, width = g.grid_w, dim = c.patch_embeds_hidden_size;
  flops += 2.0 * height * width * dim * c.patch_size * c.patch_size;
  for (size_t i = 0; i < c.depths.size(); ++i) {
    const double tokens = double(height) * width, n = double(c.window_size) * c.window_size;
    const double hidden = dim * c.mlp_ratio;
    const double per_block = 2.0 * tokens * dim * dim * 4      // q, k, v, output
                             + 2.0 * tokens * dim * hidden * 2   // MLP
                             + 2.0 * tokens * n * dim * 2;       // scores and context
    flops += per_block * c.depths[i];
    if (i + 1 < c.depths.size()) {
      flops += 2.0 * (tokens / 4) * (4.0 * dim) * (2.0 * dim);
      height = (height + 1) / 2;
      width = (width + 1) / 2;
      dim *= 2;
    }
  }
  return flops;
}

}  // namespace clap
