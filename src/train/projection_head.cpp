#include "train/projection_head.h"

#include <cmath>

#include "core/error.h"

namespace clap::train {
namespace {

std::vector<double> tensor(const Checkpoint& c, const std::string& name, const std::vector<int64_t>& shape) {
  const TensorView* t = c.find(name);
  if (!t) throw Error(c.path() + ": tensor '" + name + "' is missing");
  if (!shape.empty() && t->shape != shape) throw Error(c.path() + ": tensor '" + name + "' has shape " + t->shape_string());
  const std::vector<float> f = tensor_to_float(*t);
  return std::vector<double>(f.begin(), f.end());
}

}  // namespace

HeadParameters HeadParameters::from_checkpoint(const Checkpoint& c, const std::string& prefix) {
  HeadParameters p;
  const TensorView* w1 = c.find(prefix + ".linear1.weight");
  const TensorView* w2 = c.find(prefix + ".linear2.weight");
  if (!w1 || w1->shape.size() != 2) throw Error(c.path() + ": no 2-D tensor '" + prefix + ".linear1.weight'");
  if (!w2 || w2->shape.size() != 2) throw Error(c.path() + ": no 2-D tensor '" + prefix + ".linear2.weight'");
  p.hidden = w1->shape[0];
  p.in = w1->shape[1];
  p.out = w2->shape[0];
  p.w1 = tensor(c, prefix + ".linear1.weight", {p.hidden, p.in});
  p.b1 = tensor(c, prefix + ".linear1.bias", {p.hidden});
  p.w2 = tensor(c, prefix + ".linear2.weight", {p.out, p.hidden});
  p.b2 = tensor(c, prefix + ".linear2.bias", {p.out});
  return p;
}

HeadParameters HeadParameters::zeros_like(const HeadParameters& p) {
  HeadParameters z;
  z.in = p.in;
  z.hidden = p.hidden;
  z.out = p.out;
  z.w1.assign(p.w1.size(), 0.0);
  z.b1.assign(p.b1.size(), 0.0);
  z.w2.assign(p.w2.size(), 0.0);
  z.b2.assign(p.b2.size(), 0.0);
  return z;
}

std::vector<std::pair<std::string, std::vector<float>>> HeadParameters::to_float_tensors(const std::string& prefix) const {
  auto f = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  return {{prefix + ".linear1.weight", f(w1)}, {prefix + ".linear1.bias", f(b1)},
          {prefix + ".linear2.weight", f(w2)}, {prefix + ".linear2.bias", f(b2)}};
}

const std::vector<double>& head_forward(const HeadParameters& h, const float* x, int64_t n, HeadActivations& a) {
  a.n = n;
  a.input.assign(x, x + n * h.in);
  a.hidden.assign(static_cast<size_t>(n * h.hidden), 0.0);
  a.projected.assign(static_cast<size_t>(n * h.out), 0.0);
  a.norm.assign(static_cast<size_t>(n), 0.0);
  a.embedded.assign(static_cast<size_t>(n * h.out), 0.0);
  // Each output is one sum in a fixed order: the result does not depend on threads or batch.
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    const double* xr = a.input.data() + r * h.in;
    double* hr = a.hidden.data() + r * h.hidden;
    for (int64_t j = 0; j < h.hidden; ++j) {
      double s = h.b1[j];
      const double* w = h.w1.data() + j * h.in;
      for (int64_t k = 0; k < h.in; ++k) s += w[k] * xr[k];
      hr[j] = s > 0 ? s : 0;
    }
    double* pr = a.projected.data() + r * h.out;
    double sq = 0;
    for (int64_t j = 0; j < h.out; ++j) {
      double s = h.b2[j];
      const double* w = h.w2.data() + j * h.hidden;
      for (int64_t k = 0; k < h.hidden; ++k) s += w[k] * hr[k];
      pr[j] = s;
      sq += s * s;
    }
    // torch.nn.functional.normalize: x / max(|x|, 1e-12)
    a.norm[r] = std::max(std::sqrt(sq), 1e-12);
    for (int64_t j = 0; j < h.out; ++j) a.embedded[r * h.out + j] = pr[j] / a.norm[r];
  }
  return a.embedded;
}

namespace {

// A Linear layer's parameter gradients from the gradient of its output d ([n, out]) and its
// input x ([n, in]): gw += dᵀ·x ([out, in]), gb += Σ_rows d. One output row per thread, rows
// summed in order: the result does not depend on the thread count.
void accumulate_linear_gradients(const double* d, const double* x, int64_t n, int64_t out, int64_t in, double* gw,
                                 double* gb) {
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < out; ++j) {
    double db = 0;
    double* gwj = gw + j * in;
    for (int64_t r = 0; r < n; ++r) {
      const double dj = d[r * out + j];
      if (dj == 0) continue;  // a ReLU-masked row adds nothing
      db += dj;
      const double* xr = x + r * in;
      for (int64_t k = 0; k < in; ++k) gwj[k] += dj * xr[k];
    }
    gb[j] += db;
  }
}

}  // namespace

void head_backward(const HeadParameters& h, const HeadActivations& a, const std::vector<double>& d_embedded,
                   HeadParameters& g) {
  const int64_t n = a.n;
  // d projected = (d e - e (e . d e)) / |p|   (the derivative of p / |p|)
  std::vector<double> dp(static_cast<size_t>(n * h.out)), dh(static_cast<size_t>(n * h.hidden), 0.0);
  for (int64_t r = 0; r < n; ++r) {
    const double* e = a.embedded.data() + r * h.out;
    const double* de = d_embedded.data() + r * h.out;
    double dot = 0;
    for (int64_t j = 0; j < h.out; ++j) dot += e[j] * de[j];
    for (int64_t j = 0; j < h.out; ++j) dp[r * h.out + j] = (de[j] - e[j] * dot) / a.norm[r];
  }
  // linear2: dW2 = dpᵀ·hidden, db2 = Σ dp, d hidden = dp·W2 (through the ReLU: only where hidden > 0)
  accumulate_linear_gradients(dp.data(), a.hidden.data(), n, h.out, h.hidden, g.w2.data(), g.b2.data());
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    const double* hr = a.hidden.data() + r * h.hidden;
    double* dhr = dh.data() + r * h.hidden;
    for (int64_t j = 0; j < h.out; ++j) {
      const double d = dp[r * h.out + j];
      const double* w = h.w2.data() + j * h.hidden;
      for (int64_t k = 0; k < h.hidden; ++k) dhr[k] += d * w[k];
    }
    for (int64_t k = 0; k < h.hidden; ++k)
      if (hr[k] <= 0) dhr[k] = 0;
  }
  // linear1: dW1 = dhᵀ·x, db1 = Σ dh
  accumulate_linear_gradients(dh.data(), a.input.data(), n, h.hidden, h.in, g.w1.data(), g.b1.data());
}

}  // namespace clap::train
