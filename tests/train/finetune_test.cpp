// The fine-tuning loop on a problem it can learn: tracks whose captions are a fixed linear map
// of their audio plus noise, seen through a random text head. Training must lift validation
// recall well above both the original head and chance, deterministically, and a run that
// cannot improve must say so and keep the original.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "train/finetune.h"

namespace clap::train {
namespace {

struct Problem {
  std::vector<TrackExample> tracks;
  HeadParameters head;
};

// A fixed stream of uniform values in [-1, 1).
struct Uniform {
  uint64_t state;
  double operator()() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(state >> 11) / double(1ull << 53) * 2 - 1;
  }
};

// A random head of the given shape (the scales of a freshly initialised one).
HeadParameters random_head(int64_t in, int64_t hidden, int64_t out, Uniform& uniform) {
  HeadParameters h;
  h.in = in, h.hidden = hidden, h.out = out;
  for (int64_t i = 0; i < hidden * in; ++i) h.w1.push_back(0.3 * uniform());
  for (int64_t i = 0; i < hidden; ++i) h.b1.push_back(0.1 * uniform());
  for (int64_t i = 0; i < out * hidden; ++i) h.w2.push_back(0.2 * uniform());
  for (int64_t i = 0; i < out; ++i) h.b2.push_back(0.1 * uniform());
  return h;
}

Problem make_problem(int tracks, uint64_t seed) {
  Uniform uniform{seed};
  const int d = 16, text_in = 12, hidden = 32;
  std::vector<double> map(text_in * d);
  for (double& x : map) x = uniform();
  Problem p;
  for (int t = 0; t < tracks; ++t) {
    TrackExample ex;
    ex.name = "track " + std::to_string(t);
    std::vector<double> u(d);
    double s = 0;
    for (double& x : u) x = uniform(), s += x * x;
    for (double& x : u) x /= std::sqrt(s);
    for (int w = 0; w < 3; ++w) {  // windows: the track's direction plus a little noise, normalised
      std::vector<double> v(d);
      double n = 0;
      for (int k = 0; k < d; ++k) v[k] = u[k] + 0.1 * uniform(), n += v[k] * v[k];
      for (int k = 0; k < d; ++k) ex.windows.push_back(static_cast<float>(v[k] / std::sqrt(n)));
    }
    for (int c = 0; c < 2; ++c)  // captions: the map of the direction plus noise
      for (int i = 0; i < text_in; ++i) {
        double x = 0;
        for (int k = 0; k < d; ++k) x += map[i * d + k] * u[k];
        ex.captions.push_back(static_cast<float>(x + 0.05 * uniform()));
      }
    p.tracks.push_back(std::move(ex));
  }
  p.head = random_head(text_in, hidden, d, uniform);
  return p;
}

TEST(FineTuneLoop, LearnsALearnableMappingDeterministically) {
  const Problem p = make_problem(80, 7);
  FineTuneSettings s;
  s.epochs = 40;
  s.batch = 16;
  s.lr = 3e-3;
  s.patience = 6;
  s.seed = 3;
  std::vector<EpochReport> seen;
  const FineTuneResult r = finetune_text_head(p.tracks, p.head, std::log(10.0), s, [&](const EpochReport& e) { seen.push_back(e); });
  EXPECT_EQ(r.val_tracks, 16);
  EXPECT_EQ(r.train_tracks, 64);
  ASSERT_FALSE(r.epochs.empty());
  EXPECT_EQ(seen.size(), r.epochs.size() + 1);  // the original first, then every epoch
  EXPECT_EQ(seen.front().epoch, 0);
  ASSERT_GT(r.best_epoch, 0);
  const EpochReport& best = r.epochs[static_cast<size_t>(r.best_epoch - 1)];
  // Far above the random head and above chance (R@1 of a random ranking of 16 = 1/16).
  EXPECT_GT(best.mean_recall(), r.original.mean_recall() + 0.3) << best.mean_recall() << " vs " << r.original.mean_recall();
  EXPECT_GT(best.text_to_audio.r1, 4 * r.random_baseline.r1);
  EXPECT_LT(best.val_loss, r.original.val_loss);
  EXPECT_LT(r.epochs.back().train_loss, r.epochs.front().train_loss);
  // The same command gives the same model, bit for bit.
  const FineTuneResult again = finetune_text_head(p.tracks, p.head, std::log(10.0), s);
  EXPECT_EQ(again.text_head.w1, r.text_head.w1);
  EXPECT_EQ(again.text_head.w2, r.text_head.w2);
  EXPECT_EQ(again.logit_scale, r.logit_scale);
  EXPECT_EQ(again.best_epoch, r.best_epoch);
}

TEST(FineTuneLoop, NoImprovementKeepsTheOriginalAndStopsEarly) {
  const Problem p = make_problem(20, 11);
  FineTuneSettings s;
  s.epochs = 10;
  s.lr = 0;  // nothing can change
  s.weight_decay = 0;
  s.patience = 2;
  const FineTuneResult r = finetune_text_head(p.tracks, p.head, std::log(10.0), s);
  EXPECT_EQ(r.best_epoch, 0);
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(r.epochs.size(), 2u);
  EXPECT_EQ(r.text_head.w1, p.head.w1);
  EXPECT_EQ(r.epochs[0].mean_recall(), r.original.mean_recall());
}

// Both heads: the audio side seen through pooled outputs (another fixed map of the track's
// direction) and a random audio head. Training both must lift recall; the text-only run on the
// same tracks cannot touch the audio head.
TEST(FineTuneLoop, TrainsBothHeadsOnPooledAudio) {
  Problem p = make_problem(80, 5);
  Uniform uniform{99};
  const int d = 16, audio_in = 10, hidden = 24;
  std::vector<double> map(audio_in * d);
  for (double& x : map) x = uniform();
  for (TrackExample& t : p.tracks)  // pooled rows: the map of each window
    for (size_t w = 0; w < t.windows.size() / d; ++w)
      for (int i = 0; i < audio_in; ++i) {
        double x = 0;
        for (int k = 0; k < d; ++k) x += map[i * d + k] * t.windows[w * d + k];
        t.audio_pooled.push_back(static_cast<float>(x));
      }
  const HeadParameters audio = random_head(audio_in, hidden, d, uniform);
  FineTuneSettings s;
  s.epochs = 40;
  s.batch = 16;
  s.lr = 3e-3;
  s.patience = 6;
  const FineTuneResult r = finetune_heads(p.tracks, p.head, audio, std::log(10.0), s);
  ASSERT_GT(r.best_epoch, 0);
  const EpochReport& best = r.epochs[static_cast<size_t>(r.best_epoch - 1)];
  EXPECT_GT(best.mean_recall(), r.original.mean_recall() + 0.3) << best.mean_recall() << " vs " << r.original.mean_recall();
  EXPECT_NE(r.audio_head.w1, audio.w1);
  EXPECT_NE(r.text_head.w1, p.head.w1);
  const FineTuneResult again = finetune_heads(p.tracks, p.head, audio, std::log(10.0), s);
  EXPECT_EQ(again.audio_head.w2, r.audio_head.w2);
  EXPECT_EQ(again.text_head.w2, r.text_head.w2);
  // Text only: the audio rows are the windows, and no audio head comes back.
  const FineTuneResult text_only = finetune_text_head(p.tracks, p.head, std::log(10.0), s);
  EXPECT_TRUE(text_only.audio_head.w1.empty());
}

TEST(FineTuneLoop, MetricsAndLimits) {
  // Diagonal best everywhere: perfect; a reversed order: the match ranks last.
  std::vector<double> sim = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  RetrievalMetrics m = retrieval_metrics(sim, 3);
  EXPECT_EQ(m.r1, 1.0);
  EXPECT_EQ(m.map10, 1.0);
  sim = {0, 1, 1, 1, 0, 1, 1, 1, 0};
  m = retrieval_metrics(sim, 3);
  EXPECT_EQ(m.r1, 0.0);
  EXPECT_EQ(m.r5, 1.0);
  EXPECT_NEAR(m.map10, 1.0 / 3, 1e-12);
  const RetrievalMetrics chance = random_retrieval(20);
  EXPECT_NEAR(chance.r1, 0.05, 1e-12);
  EXPECT_NEAR(chance.r5, 0.25, 1e-12);
  EXPECT_NEAR(chance.r10, 0.5, 1e-12);  // the study's random baseline for 20 clips
  const Problem p = make_problem(3, 1);
  EXPECT_THROW(finetune_text_head(p.tracks, p.head, 1.0, {}), Error);
}

}  // namespace
}  // namespace clap::train
