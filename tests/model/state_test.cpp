// One immutable model, per-call state: concurrent calls from several threads, the state's
// thread count and warning handler, and when the audio weights get packed.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "model/clap.h"
#include "model/clap_impl.h"
#include "support/golden.h"

namespace clap {
namespace {

struct Inputs {
  std::vector<std::vector<float>> clips;
  std::vector<std::span<const float>> spans;
  std::vector<std::string> texts = {"female vocalist", "warm lo-fi guitar", "rock music",
                                    "a much longer query about a slow and sad solo piano piece"};
  Inputs() {
    for (char x : {'a', 'b', 'c', 'd'}) clips.push_back(test::golden_clip(x));
    spans.assign(clips.begin(), clips.end());
  }
};

struct Embeddings {
  std::vector<float> audio, text;
};

Embeddings embed(const ClapModel& model, ClapState& state, const Inputs& in) {
  return {model.embed_audio(state, in.spans, 3), model.embed_text(state, in.texts, 3)};
}

TEST(ClapState, ConcurrentCallsOnOneSharedModelEqualASequentialRun) {
  const Inputs in;
  for (const std::string& name : test::golden_cases()) {
    SCOPED_TRACE(name);
    ClapState sequential_state;
    const Embeddings expected = embed(*ClapModel::load(test::case_dir(name)), sequential_state, in);
    // A fresh model, so that the threads also race for the first audio call (the packing).
    const auto shared = ClapModel::load(test::case_dir(name));
    constexpr int kThreads = 2, kRounds = 2;
    std::vector<std::vector<Embeddings>> got(kThreads);
    std::vector<std::exception_ptr> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        try {
          ClapState state(1 + t);
          for (int round = 0; round < kRounds; ++round) got[t].push_back(embed(*shared, state, in));
        } catch (...) {
          errors[t] = std::current_exception();
        }
      });
    for (auto& thread : threads) thread.join();
    for (int t = 0; t < kThreads; ++t) {
      if (errors[t]) std::rethrow_exception(errors[t]);
      for (const Embeddings& e : got[t]) {
        EXPECT_EQ(e.audio, expected.audio) << "thread " << t;
        EXPECT_EQ(e.text, expected.text) << "thread " << t;
      }
    }
  }
}

TEST(ClapState, ThreadCountDoesNotChangeABitAndStaysWithTheCall) {
  const Inputs in;
  const auto model = ClapModel::load(test::case_dir("tiny-fused"));
  const int before = omp_get_max_threads();
  ClapState one(1), two(2);
  EXPECT_EQ(one.threads(), 1);
  EXPECT_EQ(two.threads(), 2);
  EXPECT_EQ(ClapState().threads(), default_thread_count());
  const Embeddings a = embed(*model, one, in), b = embed(*model, two, in);
  EXPECT_EQ(a.audio, b.audio);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(omp_get_max_threads(), before);  // the calling thread's setting is restored
}

TEST(ClapState, TruncationWarningGoesToTheHandlerAndNothingToStderr) {
  const auto model = ClapModel::load(test::case_dir("tiny-unfused"));
  std::string long_text;
  for (int i = 0; i < 600; ++i) long_text += "word ";
  std::vector<std::string> warnings;
  ClapState state(0, [&](const std::string& message) { warnings.push_back(message); });
  ClapState silent;
  testing::internal::CaptureStderr();
  const auto with_handler = model->embed_text(state, {"female vocalist", long_text, "rock music"});
  const auto dropped = model->embed_text(silent, {long_text});
  const auto convenience = model->embed_text({long_text});
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "text cut to the model's limit of 512 tokens: \"" + long_text.substr(0, 60) + "...\"");
  EXPECT_TRUE(std::equal(dropped.begin(), dropped.end(), with_handler.begin() + model->embedding_dim()));
  EXPECT_EQ(dropped, convenience);
}

TEST(ClapState, AudioWeightsArePackedOnFirstAudioUseOrAtLoadWhenAsked) {
  const Inputs in;
  const auto lazy = ClapModel::load(test::case_dir("tiny-unfused"));
  EXPECT_FALSE(lazy->impl().audio_kernels_built());
  lazy->embed_text(in.texts);
  EXPECT_FALSE(lazy->impl().audio_kernels_built()) << "text-only use must not pack the audio tower";
  const auto audio = lazy->embed_audio(in.spans);
  EXPECT_TRUE(lazy->impl().audio_kernels_built());

  LoadOptions options;
  options.prepare_audio = true;
  const auto prepared = ClapModel::load(test::case_dir("tiny-unfused"), options);
  EXPECT_TRUE(prepared->impl().audio_kernels_built());
  EXPECT_EQ(prepared->embed_audio(in.spans), audio);
}

}  // namespace
}  // namespace clap
