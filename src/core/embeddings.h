// Plain embedding containers shared by every layer: the store fills them, the search code
// reads them, the service layer passes them between the two. Nothing here knows SQLite,
// FAISS or the model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace clap {

// An id-tagged embedding matrix: track embeddings, the vectors of a vector index, label text
// embeddings...
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

// The library's analysis windows as rows: one entry per window in every vector (same order).
struct WindowTable {
  int dim = 0;
  std::vector<float> embeddings;     // size() × dim, L2-normalised rows
  std::vector<int64_t> window_ids;   // store ids, unique
  std::vector<int64_t> track_ids;
  std::vector<double> starts, ends;  // seconds within the track
  std::vector<uint8_t> silent;       // 1 = silent window; empty = none silent

  int64_t size() const { return static_cast<int64_t>(window_ids.size()); }
};

// The windows' vectors as an Embeddings (ids = window ids), e.g. for a vector index.
inline Embeddings window_vectors(const WindowTable& t) {
  Embeddings e;
  e.dim = t.dim;
  e.ids = t.window_ids;
  e.data = t.embeddings;
  return e;
}

}  // namespace clap
