// A plain id-tagged embedding matrix: the unit the store hands to the search library (track
// embeddings, the vectors of a VectorIndex, label text embeddings...).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace clap::search {

struct Embeddings {
  int dim = 0;
  std::vector<int64_t> ids;  // one per row; unique
  std::vector<float> data;   // ids.size() × dim, row-major, L2-normalised rows expected

  int64_t size() const { return static_cast<int64_t>(ids.size()); }
  const float* row(int64_t i) const { return data.data() + i * dim; }
  // Position of `id` in ids, or -1 (linear: for one-off lookups such as a query track).
  int64_t find(int64_t id) const {
    for (size_t i = 0; i < ids.size(); ++i)
      if (ids[i] == id) return static_cast<int64_t>(i);
    return -1;
  }
  // Throws clap::Error naming `what` when the sizes do not agree.
  void check(const std::string& what) const {
    if (dim <= 0 && !ids.empty()) throw Error(what + ": embedding dimension must be positive");
    if (data.size() != ids.size() * static_cast<size_t>(dim))
      throw Error(what + ": " + std::to_string(data.size()) + " floats for " + std::to_string(ids.size()) +
                  " rows of dimension " + std::to_string(dim));
  }
};

}  // namespace clap::search
