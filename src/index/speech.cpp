#include "index/speech.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace clap::index {

const std::vector<std::string>& speech_prompts() {
  static const std::vector<std::string> p = {
      "a person speaking",      "a man talking",          "a woman talking",  "people having a conversation",
      "a podcast",              "an audiobook being read aloud", "a radio talk show", "a lecture",
  };
  return p;
}

const std::vector<std::string>& music_prompts() {
  static const std::vector<std::string> p = {
      "music",           "a song",           "instrumental music",  "a band playing",
      "a singer singing with music", "an orchestra playing", "electronic music", "a piano piece",
  };
  return p;
}

double speech_score(const float* track, int dim, const float* prompts, double logit_scale) {
  const size_t n_speech = speech_prompts().size(), n = n_speech + music_prompts().size();
  std::vector<double> logits(n);
  for (size_t j = 0; j < n; ++j) {
    double dot = 0;
    for (int i = 0; i < dim; ++i) dot += double(track[i]) * double(prompts[j * static_cast<size_t>(dim) + static_cast<size_t>(i)]);
    logits[j] = logit_scale * dot;
  }
  // The softmax with the largest logit subtracted (no overflow whatever the scale).
  const double top = *std::max_element(logits.begin(), logits.end());
  double speech = 0, all = 0;
  for (size_t j = 0; j < n; ++j) {
    const double e = std::exp(logits[j] - top);
    all += e;
    if (j < n_speech) speech += e;
  }
  const double score = speech / all;
  if (!std::isfinite(score)) throw Error("speech score: not a finite number (an embedding that is not finite)");
  return std::clamp(score, 0.0, 1.0);
}

namespace {

// The 16 prompts' embeddings from the text cache, or empty when one is missing.
std::vector<float> cached_prompts(const store::Store& store, const std::string& model_key,
                                  const std::vector<std::string>& prompts, int dim) {
  std::vector<float> out;
  if (model_key.empty()) return out;
  for (const std::string& p : prompts) {
    const std::optional<std::vector<float>> e = store.cached_text(model_key, p);
    if (!e || static_cast<int>(e->size()) != dim) return {};
    out.insert(out.end(), e->begin(), e->end());
  }
  return out;
}

}  // namespace

int64_t refresh_speech_scores(store::Store& store, const std::string& model_key,
                              const std::function<const ClapModel&()>& model, std::string& warning) {
  const Embeddings tracks = store.tracks_without_speech();
  if (tracks.size() == 0) return 0;
  std::vector<std::string> prompts = speech_prompts();
  prompts.insert(prompts.end(), music_prompts().begin(), music_prompts().end());
  std::vector<float> text = cached_prompts(store, model_key, prompts, tracks.dim);
  const ClapModel& m = model();  // the audio logit scale; the text tower runs only on a cache miss
  if (text.empty()) {
    if (!m.has_tokenizer()) {
      warning = std::to_string(tracks.size()) +
                " tracks have no speech score: the model has no tokenizer to embed the prompts with (give --tokenizer)";
      return 0;
    }
    text = m.embed_text(prompts);
    if (static_cast<int64_t>(text.size()) != static_cast<int64_t>(prompts.size()) * tracks.dim)
      throw Error("speech score: the model's text embeddings are not of the index's dimension");
    if (!model_key.empty() && !store.read_only()) {
      try {
        std::vector<store::CachedText> entries;
        for (size_t i = 0; i < prompts.size(); ++i)
          entries.push_back({model_key, prompts[i],
                             std::vector<float>(text.begin() + static_cast<std::ptrdiff_t>(i * tracks.dim),
                                                text.begin() + static_cast<std::ptrdiff_t>((i + 1) * tracks.dim))});
        store.put_cached_texts(entries);
      } catch (const Error&) {
        // Not cached: the next run embeds the prompts again; the scores below are stored anyway.
      }
    }
  }
  const double scale = m.logit_scale_audio();
  std::vector<std::pair<int64_t, double>> scores;
  scores.reserve(static_cast<size_t>(tracks.size()));
  for (int64_t r = 0; r < tracks.size(); ++r)
    scores.emplace_back(tracks.ids[static_cast<size_t>(r)], speech_score(tracks.row(r), tracks.dim, text.data(), scale));
  // In batches: each is one transaction (a long library write would hold readers' refresh back).
  constexpr size_t kBatch = 4096;
  for (size_t at = 0; at < scores.size(); at += kBatch)
    store.put_speech({scores.begin() + static_cast<std::ptrdiff_t>(at),
                      scores.begin() + static_cast<std::ptrdiff_t>(std::min(scores.size(), at + kBatch))});
  return static_cast<int64_t>(scores.size());
}

}  // namespace clap::index
