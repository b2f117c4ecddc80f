// What every store checks and converts before writing a track's rows (put_track, finish_job,
// the import of `clapsearch migrate`), in one place for both implementations.
#pragma once
#include <string>
#include <vector>

#include "core/error.h"
#include "store/store.h"

namespace clap::store {

// Throws clap::Error naming `path` when the track embedding (track_floats values; 0 = none) or a
// window's embedding is not `dim` floats.
inline void check_embedding_sizes(const std::string& path, const std::vector<WindowRecord>& windows, size_t track_floats,
                                  int dim) {
  if (track_floats != 0 && static_cast<int>(track_floats) != dim)
    throw Error(path + ": track embedding of size " + std::to_string(track_floats) + ", index dimension " +
                std::to_string(dim));
  for (const auto& w : windows)
    if (!w.embedding.empty() && static_cast<int>(w.embedding.size()) != dim)
      throw Error(path + ": window embedding of size " + std::to_string(w.embedding.size()) + ", index dimension " +
                  std::to_string(dim));
}

// A stored embedding: its floats, or nullptr (NULL) when there are none.
inline const float* floats_or_null(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }

}  // namespace clap::store
