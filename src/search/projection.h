// A 2-D map of the library: principal component analysis of the track embeddings.
//
// The two directions of largest variance of the (mean-centred) vectors, found by power
// iteration with deflation on the dim × dim covariance in double precision, from a fixed start
// and with a fixed sign convention (each axis's largest-magnitude component is positive), so the
// same vectors always give the same map, bit for bit. Used by the server's map view and by
// `clapsearch map`.
#pragma once
#include <cstdint>
#include <vector>

#include "core/embeddings.h"

namespace clap::search {

struct Projection2D {
  std::vector<int64_t> ids;      // the embeddings' ids, in their order
  std::vector<double> x, y;      // coordinates along the first and second principal axes
  double explained[2] = {0, 0};  // share of the total variance each axis carries (0..1)
  // The fitted map, to place other vectors on it (project()): the vectors' mean and the two
  // unit axes (dim each; all zero when fewer than two vectors were given).
  std::vector<double> mean, axes[2];
};

Projection2D pca_2d(const Embeddings& vectors);

// Any vector of the same dimension placed on the map: (v - mean) · axis for each axis, with the
// arithmetic that gave the fitted vectors theirs (a fitted vector lands exactly on its x, y).
struct Point2D {
  double x = 0, y = 0;
};
Point2D project(const Projection2D& map, const float* v);

}  // namespace clap::search
