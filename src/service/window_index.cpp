#include "service/window_index.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/sha256.h"
#include "core/user_dirs.h"
#include "store/store.h"

namespace clap::service {

namespace {

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The index file's path, its folder created (a server's cache folder may not exist yet; a
// failure shows later as the index not being saved, and searching goes on).
std::string prepared_path(const std::string& db_path) {
  const std::string path = window_index_path(db_path);
  std::error_code ec;
  if (store::is_server_location(db_path)) std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  return path;
}

}  // namespace

std::string window_index_path(const std::string& db_path) {
  if (!store::is_server_location(db_path)) return db_path + ".windows.faiss";
  // A server's index is shared; the vector index is this machine's own, in its cache, one file
  // per database (named by the URL without its password).
  return clapsearch_cache_dir() + "/window-index/" + sha256_hex(store::display_location(db_path)).substr(0, 24) + ".faiss";
}

std::string compressed_window_index_path(const std::string& db_path) {
  const std::string path = window_index_path(db_path);
  return path.substr(0, path.size() - std::string(".faiss").size()) + ".ivfpq";
}

int64_t window_fingerprint(const search::Catalog& c) {
  // Order-independent sum of per-window hashes over exactly the rows the index holds (active
  // rows). The first 16 values of each vector stand for it: a window re-embedded from other
  // audio or by another model differs there.
  uint64_t h = splitmix(static_cast<uint64_t>(c.dim()));
  int64_t n = 0;
  const int probe = std::min(c.dim(), 16);
  for (int64_t t = 0; t < c.track_count(); ++t)
    for (int64_t r : c.active_rows(t)) {
      uint64_t x = splitmix(static_cast<uint64_t>(c.table().window_ids[r]));
      x = splitmix(x ^ static_cast<uint64_t>(c.table().track_ids[r]));
      const float* e = c.embedding(r);
      for (int j = 0; j < probe; ++j) {
        uint32_t bits;
        std::memcpy(&bits, e + j, 4);
        x = splitmix(x ^ bits);
      }
      h += x;
      ++n;
    }
  h = splitmix(h ^ static_cast<uint64_t>(n));
  return static_cast<int64_t>(h & 0x7fffffffffffffffULL);
}

search::VectorIndex load_window_index(const std::string& db_path, std::shared_ptr<const search::Catalog> catalog,
                                      search::LoadInfo* info) {
  const int64_t key = window_fingerprint(*catalog);
  return search::VectorIndex::load_or_build(prepared_path(db_path), key, search::window_index_source(std::move(catalog)),
                                            {}, info);
}

search::VectorIndex load_window_index(const std::string& db_path, const search::Catalog& catalog,
                                      search::LoadInfo* info) {
  return search::VectorIndex::load_or_build(
      prepared_path(db_path), window_fingerprint(catalog), [&catalog] { return search::window_index_data(catalog); },
      {}, info);
}

}  // namespace clap::service
