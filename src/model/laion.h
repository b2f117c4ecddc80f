// LAION's own CLAP checkpoints (the laion_clap training code: 630k-audioset-best.pt,
// music_audioset_epoch_15_esc_90.14.pt, ...) name tensors differently from Hugging Face's
// ClapModel and carry no config. This file maps their names to the engine's (which are
// Hugging Face's) and infers the architecture from tensor shapes. The renaming rules are those of
// transformers' convert_clap_original_pytorch_to_hf.py:
//   text_branch.*                 -> text_model.*             (RoBERTa names are the same)
//   audio_branch.*                -> audio_model.audio_encoder.*
//     bn0                         -> batch_norm
//     blocks.N.norm1 / norm2      -> layernorm_before / layernorm_after
//     attn.qkv [3D, D]            -> attention.self.query / key / value (rows 0..D, D..2D, 2D..3D)
//     attn.proj                   -> attention.output.dense
//     attn.relative_position_*    -> attention.self.relative_position_*
//     mlp.fc1 / mlp.fc2           -> intermediate.dense / output.dense
//   {audio,text}_projection.0 / .2 -> .linear1 / .linear2
//   logit_scale_a / _t            0-d -> [1]
// and drops what the Hugging Face model does not have: the STFT and mel front end
// (spectrogram_extractor, logmel_extractor: clapsearch computes features itself), the AudioSet
// classifier (tscam_conv, head), the shifted blocks' attn_mask buffers and the
// {text,audio}_transform heads.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "model/config.h"

namespace clap::laion {

// True when the checkpoint uses LAION's names (text_branch.* / audio_branch.*).
bool has_laion_names(const Checkpoint& checkpoint);

struct Renaming {
  size_t renamed = 0;                 // tensors kept under their Hugging Face name
  std::vector<std::string> dropped;   // LAION-only tensors left out (see above)
};

// Renames the checkpoint's tensors in place (views: nothing is copied).
Renaming rename_to_hugging_face(Checkpoint& checkpoint);

// Opens a weights file (any format Checkpoint reads) with its tensors in Hugging Face's names:
// LAION's are renamed, others are left as they are. `renaming` (optional) receives what was done.
std::unique_ptr<Checkpoint> open_in_hugging_face_names(const std::string& path, Renaming* renaming = nullptr);

// The architecture that the (Hugging Face-named) tensors imply: HTSAT width from
// patch_embed.proj, depths from the block counts, heads from each stage's
// relative_position_bias_table, window size from its rows, fusion from fusion_model; the text
// tower's sizes from its matrices. Shapes cannot tell the text tower's head count: it is taken as
// hidden_size / 64 (RoBERTa-base: 768 / 64 = 12 heads). Features: LAION's front end (48 kHz, 10 s,
// 1024/480 STFT, 64 mel bins, 50-14000 Hz; "fusion" for fused models, else "rand_trunc").
// Throws clap::Error naming the tensor that is missing or has an unexpected shape.
ClapConfig infer_config(const Checkpoint& checkpoint);

}  // namespace clap::laion
