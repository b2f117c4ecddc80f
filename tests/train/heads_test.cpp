// The fine-tuning step against PyTorch: tests/data/finetune/ holds one step of training
// both projection heads and logit_scale_a with the symmetric InfoNCE loss, computed by autograd
// in float64, and the weights after one AdamW step. The gradients are also checked against
// finite differences, so they are right for other shapes than the golden one.
#include <gtest/gtest.h>

#include <cmath>

#include "checkpoint/checkpoint.h"
#include "support/golden.h"
#include "train/adamw.h"
#include "train/contrastive.h"
#include "train/projection_head.h"

namespace clap::train {
namespace {

constexpr double kLossRel = 1e-5, kGradRel = 1e-5, kStepRel = 1e-6;  // the tolerances

const Checkpoint& golden_step() {
  static const auto c = Checkpoint::open(test::golden_dir() + "/finetune/heads.safetensors");
  return *c;
}

std::vector<float> floats(const std::string& name) { return tensor_to_float(*golden_step().find(name)); }

// max |got - ref| / max |ref| over a tensor.
double relative_error(const std::vector<double>& got, const std::vector<float>& ref) {
  EXPECT_EQ(got.size(), ref.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < std::min(got.size(), ref.size()); ++i) {
    diff = std::max(diff, std::fabs(got[i] - ref[i]));
    scale = std::max(scale, std::fabs(double(ref[i])));
  }
  return diff / scale;
}

struct Step {
  HeadParameters audio, text, audio_grad, text_grad;
  double logit_scale = 0, logit_scale_grad = 0;
  ContrastiveResult loss;
  HeadActivations audio_acts, text_acts;
};

Step run_step(const HeadParameters& audio, const HeadParameters& text, double logit_scale, const std::vector<float>& a_in,
              const std::vector<float>& t_in, int64_t n) {
  Step s;
  s.audio = audio;
  s.text = text;
  s.logit_scale = logit_scale;
  const auto& a = head_forward(s.audio, a_in.data(), n, s.audio_acts);
  const auto& t = head_forward(s.text, t_in.data(), n, s.text_acts);
  s.loss = symmetric_infonce(a, t, n, s.audio.out, s.logit_scale);
  s.audio_grad = HeadParameters::zeros_like(s.audio);
  s.text_grad = HeadParameters::zeros_like(s.text);
  head_backward(s.audio, s.audio_acts, s.loss.d_audio, s.audio_grad);
  head_backward(s.text, s.text_acts, s.loss.d_text, s.text_grad);
  s.logit_scale_grad = s.loss.d_logit_scale;
  return s;
}

// The step starts from the tiny-unfused model's heads and logit_scale_a, as the golden README
// says. (heads.safetensors' own copies of those tensors hold the values *after* the step -- they
// equal after_adamw.* bit for bit, the generator saved parameters the optimizer had updated in
// place -- so they are not the starting point: from them, the stored embeddings are off by 0.016,
// from the model's by 8e-9.)
TEST(FineTuneStep, LossGradientsAndAdamWMatchPyTorch) {
  const auto model = Checkpoint::open(test::case_dir("tiny-unfused") + "/model.safetensors");
  const HeadParameters audio = HeadParameters::from_checkpoint(*model, "audio_projection");
  const HeadParameters text = HeadParameters::from_checkpoint(*model, "text_projection");
  const double logit_scale = tensor_to_float(*model->find("logit_scale_a"))[0];
  const int64_t n = 16;
  Step s = run_step(audio, text, logit_scale, floats("audio_pooled"), floats("text_pooled"), n);

  EXPECT_LE(relative_error(s.audio_acts.embedded, floats("audio_embeds")), 1e-6);
  EXPECT_LE(relative_error(s.text_acts.embedded, floats("text_embeds")), 1e-6);
  EXPECT_LE(relative_error(s.loss.logits_per_audio, floats("logits_per_audio")), 1e-6);
  EXPECT_LE(std::fabs(s.loss.loss - floats("loss")[0]) / floats("loss")[0], kLossRel) << s.loss.loss;

  for (const auto& [head, grad, prefix] : {std::tuple{&s.audio, &s.audio_grad, "audio_projection"},
                                           std::tuple{&s.text, &s.text_grad, "text_projection"}}) {
    const std::string p = std::string("grad.") + prefix;
    EXPECT_LE(relative_error(grad->w1, floats(p + ".linear1.weight")), kGradRel) << p;
    EXPECT_LE(relative_error(grad->b1, floats(p + ".linear1.bias")), kGradRel) << p;
    EXPECT_LE(relative_error(grad->w2, floats(p + ".linear2.weight")), kGradRel) << p;
    EXPECT_LE(relative_error(grad->b2, floats(p + ".linear2.bias")), kGradRel) << p;
  }
  EXPECT_LE(relative_error({s.logit_scale_grad}, floats("grad.logit_scale_a")), kGradRel);

  // One AdamW step (heads.json: lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01), twice:
  // from PyTorch's gradients (the optimizer alone: every weight within 1e-6 of the largest), and
  // from ours (the whole step: norm-wise within 1e-6). The first AdamW step moves a weight by
  // lr * g / (|g| + eps), which turns a gradient near eps into a fraction of lr: one entry of
  // audio linear2 (g = 4.55e-8) differs from PyTorch's by 5e-10 because the pooled inputs are
  // stored as float32, and moves 1.7e-3 * lr differently. That is the inputs' precision, not the step's.
  auto adamw_step = [&](Step& st, const std::vector<const std::vector<double>*>& gradients) {
    AdamW opt({1e-3, 0.9, 0.999, 1e-8, 0.01});
    std::vector<std::vector<double>*> params = {&st.audio.w1, &st.audio.b1, &st.audio.w2, &st.audio.b2,
                                                &st.text.w1,  &st.text.b1,  &st.text.w2,  &st.text.b2};
    std::vector<double> scale = {st.logit_scale};
    params.push_back(&scale);
    for (auto* p : params) opt.add(p->size());
    opt.step(params, gradients);
    st.logit_scale = scale[0];
  };
  const std::vector<std::string> names = {"audio_projection.linear1.weight", "audio_projection.linear1.bias",
                                          "audio_projection.linear2.weight", "audio_projection.linear2.bias",
                                          "text_projection.linear1.weight",  "text_projection.linear1.bias",
                                          "text_projection.linear2.weight",  "text_projection.linear2.bias",
                                          "logit_scale_a"};
  auto params_of = [](Step& st) -> std::vector<const std::vector<double>*> {
    return {&st.audio.w1, &st.audio.b1, &st.audio.w2, &st.audio.b2, &st.text.w1, &st.text.b1, &st.text.w2, &st.text.b2};
  };
  {
    Step from_torch = s;
    std::vector<std::vector<double>> torch_grads;
    for (const std::string& name : names) {
      const std::vector<float> g = floats("grad." + name);
      torch_grads.emplace_back(g.begin(), g.end());
    }
    std::vector<const std::vector<double>*> gp;
    for (const auto& g : torch_grads) gp.push_back(&g);
    adamw_step(from_torch, gp);
    const auto after = params_of(from_torch);
    for (size_t i = 0; i < after.size(); ++i)
      EXPECT_LE(relative_error(*after[i], floats("after_adamw." + names[i])), kStepRel) << names[i];
    EXPECT_LE(relative_error({from_torch.logit_scale}, floats("after_adamw.logit_scale_a")), kStepRel);
  }
  {
    std::vector<double> scale_grad = {s.logit_scale_grad};
    Step own = s;
    adamw_step(own, {&s.audio_grad.w1, &s.audio_grad.b1, &s.audio_grad.w2, &s.audio_grad.b2, &s.text_grad.w1,
                     &s.text_grad.b1, &s.text_grad.w2, &s.text_grad.b2, &scale_grad});
    const auto after = params_of(own);
    for (size_t i = 0; i < after.size(); ++i) {
      const std::vector<float> ref = floats("after_adamw." + names[i]);
      double diff = 0, norm = 0;
      for (size_t k = 0; k < ref.size(); ++k) {
        diff += ((*after[i])[k] - ref[k]) * ((*after[i])[k] - ref[k]);
        norm += double(ref[k]) * ref[k];
      }
      EXPECT_LE(std::sqrt(diff / norm), kStepRel) << names[i];
    }
    EXPECT_LE(relative_error({own.logit_scale}, floats("after_adamw.logit_scale_a")), kStepRel);
  }
}

// Central differences on a small random problem (5 pairs, 6 -> 7 -> 4): every parameter of
// both heads and the logit scale.
TEST(FineTuneStep, GradientsMatchFiniteDifferences) {
  uint64_t state = 42;
  auto uniform = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(state >> 11) / double(1ull << 53) * 2 - 1;
  };
  auto make = [&](int64_t in, int64_t hidden, int64_t out) {
    HeadParameters h;
    h.in = in, h.hidden = hidden, h.out = out;
    for (auto* v : {&h.w1, &h.b1, &h.w2, &h.b2}) v->clear();
    for (int64_t i = 0; i < hidden * in; ++i) h.w1.push_back(uniform());
    for (int64_t i = 0; i < hidden; ++i) h.b1.push_back(0.3 * uniform());
    for (int64_t i = 0; i < out * hidden; ++i) h.w2.push_back(uniform());
    for (int64_t i = 0; i < out; ++i) h.b2.push_back(0.3 * uniform());
    return h;
  };
  const int64_t n = 5;
  HeadParameters audio = make(6, 7, 4), text = make(3, 7, 4);
  std::vector<float> a_in, t_in;
  for (int64_t i = 0; i < n * 6; ++i) a_in.push_back(static_cast<float>(uniform()));
  for (int64_t i = 0; i < n * 3; ++i) t_in.push_back(static_cast<float>(uniform()));
  const double logit_scale = 1.3;
  const Step s = run_step(audio, text, logit_scale, a_in, t_in, n);
  auto loss_with = [&](const HeadParameters& a, const HeadParameters& t, double ls) {
    return run_step(a, t, ls, a_in, t_in, n).loss.loss;
  };
  const double h = 1e-6;
  int checked = 0;
  for (int which = 0; which < 2; ++which) {
    const HeadParameters& grad = which == 0 ? s.audio_grad : s.text_grad;
    for (int tensor = 0; tensor < 4; ++tensor) {
      const std::vector<double>& g = tensor == 0 ? grad.w1 : tensor == 1 ? grad.b1 : tensor == 2 ? grad.w2 : grad.b2;
      for (size_t k = 0; k < g.size(); ++k) {
        HeadParameters plus_a = audio, minus_a = audio, plus_t = text, minus_t = text;
        HeadParameters& plus = which == 0 ? plus_a : plus_t;
        HeadParameters& minus = which == 0 ? minus_a : minus_t;
        std::vector<double>* vp[] = {&plus.w1, &plus.b1, &plus.w2, &plus.b2};
        std::vector<double>* vm[] = {&minus.w1, &minus.b1, &minus.w2, &minus.b2};
        (*vp[tensor])[k] += h;
        (*vm[tensor])[k] -= h;
        const double numeric = (loss_with(plus_a, plus_t, logit_scale) - loss_with(minus_a, minus_t, logit_scale)) / (2 * h);
        EXPECT_NEAR(g[k], numeric, 1e-6 + 1e-5 * std::fabs(numeric)) << "head " << which << " tensor " << tensor << " [" << k << "]";
        ++checked;
      }
    }
  }
  const double numeric = (loss_with(audio, text, logit_scale + h) - loss_with(audio, text, logit_scale - h)) / (2 * h);
  EXPECT_NEAR(s.logit_scale_grad, numeric, 1e-6 + 1e-5 * std::fabs(numeric));
  EXPECT_EQ(checked, 2 * (7 * 6 + 7 + 4 * 7 + 4) - (6 - 3) * 7);
}

}  // namespace
}  // namespace clap::train
