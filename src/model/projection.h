// CLAP projection head: Linear -> activation -> Linear (audio_projection / text_projection).
#pragma once
#include <string>

#include "model/config.h"
#include "model/weights.h"

namespace clap {

struct ProjectionWeights {  // <prefix>.linear1, <prefix>.linear2
  LinearWeights linear1, linear2;
};

ProjectionWeights load_projection(WeightSource& source, const std::string& prefix, int64_t in, int64_t dim);

// out: rows x dim, NOT normalised (the reference's *_proj tensors).
void projection_forward(const ProjectionWeights& weights, Activation act, const float* in, int64_t rows, float* out);

}  // namespace clap
