#include "train/finetune.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "train/adamw.h"
#include "train/contrastive.h"

namespace clap::train {
namespace {

// splitmix64: a fixed, portable stream (std::shuffle's algorithm is not specified across libraries).
struct Random {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
  template <typename T>
  void shuffle(std::vector<T>& v) {  // Fisher-Yates
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }
};

// Normalises n rows of d values in place.
void normalize_rows(std::vector<double>& v, int64_t d) {
  for (size_t r = 0; r < v.size() / static_cast<size_t>(d); ++r) {
    double s = 0;
    for (int64_t k = 0; k < d; ++k) s += v[r * d + k] * v[r * d + k];
    const double norm = std::max(std::sqrt(s), 1e-12);
    for (int64_t k = 0; k < d; ++k) v[r * d + k] /= norm;
  }
}

// The track's audio for validation: its windows' mean, normalised (the index's track
// embedding); the windows are the audio head's outputs when one is trained.
std::vector<double> track_audio(const TrackExample& t, int64_t d, const HeadParameters* audio_head) {
  std::vector<double> v(static_cast<size_t>(d), 0.0);
  if (audio_head) {
    HeadActivations acts;
    const int64_t windows = static_cast<int64_t>(t.audio_pooled.size()) / audio_head->in;
    const std::vector<double>& e = head_forward(*audio_head, t.audio_pooled.data(), windows, acts);
    for (int64_t w = 0; w < windows; ++w)
      for (int64_t k = 0; k < d; ++k) v[static_cast<size_t>(k)] += e[w * d + k];
  } else {
    const size_t windows = t.windows.size() / static_cast<size_t>(d);
    for (size_t w = 0; w < windows; ++w)
      for (int64_t k = 0; k < d; ++k) v[static_cast<size_t>(k)] += t.windows[w * d + k];
  }
  normalize_rows(v, d);
  return v;
}

EpochReport evaluate(const std::vector<const TrackExample*>& val, const HeadParameters& head,
                     const HeadParameters* audio_head, double logit_scale, int64_t d) {
  const int64_t n = static_cast<int64_t>(val.size());
  std::vector<double> audio;
  std::vector<float> text_in;
  for (const TrackExample* t : val) {
    const std::vector<double> a = track_audio(*t, d, audio_head);
    audio.insert(audio.end(), a.begin(), a.end());
    text_in.insert(text_in.end(), t->captions.begin(), t->captions.begin() + head.in);  // the first caption
  }
  HeadActivations acts;
  const std::vector<double>& text = head_forward(head, text_in.data(), n, acts);
  const ContrastiveResult c = symmetric_infonce(audio, text, n, d, logit_scale);
  EpochReport r;
  r.val_loss = c.loss;
  std::vector<double> t2a(static_cast<size_t>(n * n)), a2t(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      a2t[i * n + j] = c.logits_per_audio[i * n + j];
      t2a[j * n + i] = c.logits_per_audio[i * n + j];
    }
  r.text_to_audio = retrieval_metrics(t2a, n);
  r.audio_to_text = retrieval_metrics(a2t, n);
  return r;
}

}  // namespace

RetrievalMetrics retrieval_metrics(const std::vector<double>& sim, int64_t n) {
  RetrievalMetrics m;
  for (int64_t i = 0; i < n; ++i) {
    const double target = sim[i * n + i];
    int64_t rank = 1;  // 1 + how many others score at least as high
    for (int64_t j = 0; j < n; ++j)
      if (j != i && sim[i * n + j] >= target) ++rank;
    m.r1 += rank <= 1;
    m.r5 += rank <= 5;
    m.r10 += rank <= 10;
    m.map10 += rank <= 10 ? 1.0 / static_cast<double>(rank) : 0.0;
  }
  m.r1 /= n, m.r5 /= n, m.r10 /= n, m.map10 /= n;
  return m;
}

RetrievalMetrics random_retrieval(int64_t n) {
  RetrievalMetrics m;
  const double dn = static_cast<double>(n);
  m.r1 = std::min(1.0, 1 / dn);
  m.r5 = std::min(1.0, 5 / dn);
  m.r10 = std::min(1.0, 10 / dn);
  for (int64_t r = 1; r <= std::min<int64_t>(10, n); ++r) m.map10 += 1.0 / static_cast<double>(r) / dn;
  return m;
}

namespace {

FineTuneResult run_loop(const std::vector<TrackExample>& tracks, const HeadParameters& initial,
                        const HeadParameters* initial_audio, double logit_scale, const FineTuneSettings& s,
                        const EpochCallback& on_epoch) {
  const int64_t d = initial.out;
  if (initial_audio && initial_audio->out != d)
    throw Error("the audio head's output (" + std::to_string(initial_audio->out) + ") differs from the text head's (" +
                std::to_string(d) + ")");
  // Audio rows of a track: its window embeddings (d values each) or pooled outputs (audio_in).
  const int64_t audio_width = initial_audio ? initial_audio->in : d;
  auto audio_rows = [&](const TrackExample& t) -> const std::vector<float>& {
    return initial_audio ? t.audio_pooled : t.windows;
  };
  std::vector<const TrackExample*> usable;
  for (const TrackExample& t : tracks) {
    if (audio_rows(t).size() % static_cast<size_t>(audio_width) != 0 ||
        t.captions.size() % static_cast<size_t>(initial.in) != 0)
      throw Error("track " + t.name + ": embeddings do not fit the head (" + std::to_string(audio_width) + "-d audio, " +
                  std::to_string(initial.in) + "-d text)");
    if (!audio_rows(t).empty() && !t.captions.empty()) usable.push_back(&t);
  }
  if (usable.size() < 4)
    throw Error("fine-tuning needs at least 4 tracks with audio and a caption (2 to train, 2 to validate); found " +
                std::to_string(usable.size()));
  if (s.batch < 2) throw InvalidArgument("--batch must be at least 2 (the loss contrasts the pairs of a batch)");
  // Validation split by track, seeded.
  Random rng{s.seed};
  std::vector<const TrackExample*> order = usable;
  rng.shuffle(order);
  size_t n_val = static_cast<size_t>(std::llround(s.val_split * static_cast<double>(order.size())));
  n_val = std::clamp<size_t>(n_val, 2, order.size() - 2);
  const std::vector<const TrackExample*> val(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_val));
  const std::vector<const TrackExample*> train(order.begin() + static_cast<std::ptrdiff_t>(n_val), order.end());

