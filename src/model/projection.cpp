#include "model/projection.h"

#include <vector>

#include "tensor/linear.h"
#include "tensor/ops.h"

namespace clap {

ProjectionWeights load_projection(WeightSource& source, const std::string& prefix, int64_t in, int64_t dim) {
  return {source.linear(prefix + ".linear1", in, dim), source.linear(prefix + ".linear2", dim, dim)};
}

void projection_forward(const ProjectionWeights& w, Activation act, const float* in, int64_t rows, float* out) {
  std::vector<float> hidden(static_cast<size_t>(rows * w.linear1.out));
  linear(in, rows, w.linear1.in, w.linear1, hidden.data(), w.linear1.out);
  apply_activation(act, hidden.data(), rows * w.linear1.out);
  linear(hidden.data(), rows, w.linear2.in, w.linear2, out, w.linear2.out);
}

}  // namespace clap
