// The speech/music score of a track (issue 38): how much a track sounds like talking rather than
// music, zero-shot against a fixed set of prompts, stored with the track (store::Track::speech)
// for filters (`--where 'speech > 0.8'`) and the music-only rule.
//
// The rule, CLAP's zero-shot recipe (search/classify.h) with several prompts per class: with t
// the track embedding (unit length), p₁…p₁₆ the prompts' text embeddings (unit length; the eight
// speech prompts, then the eight music prompts), s the model's audio logit scale
// (ClapModel::logit_scale_audio(), exp(logit_scale_a)):
//
//   speech = Σ over the speech prompts i of  exp(s·cos(t, pᵢ)) / Σ over all 16 prompts j of exp(s·cos(t, pⱼ))
//
// the probability the softmax over all prompts gives the speech prompts together: in [0, 1], 0.5
// when the track is as near the one set as the other (the sets have as many prompts, so neither
// is favoured by its size). Per track, from the stored track embedding (the normalised mean of
// its non-silent windows): no audio is decoded, and a track with no embedding (an error, silent
// throughout) has no score.
//
// When: at the end of every index run (and of every worker's batch of jobs), for every ok track
// with an embedding and no score (Store::tracks_without_speech): new and changed files, tracks a
// later pass gave more windows (add_windows clears the score: coverage changed, so did the track
// embedding), tracks indexed before scores were stored, every track after an embedding set was
// activated. A run that finds every track scored loads no model for it.
//
// Calibration needs a real CLAP checkpoint: with the random-weight test models the value is
// well defined and reproducible but means nothing (tests check the plumbing, not a threshold).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/clap.h"
#include "store/store.h"

namespace clap::index {

// The fixed prompts, in order (the score depends on them: changing them is a new score for
// every track, see above). Eight each.
const std::vector<std::string>& speech_prompts();
const std::vector<std::string>& music_prompts();

// The score of one track embedding (dim floats, unit length) against `prompts`, the text
// embeddings of speech_prompts() then music_prompts() (16 × dim, unit length).
double speech_score(const float* track, int dim, const float* prompts, double logit_scale);

// Scores every ok track with an embedding and none (above) and stores them; returns how many.
// The prompts' embeddings come from the index's text cache under `model_key` (the key queries
// use: ModelIdentity::model_key(), fp32 text), so only the first run of a model embeds them:
// `model` is loaded only when a track needs a score and a prompt is not cached, and what it
// embeds is cached (an index run then never loads the text tower, ~0.35 GB for RoBERTa-base,
// beside the audio tower). A model without a tokenizer cannot embed the prompts: nothing is
// scored, and `warning` says why.
int64_t refresh_speech_scores(store::Store& store, const std::string& model_key,
                              const std::function<const ClapModel&()>& model, std::string& warning);

}  // namespace clap::index
