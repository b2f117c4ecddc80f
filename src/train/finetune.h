// Fine-tuning the text projection head (and the logit scale) on a library's own captions, with
// the audio side frozen: each track's window embeddings, as the index stores them, stay valid,
// so the tuned model applies to the existing index without re-embedding (issue: fine-tuning).
// The loop: per epoch, one window and one caption per training track (sampled with the seed),
// shuffled batches, symmetric InfoNCE, AdamW; after every epoch, text->audio and audio->text
// Recall@1/5/10 and mAP@10 on a validation split by track, with early stopping on their mean.
// Deterministic: the same data and settings give the same weights, bit for bit.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "train/projection_head.h"

namespace clap::train {

struct TrackExample {
  std::string name;             // for reports
  std::vector<float> windows;   // [w, d] normalised audio embeddings (the index's windows, silent ones left out)
  std::vector<float> captions;  // [c, text_in] the text tower's pooled outputs of the track's captions
  // [w, audio_in] the audio tower's pooled outputs of the same windows: what the audio head is
  // trained on (finetune_heads with an audio head; `windows` is then not used).
  std::vector<float> audio_pooled;
};

struct FineTuneSettings {
  int epochs = 10;
  int batch = 32;
  double lr = 1e-4;
  double weight_decay = 0.01;
  double val_split = 0.2;  // share of tracks held out (by track, seeded), at least 2 tracks
  int patience = 2;        // epochs without a better validation mean recall before stopping
  uint64_t seed = 0;
  bool train_logit_scale = true;
};

struct RetrievalMetrics {
  double r1 = 0, r5 = 0, r10 = 0, map10 = 0;
  double mean_recall() const { return (r1 + r5 + r10) / 3; }
};

struct EpochReport {
  int epoch = 0;           // 0 = the original model
  double train_loss = 0;   // mean over the epoch's batches (0 for epoch 0)
  double val_loss = 0;     // symmetric InfoNCE over the whole validation set
  RetrievalMetrics text_to_audio, audio_to_text;
  double mean_recall() const { return (text_to_audio.mean_recall() + audio_to_text.mean_recall()) / 2; }
};

struct FineTuneResult {
  HeadParameters text_head;  // the best epoch's (the original when none beat it)
  HeadParameters audio_head;  // likewise, when the audio head was trained (else empty)
  HeadParameters last_audio_head;
  double logit_scale = 0;           // the best epoch's (log scale)
  double original_logit_scale = 0;
  HeadParameters last_text_head;   // the last epoch run (what --keep-anyway writes when no epoch beat the original)
  double last_logit_scale = 0;
  int train_tracks = 0, val_tracks = 0;
  EpochReport original;            // before the first epoch
  RetrievalMetrics random_baseline;  // the expected figures of a random ranking of the validation set
  std::vector<EpochReport> epochs;
  int best_epoch = 0;              // 0: no epoch beat the original
  bool stopped_early = false;
};

using EpochCallback = std::function<void(const EpochReport&)>;

// Throws clap::Error when there are fewer than 4 usable tracks (2 to train, 2 to validate) or the
// shapes do not fit the head.
FineTuneResult finetune_text_head(const std::vector<TrackExample>& tracks, const HeadParameters& text_head,
                                  double logit_scale, const FineTuneSettings& settings,
                                  const EpochCallback& on_epoch = nullptr);

// Both heads: the audio side's embeddings are the audio head applied to each window's pooled
// output (TrackExample::audio_pooled), normalised; a validation track's audio is the mean of
// its windows' embeddings, normalised, as the index makes a track's. The same loop otherwise.
FineTuneResult finetune_heads(const std::vector<TrackExample>& tracks, const HeadParameters& text_head,
                              const HeadParameters& audio_head, double logit_scale, const FineTuneSettings& settings,
                              const EpochCallback& on_epoch = nullptr);

// Recall@1/5/10 and mAP@10 (one relevant item per query) of an n x n similarity matrix whose
// diagonal holds the matches, row i = query i. Ties rank the match after equal scores.
RetrievalMetrics retrieval_metrics(const std::vector<double>& similarity, int64_t n);
RetrievalMetrics random_retrieval(int64_t n);

}  // namespace clap::train
