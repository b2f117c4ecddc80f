// Zero-shot tagging: the CLAP recipe. Each label becomes a sentence through a template, is
// embedded by the text tower, and an audio embedding's probabilities are
//   softmax over labels of  logit_scale · cosine(audio, text(label)).
// Use ClapModel::logit_scale_audio() (exp(logit_scale_a)): it is the scale of logits_per_audio,
// the audio-to-labels direction, in the reference implementation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "search/topk.h"

namespace clap::search {

inline constexpr const char* kDefaultLabelTemplate = "This audio is a {} song.";

// The template with every "{}" replaced by the label. Throws clap::Error if it has no "{}".
std::string format_prompt(const std::string& templ, const std::string& label);
std::vector<std::string> format_prompts(const std::string& templ, const std::vector<std::string>& labels);

struct Classification {
  std::vector<double> probabilities;  // one per label, in label order; sums to 1
  std::vector<Hit> top;               // the `top` best labels: id = label index, score = probability
};

// n audio embeddings (n × dim) against n_labels label text embeddings (n_labels × dim).
std::vector<Classification> classify(int64_t n, const float* audio, int64_t n_labels, const float* label_text, int dim,
                                     double logit_scale, int64_t top = 3);

}  // namespace clap::search