  FineTuneResult result;
  result.train_tracks = static_cast<int>(train.size());
  result.val_tracks = static_cast<int>(val.size());
  result.random_baseline = random_retrieval(static_cast<int64_t>(val.size()));
  result.original = evaluate(val, initial, initial_audio, logit_scale, d);
  result.text_head = initial;
  if (initial_audio) result.audio_head = result.last_audio_head = *initial_audio;
  result.logit_scale = logit_scale;
  result.original_logit_scale = logit_scale;
  result.last_text_head = initial;
  result.last_logit_scale = logit_scale;
  if (on_epoch) on_epoch(result.original);

  HeadParameters head = initial;
  HeadParameters audio_head = initial_audio ? *initial_audio : HeadParameters{};
  std::vector<double> scale = {logit_scale};
  AdamW opt({s.lr, 0.9, 0.999, 1e-8, s.weight_decay});
  // In the order of the golden step: text head, audio head, logit scale.
  std::vector<std::vector<double>*> params = {&head.w1, &head.b1, &head.w2, &head.b2};
  if (initial_audio)
    for (auto* p : {&audio_head.w1, &audio_head.b1, &audio_head.w2, &audio_head.b2}) params.push_back(p);
  if (s.train_logit_scale) params.push_back(&scale);
  for (auto* p : params) opt.add(p->size());
  double best = result.original.mean_recall();
  int since_best = 0;
  for (int epoch = 1; epoch <= s.epochs; ++epoch) {
    // One window and one caption per track, then shuffled batches.
    struct Pair {
      const float* audio;
      const float* caption;
    };
    std::vector<Pair> pairs;
    for (const TrackExample* t : train) {
      const size_t w = rng.below(audio_rows(*t).size() / static_cast<size_t>(audio_width));
      const size_t c = rng.below(t->captions.size() / static_cast<size_t>(initial.in));
      pairs.push_back({audio_rows(*t).data() + w * audio_width, t->captions.data() + c * initial.in});
    }
    rng.shuffle(pairs);
    double loss_sum = 0;
    int batches = 0;
    for (size_t start = 0; start + 1 < pairs.size(); start += static_cast<size_t>(s.batch)) {
      const size_t n = std::min(pairs.size() - start, static_cast<size_t>(s.batch));
      if (n < 2) break;
      std::vector<float> audio_in, text_in;
      for (size_t i = start; i < start + n; ++i) {
        audio_in.insert(audio_in.end(), pairs[i].audio, pairs[i].audio + audio_width);
        text_in.insert(text_in.end(), pairs[i].caption, pairs[i].caption + initial.in);
      }
      HeadActivations acts, audio_acts;
      const std::vector<double>& text = head_forward(head, text_in.data(), static_cast<int64_t>(n), acts);
      const std::vector<double> audio =
          initial_audio ? head_forward(audio_head, audio_in.data(), static_cast<int64_t>(n), audio_acts)
                        : std::vector<double>(audio_in.begin(), audio_in.end());
      const ContrastiveResult c = symmetric_infonce(audio, text, static_cast<int64_t>(n), d, scale[0]);
      HeadParameters grad = HeadParameters::zeros_like(head);
      head_backward(head, acts, c.d_text, grad);
      HeadParameters audio_grad;
      std::vector<double> scale_grad = {c.d_logit_scale};
      std::vector<const std::vector<double>*> grads = {&grad.w1, &grad.b1, &grad.w2, &grad.b2};
      if (initial_audio) {
        audio_grad = HeadParameters::zeros_like(audio_head);
        head_backward(audio_head, audio_acts, c.d_audio, audio_grad);
        for (const auto* g : {&audio_grad.w1, &audio_grad.b1, &audio_grad.w2, &audio_grad.b2}) grads.push_back(g);
      }
      if (s.train_logit_scale) grads.push_back(&scale_grad);
      opt.step(params, grads);
      // CLIP clamps the learned temperature so that the scale stays at most 100.
      scale[0] = std::min(scale[0], std::log(100.0));
      loss_sum += c.loss;
      ++batches;
    }
    EpochReport r = evaluate(val, head, initial_audio ? &audio_head : nullptr, scale[0], d);
    r.epoch = epoch;
    r.train_loss = batches ? loss_sum / batches : 0;
    result.epochs.push_back(r);
    result.last_text_head = head;
    if (initial_audio) result.last_audio_head = audio_head;
    result.last_logit_scale = scale[0];
    if (on_epoch) on_epoch(r);
    if (r.mean_recall() > best) {
      best = r.mean_recall();
      result.best_epoch = epoch;
      result.text_head = head;
      if (initial_audio) result.audio_head = audio_head;
      result.logit_scale = scale[0];
      since_best = 0;
    } else if (++since_best >= s.patience) {
      result.stopped_early = epoch < s.epochs;
      break;
    }
  }
  return result;
}

}  // namespace

FineTuneResult finetune_text_head(const std::vector<TrackExample>& tracks, const HeadParameters& text_head,
                                  double logit_scale, const FineTuneSettings& settings, const EpochCallback& on_epoch) {
  return run_loop(tracks, text_head, nullptr, logit_scale, settings, on_epoch);
}

FineTuneResult finetune_heads(const std::vector<TrackExample>& tracks, const HeadParameters& text_head,
                              const HeadParameters& audio_head, double logit_scale, const FineTuneSettings& settings,
                              const EpochCallback& on_epoch) {
  return run_loop(tracks, text_head, &audio_head, logit_scale, settings, on_epoch);
}

}  // namespace clap::train
