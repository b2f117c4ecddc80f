#include "search/projection.h"

#include <algorithm>
#include <cmath>

namespace clap::search {

namespace {

// The dominant eigenvector of the symmetric matrix `c` (d × d), by power iteration.
std::vector<double> dominant_axis(const std::vector<double>& c, int d) {
  std::vector<double> v(d), next(d);
  for (int i = 0; i < d; ++i) v[i] = 1.0 + 0.01 * i;  // fixed start, not orthogonal to any axis in practice
  for (int iter = 0; iter < 1000; ++iter) {
    double norm = 0;
    for (int i = 0; i < d; ++i) {
      double s = 0;
      for (int j = 0; j < d; ++j) s += c[static_cast<size_t>(i) * d + j] * v[j];
      next[i] = s;
      norm += s * s;
    }
    norm = std::sqrt(norm);
    if (norm == 0) return std::vector<double>(d, 0.0);
    double change = 0;
    for (int i = 0; i < d; ++i) {
      next[i] /= norm;
      change += std::abs(next[i] - v[i]);
    }
    v.swap(next);
    if (change < 1e-12) break;
  }
  int big = 0;  // sign convention: the largest-magnitude component is positive
  for (int i = 1; i < d; ++i)
    if (std::abs(v[i]) > std::abs(v[big])) big = i;
  if (v[big] < 0)
    for (double& x : v) x = -x;
  return v;
}

}  // namespace

Projection2D pca_2d(const Embeddings& e) {
  Projection2D p;
  p.ids = e.ids;
  const int64_t n = e.size();
  const int d = e.dim;
  p.x.assign(static_cast<size_t>(n), 0.0);
  p.y.assign(static_cast<size_t>(n), 0.0);
  p.mean.assign(static_cast<size_t>(std::max(d, 0)), 0.0);
  p.axes[0] = p.axes[1] = p.mean;
  if (n < 2 || d < 1) return p;
  std::vector<double>& mean = p.mean;
  for (int64_t r = 0; r < n; ++r)
    for (int j = 0; j < d; ++j) mean[j] += e.row(r)[j];
  for (double& m : mean) m /= static_cast<double>(n);
  std::vector<double> c(static_cast<size_t>(d) * d, 0.0), row(d);
  for (int64_t r = 0; r < n; ++r) {
    for (int j = 0; j < d; ++j) row[j] = e.row(r)[j] - mean[j];
    for (int i = 0; i < d; ++i)
      for (int j = i; j < d; ++j) c[static_cast<size_t>(i) * d + j] += row[i] * row[j];
  }
  double total = 0;
  for (int i = 0; i < d; ++i) {
    for (int j = i; j < d; ++j) {
      c[static_cast<size_t>(i) * d + j] /= static_cast<double>(n - 1);
      c[static_cast<size_t>(j) * d + i] = c[static_cast<size_t>(i) * d + j];
    }
    total += c[static_cast<size_t>(i) * d + i];
  }
  std::vector<double>* axes = p.axes;
  for (int a = 0; a < 2; ++a) {
    axes[a] = dominant_axis(c, d);
    double lambda = 0;  // its variance, then deflate
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) lambda += axes[a][i] * c[static_cast<size_t>(i) * d + j] * axes[a][j];
    p.explained[a] = total > 0 ? lambda / total : 0;
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) c[static_cast<size_t>(i) * d + j] -= lambda * axes[a][i] * axes[a][j];
  }
  for (int64_t r = 0; r < n; ++r) {
    const Point2D q = project(p, e.row(r));
    p.x[static_cast<size_t>(r)] = q.x;
    p.y[static_cast<size_t>(r)] = q.y;
  }
  return p;
}

Point2D project(const Projection2D& p, const float* v) {
  Point2D q;
  const size_t d = p.mean.size();
  for (size_t j = 0; j < d; ++j) {
    const double c = v[j] - p.mean[j];
    q.x += c * p.axes[0][j];
    q.y += c * p.axes[1][j];
  }
  return q;
}

}  // namespace clap::search
