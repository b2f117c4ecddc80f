// Zero-shot classification (softmax by hand) and evaluation metrics on tiny hand-made cases,
// including the random baselines checked against an exhaustive enumeration of rankings.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "search/classify.h"
#include "search/eval.h"
#include "test_util.h"

namespace clap::search {
namespace {

using test::e;
using test::h;

std::vector<float> rows(const std::vector<std::vector<float>>& vs) {
  std::vector<float> out;
  for (const auto& v : vs) out.insert(out.end(), v.begin(), v.end());
  return out;
}

TEST(Classify, PromptTemplate) {
  EXPECT_STREQ(kDefaultLabelTemplate, "This audio is a {} song.");
  EXPECT_EQ(format_prompt(kDefaultLabelTemplate, "rock"), "This audio is a rock song.");
  EXPECT_EQ(format_prompt("{} and {}", "jazz"), "jazz and jazz");
  EXPECT_EQ(format_prompts("{} music", {"a", "b"}), (std::vector<std::string>{"a music", "b music"}));
  EXPECT_THROW(format_prompt("no slot", "rock"), Error);
}

TEST(Classify, SoftmaxOfScaledCosinesByHand) {
  // audio e0 against labels e0 (cos 1), (½,½,½,½) (cos 0.5), e1 (cos 0); logit scale 10.
  const auto audio = e(0);
  const auto labels = rows({e(0), h(1, 1, 1, 1), e(1)});
  const auto r = classify(1, audio.data(), 3, labels.data(), 4, 10.0, 2);
  ASSERT_EQ(r.size(), 1u);
  const double z = std::exp(10.0) + std::exp(5.0) + std::exp(0.0);
  ASSERT_EQ(r[0].probabilities.size(), 3u);
  EXPECT_NEAR(r[0].probabilities[0], std::exp(10.0) / z, 1e-12);
  EXPECT_NEAR(r[0].probabilities[1], std::exp(5.0) / z, 1e-12);
  EXPECT_NEAR(r[0].probabilities[2], 1.0 / z, 1e-12);
  EXPECT_NEAR(std::accumulate(r[0].probabilities.begin(), r[0].probabilities.end(), 0.0), 1.0, 1e-12);
  ASSERT_EQ(r[0].top.size(), 2u);
  EXPECT_EQ(r[0].top[0].id, 0);
  EXPECT_EQ(r[0].top[1].id, 1);
  EXPECT_EQ(r[0].top[0].score, r[0].probabilities[0]);
}

TEST(Classify, ManyClipsSumToOneAndTiesGoToTheFirstLabel) {
  const auto audio = test::random_unit(20, 16, 5);
  const auto labels = test::random_unit(7, 16, 6);
  for (const auto& c : classify(20, audio.data(), 7, labels.data(), 16, 100.0, 3)) {
    EXPECT_NEAR(std::accumulate(c.probabilities.begin(), c.probabilities.end(), 0.0), 1.0, 1e-9);
    EXPECT_EQ(c.top.size(), 3u);
    EXPECT_GE(c.top[0].score, c.top[1].score);
  }
  // e2 is orthogonal to e0 and e1: equal probabilities, label 0 ranks first.
  const auto a = e(2);
  const auto two = rows({e(0), e(1)});
  const auto r = classify(1, a.data(), 2, two.data(), 4, 30.0, 2)[0];
  EXPECT_DOUBLE_EQ(r.probabilities[0], 0.5);
  EXPECT_EQ(r.top[0].id, 0);
  EXPECT_EQ(predicted_labels({r}), (std::vector<int64_t>{0}));
}

TEST(EvalZeroShot, AccuracyPerClassAndConfusionByHand) {
  // truth 0 0 1 1 2 2, predicted 0 1 1 1 0 2; a fourth class has no items.
  const auto z = evaluate_zero_shot({0, 0, 1, 1, 2, 2}, {0, 1, 1, 1, 0, 2}, 4);
  EXPECT_EQ(z.n, 6);
  EXPECT_EQ(z.correct, 4);
  EXPECT_DOUBLE_EQ(z.accuracy, 4.0 / 6);
  EXPECT_EQ(z.support, (std::vector<int64_t>{2, 2, 2, 0}));
  EXPECT_DOUBLE_EQ(z.per_class_accuracy[0], 0.5);
  EXPECT_DOUBLE_EQ(z.per_class_accuracy[1], 1.0);
  EXPECT_DOUBLE_EQ(z.per_class_accuracy[2], 0.5);
  EXPECT_TRUE(std::isnan(z.per_class_accuracy[3]));
  EXPECT_DOUBLE_EQ(z.balanced_accuracy, 2.0 / 3);
  // Rows = truth, columns = predicted.
  EXPECT_EQ(z.confusion, (std::vector<int64_t>{1, 1, 0, 0,  //
                                               0, 2, 0, 0,  //
                                               1, 0, 1, 0,  //
                                               0, 0, 0, 0}));
  EXPECT_EQ(z.confusion_at(2, 0), 1);
  EXPECT_THROW(evaluate_zero_shot({0, 5}, {0, 0}, 4), Error);
  EXPECT_THROW(evaluate_zero_shot({0}, {0, 0}, 4), Error);
}

TEST(EvalRetrieval, RecallAndMapByHand) {
  // Audio a0 = e0, a1 = e1, a2 = e2. Captions: t0 = e0 (of a0), t1 = (½,½,½,½) (of a1),
  // t2 = e3 (of a2), t3 = e2 (of a2: a second caption).
  const auto audio = rows({e(0), e(1), e(2)});
  const auto text = rows({e(0), h(1, 1, 1, 1), e(3), e(2)});
  const RetrievalEval r = evaluate_retrieval(3, audio.data(), 4, text.data(), 4, {0, 1, 2, 2});
  // Text -> audio ranks of the right audio (ties by index):
  //   t0: a0 first (1); t1: all 0.5 -> a0, a1, a2 -> a1 at rank 2; t2: all 0 -> a2 at rank 3;
  //   t3: a2 first (1).
  EXPECT_EQ(r.text_to_audio.n_queries, 4);
  EXPECT_EQ(r.text_to_audio.n_candidates, 3);
  EXPECT_DOUBLE_EQ(r.text_to_audio.model.r1, 2.0 / 4);
  EXPECT_DOUBLE_EQ(r.text_to_audio.model.r5, 1.0);
  EXPECT_DOUBLE_EQ(r.text_to_audio.model.r10, 1.0);
  EXPECT_DOUBLE_EQ(r.text_to_audio.model.map10, (1 + 0.5 + 1.0 / 3 + 1) / 4);
  // Random: N = 3, R = 1 -> R@1 = 1/3, R@5 = R@10 = 1, mAP@10 = H_3 / 3.
  EXPECT_DOUBLE_EQ(r.text_to_audio.random.r1, 1.0 / 3);
  EXPECT_DOUBLE_EQ(r.text_to_audio.random.r5, 1.0);
  EXPECT_NEAR(r.text_to_audio.random.map10, (1 + 0.5 + 1.0 / 3) / 3, 1e-12);
  // Audio -> text:
  //   a0: t0 1, t1 .5 -> t0 rank 1 (AP 1); a1: t1 .5 first -> AP 1;
  //   a2 (relevant t2, t3): t3 1, t1 .5, t0 0, t2 0 -> ranks 1 and 4: AP = (1/1 + 2/4) / 2 = 0.75.
  EXPECT_EQ(r.audio_to_text.n_queries, 3);
  EXPECT_DOUBLE_EQ(r.audio_to_text.model.r1, 1.0);
  EXPECT_DOUBLE_EQ(r.audio_to_text.model.map10, (1 + 1 + 0.75) / 3);
  // Random, N = 4: R = 1 -> R@1 = 1/4; R = 2 -> R@1 = 2/4. Mean (1/4 + 1/4 + 1/2) / 3.
  EXPECT_DOUBLE_EQ(r.audio_to_text.random.r1, (0.25 + 0.25 + 0.5) / 3);
  EXPECT_THROW(evaluate_retrieval(3, audio.data(), 4, text.data(), 4, {0, 1, 2, 3}), Error);
}

TEST(EvalRetrieval, RandomBaselineClosedFormMatchesEnumeration) {
  // Average R@k and AP@10 over every ranking of N items with the first R relevant.
  for (auto [n, rel] : std::vector<std::pair<int, int>>{{5, 1}, {5, 2}, {6, 3}, {7, 2}}) {
    std::vector<int> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    double r1 = 0, r5 = 0, map = 0, count = 0;
    do {
      int first = -1, hits = 0;
      double ap = 0;
      for (int i = 0; i < std::min(n, 10); ++i)
        if (perm[i] < rel) {
          if (first < 0) first = i;
          ap += static_cast<double>(++hits) / (i + 1);
        }
      r1 += first == 0;
      r5 += first >= 0 && first < 5;
      map += ap / std::min(rel, 10);
      ++count;
    } while (std::next_permutation(perm.begin(), perm.end()));
    const RetrievalScores s = random_retrieval_scores(n, rel);
    EXPECT_NEAR(s.r1, r1 / count, 1e-12) << n << " " << rel;
    EXPECT_NEAR(s.r5, r5 / count, 1e-12) << n << " " << rel;
    EXPECT_NEAR(s.map10, map / count, 1e-12) << n << " " << rel;
  }
  // One relevant item: R@k = k / N and mAP@10 = H_10 / N.
  const RetrievalScores s = random_retrieval_scores(1000, 1);
  EXPECT_NEAR(s.r1, 0.001, 1e-14);
  EXPECT_NEAR(s.r5, 0.005, 1e-14);
  EXPECT_NEAR(s.r10, 0.010, 1e-14);
  double h10 = 0;
  for (int i = 1; i <= 10; ++i) h10 += 1.0 / i;
  EXPECT_NEAR(s.map10, h10 / 1000, 1e-14);
}

}  // namespace
}  // namespace clap::search
