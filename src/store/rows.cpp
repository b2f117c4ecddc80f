#include "store/rows.h"

#include <bit>
#include <cstring>

namespace clap::store {

void decode_embedding(const void* bytes, size_t n, int expect, std::vector<float>& out, const std::string& what) {
  if (n != static_cast<size_t>(expect) * sizeof(float))
    throw Error("database: embedding of " + std::to_string(n) + " bytes where " + std::to_string(expect) +
                " floats were expected (" + what + ")");
  const size_t at = out.size();
  out.resize(at + static_cast<size_t>(expect));
  // An empty column (a library whose meta says dim 0) may have no buffer: memcpy must not get its
  // null pointer even for 0 bytes (UBSan, confirmed with fuzz_store).
  if (n > 0) std::memcpy(out.data() + at, bytes, n);
  if constexpr (std::endian::native != std::endian::little) {
    for (size_t k = at; k < out.size(); ++k) {
      uint32_t x;
      std::memcpy(&x, &out[k], 4);
      x = __builtin_bswap32(x);
      std::memcpy(&out[k], &x, 4);
    }
  }
}

std::string encode_embedding(const float* v, size_t n) {
  std::string b(n * sizeof(float), '\0');
  if (n) std::memcpy(b.data(), v, b.size());
  if constexpr (std::endian::native != std::endian::little) {
    for (size_t k = 0; k < n; ++k) {
      uint32_t x;
      std::memcpy(&x, b.data() + 4 * k, 4);
      x = __builtin_bswap32(x);
      std::memcpy(b.data() + 4 * k, &x, 4);
    }
  }
  return b;
}

void check_embedding_sizes(const std::string& path, const std::vector<WindowRecord>& windows, size_t track_floats,
                           int dim) {
  if (track_floats != 0 && static_cast<int>(track_floats) != dim)
    throw Error(path + ": track embedding of size " + std::to_string(track_floats) + ", index dimension " +
                std::to_string(dim));
  for (const auto& w : windows)
    if (!w.embedding.empty() && static_cast<int>(w.embedding.size()) != dim)
      throw Error(path + ": window embedding of size " + std::to_string(w.embedding.size()) + ", index dimension " +
                  std::to_string(dim));
}

void check_speech(double speech, const std::string& what) {
  if (speech == kNoSpeech || (speech >= 0 && speech <= 1)) return;
  throw Error(what + ": speech score " + std::to_string(speech) + " outside [0, 1]");
}

std::string window_numbering_problem(const std::string& path, int64_t n, int64_t lo, int64_t hi, int64_t total) {
  if (n == 0) return path + ": ok track without windows";
  if (lo < 0 || hi >= total) return path + ": windows are not numbered 0.." + std::to_string(total - 1);
  return "";
}

std::string fingerprint_bytes(const std::vector<uint32_t>& items) {
  std::string out(items.size() * 4, '\0');
  for (size_t i = 0; i < items.size(); ++i)
    for (int byte = 0; byte < 4; ++byte) out[i * 4 + byte] = static_cast<char>(items[i] >> (8 * byte));
  return out;
}

std::vector<uint32_t> fingerprint_items(const std::string& bytes, int64_t track_id) {
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
