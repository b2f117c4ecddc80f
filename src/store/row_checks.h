// What every store checks and converts before writing a track's rows (put_track, finish_job,
// the import of `clapsearch migrate`), in one place for both implementations.
#pragma once
#include <cstdint>
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

// A fingerprint's column: its items as little-endian bytes, whatever the machine's byte order.
inline std::string fingerprint_bytes(const std::vector<uint32_t>& items) {
  std::string out(items.size() * 4, '\0');
  for (size_t i = 0; i < items.size(); ++i)
    for (int byte = 0; byte < 4; ++byte) out[i * 4 + byte] = static_cast<char>(items[i] >> (8 * byte));
  return out;
}

// And back; throws naming the track when the column is not a whole number of items.
inline std::vector<uint32_t> fingerprint_items(const std::string& bytes, int64_t track_id) {
  if (bytes.size() % 4 != 0)
    throw Error("database: the fingerprint of track " + std::to_string(track_id) + " has " + std::to_string(bytes.size()) +
                " bytes, not a whole number of 4-byte items");
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::vector<uint32_t> items(bytes.size() / 4);
  for (size_t i = 0; i < items.size(); ++i)
    items[i] = uint32_t{p[i * 4]} | uint32_t{p[i * 4 + 1]} << 8 | uint32_t{p[i * 4 + 2]} << 16 | uint32_t{p[i * 4 + 3]} << 24;
  return items;
}

}  // namespace clap::store
