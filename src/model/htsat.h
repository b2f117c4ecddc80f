// HTSAT audio encoder (Swin Transformer over a folded log-mel image), as in Hugging Face
// ClapAudioModel: BatchNorm over mel bins -> bicubic resize to 1024 frames -> fold to a
// 256x256 image -> 4x4 patch embedding (+ AFF fusion of local crops for fused models) ->
// Swin stages with shifted windows and patch merging -> LayerNorm -> mean over tokens.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/weights.h"
#include "tensor/linear.h"

namespace clap {

struct SwinBlockWeights {  // audio_encoder.layers.<i>.blocks.<j>
  NormWeights layernorm_before, layernorm_after;
  LinearWeights query, key, value;  // attention.self.{query,key,value}
  LinearWeights attention_output;   // attention.output.dense
  LinearWeights intermediate;       // intermediate.dense
  LinearWeights output;             // output.dense
  const float* relative_position_bias_table = nullptr;  // [(2w-1)^2, heads]
  // Derived at load time (not weights): per-head bias gathered by relative position,
  // heads x w² x w², and the shifted-window mask, windows x w² x w² (empty when unshifted).
  std::vector<float> position_bias;
  std::vector<float> shift_mask;
  // Per window: does its part of shift_mask hold anything but zeros? (Only windows at the
  // rolled edges do; adding zeros changes no score, so the others skip the mask.)
  std::vector<uint8_t> window_masked;
  int heads = 0, window = 0, shift = 0;
};

struct SwinStageWeights {  // audio_encoder.layers.<i>
  std::vector<SwinBlockWeights> blocks;
  bool has_downsample = false;
  NormWeights downsample_norm;             // downsample.norm
  LinearWeights downsample_reduction;      // downsample.reduction (no bias)
  int dim = 0, height = 0, width = 0;      // token grid entering the stage
};

struct AffWeights {  // patch_embed.fusion_model (attentional feature fusion, 1x1 convs)
  ConvWeights local_conv1, local_conv2, global_conv1, global_conv2;  // local_att.0/.3, global_att.1/.4
  BatchNormWeights local_bn1, local_bn2, global_bn1, global_bn2;     // local_att.1/.4, global_att.2/.5
};

struct HtsatWeights {  // audio_model.audio_encoder
  BatchNormWeights batch_norm;  // over mel bins
  ConvWeights patch_proj;       // patch_embed.proj
  NormWeights patch_norm;       // patch_embed.norm
  bool fusion = false;
  ConvWeights mel_conv2d;       // patch_embed.mel_conv2d (fused models)
  AffWeights aff;
  std::vector<SwinStageWeights> stages;
  NormWeights final_norm;       // norm
};

HtsatWeights load_htsat(const AudioConfig& config, WeightSource& source, const std::string& prefix);

// The tower's linear layers, and its convolutions as GEMMs over patches, repacked into
// panels for the GEMM kernel. Built from HtsatWeights by pack_htsat and never changed.
struct SwinBlockKernels {
  PackedLinear qkv;  // query, key, value stacked into one layer
  PackedLinear attention_output, intermediate, output;
};

struct SwinStageKernels {
  std::vector<SwinBlockKernels> blocks;
  PackedLinear downsample_reduction;  // empty without downsample
};

struct AffKernels {
  PackedLinear local_conv1, local_conv2, global_conv1, global_conv2;
};

struct HtsatKernels {
  PackedLinear patch_proj;
  PackedLinear mel_conv2d;  // fused models
  AffKernels aff;           // fused models
  std::vector<SwinStageKernels> stages;
};

// Where a packed layer sits, for choosing its element type per layer.
enum class HtsatLayerKind {
  PatchEmbed,  // patch_embed.proj (and mel_conv2d of fused models)
  Fusion,      // the AFF 1x1 convolutions of fused models
  Qkv,         // attention.self.{query,key,value} (input: LayerNorm output)
  Projection,  // attention.output.dense (input: attention context)
  Fc1,         // intermediate.dense (input: LayerNorm output)
  Fc2,         // output.dense (input: GELU output)
  Merge,       // downsample.reduction (input: LayerNorm output)
};
struct HtsatLayer {
  HtsatLayerKind kind;
  int stage = -1, stages = 0;  // stage index (-1 before the Swin stages) and the stage count
};
using HtsatLayerTypes = std::function<WeightType(const HtsatLayer&)>;

// The int8 tower's layer types from a list of the layers that run int8, the others bf16:
// comma-separated kind[@stage], kind one of patch, fusion, qkv, proj, fc1, fc2, merge, all;
// stage a number or "last"; "none" for no layer. E.g. "qkv,proj,fc1,fc2,merge" or "all".
// Throws clap::Error on anything else.
HtsatLayerTypes htsat_int8_layers(const std::string& spec);
// The list Precision::I8 uses (chosen by measurement, see htsat.cpp).
extern const char* const kHtsatInt8Layers;

// Packs every layer (a few hundred ms for the full-size towers, and a copy of the audio
// weights): the model does it once, on the first audio call, so text-only use never pays for
// it. Reads only `weights`. `release` is told about each checkpoint layer once it is packed,
// so the caller can drop its memory-mapped pages and the layer exists once in memory.
// type: the element type of the packed panels (F32, or BF16 for a bf16 audio tower); types:
// per layer.
HtsatKernels pack_htsat(const HtsatWeights& weights, const HtsatLayerTypes& types,
                        const std::function<void(const LinearWeights&)>& release = {});
inline HtsatKernels pack_htsat(const HtsatWeights& weights, WeightType type = WeightType::F32,
                               const std::function<void(const LinearWeights&)>& release = {}) {
  return pack_htsat(weights, [type](const HtsatLayer&) { return type; }, release);
}

// Buffers of one forward pass, owned by the caller and reused across calls: a window's pass
// then allocates nothing large, and multi-megabyte buffers are not page-faulted in again for
// every call or block. One forward pass at a time per scratch.
// One thread's buffers for the chunks of a Swin block it computes (htsat.cpp).
struct SwinThreadScratch {
  std::vector<float> normed, qkv, ctx, mlp, attention;
  LinearScratch linear;
};

struct HtsatScratch {
  std::vector<SwinThreadScratch> threads;  // one per OpenMP thread
  std::vector<float> tokens, merged, merge_input;  // stage activations and patch merging
  std::vector<float> images, mel_norm, patches, local;  // patch embedding
  std::vector<int64_t> source;
  LinearScratch linear;  // the GEMMs' own buffers (bf16 inputs)
};

// Optional capture of intermediate tensors (reference layouts) for parity tests.
using Trace = std::map<std::string, std::vector<float>>;

// input: batch x channels x frames x mels log-mel features (channels 1, or 4 for fused models);
// is_longer: per row, selects the fusion branch (fused models only).
// pooled: batch x hidden_size (mean of the final LayerNorm output over tokens).
void htsat_forward(const AudioConfig& config, const HtsatWeights& weights, const HtsatKernels& kernels,
                   HtsatScratch& scratch, const float* input, int batch, int channels, int frames, int mels,
                   const uint8_t* is_longer, float* pooled, Trace* trace = nullptr);

// Multiply-accumulate count x2 of one window's forward pass (for GFLOP/s reporting).
double htsat_flops_per_window(const AudioConfig& config);

// Rows a thread takes through a Swin block's attention half (whole windows: 128 rows are two
// 64-token windows) or MLP half at a time: the chunk's q/k/v (3 x dim per row) or MLP hidden
// rows (4 x dim) stay in the core's L2 cache between the GEMM that writes them and the step
// that reads them, instead of going out to L3 or memory for a whole group of clips (4.7 MB of
// q/k/v per HTSAT-tiny clip in stage 1). So every GEMM of the tower has about these many rows
// (`clapsearch bench --kernels` times those shapes).
inline constexpr int64_t kHtsatAttentionChunkRows = 128;
inline constexpr int64_t kHtsatMlpChunkRows = 240;

}  // namespace clap
