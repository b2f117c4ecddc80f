#include "service/window_index.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/sha256.h"
#include "core/user_dirs.h"
#include "core/error.h"
#include "store/database_id.h"
#include "store/real_file.h"
#include "store/store.h"

namespace clap::service {

namespace {

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string with_extension(const std::string& faiss_path, bool compressed) {
  return compressed ? faiss_path.substr(0, faiss_path.size() - std::string(".faiss").size()) + ".ivfpq" : faiss_path;
}

}  // namespace

std::string window_index_path(const std::string& db_path, const std::string& key_id) {
  // Beside the file itself, not a link to it: a link and the file's own path share one cache.
  if (!store::is_server_location(db_path)) return store::real_file(db_path) + ".windows.faiss";
  // A server's index is shared; the vector index is this machine's own, in its cache, one file
  // per database: named after its key id, so that each spelling of the URL (localhost or
  // 127.0.0.1, another user or option) does not build and keep a copy of its own (issue 53).
  const std::string dir = clapsearch_cache_dir() + "/window-index/";
  if (!key_id.empty()) return dir + "db-" + key_id + ".faiss";
  return dir + sha256_hex(store::display_location(db_path)).substr(0, 24) + ".faiss";
}

std::string compressed_window_index_path(const std::string& db_path, const std::string& key_id) {
  return with_extension(window_index_path(db_path, key_id), true);
}

std::string window_index_key_id(const store::Store& st) {
  try {
    return store::password_key_id(st).value_or("");
  } catch (const Error&) {
    return "";
  }
}

std::string prepared_window_index_path(const std::string& db_path, const std::string& key_id, bool compressed) {
  const std::string path = with_extension(window_index_path(db_path, key_id), compressed);
  if (!store::is_server_location(db_path)) return path;
  // The cache folder may not exist yet; a failure shows later as the index not being saved, and
  // searching goes on.
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (!key_id.empty() && !std::filesystem::exists(path, ec)) {
    const std::string by_url = with_extension(window_index_path(db_path), compressed);
    if (std::filesystem::exists(by_url, ec)) std::filesystem::rename(by_url, path, ec);  // ec: built anew instead
  }
  return path;
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
                                      search::LoadInfo* info, const std::string& key_id) {
  const int64_t key = window_fingerprint(*catalog);
  return search::VectorIndex::load_or_build(prepared_window_index_path(db_path, key_id, false), key,
                                            search::window_index_source(std::move(catalog)), {}, info);
}

search::VectorIndex load_window_index(const std::string& db_path, const search::Catalog& catalog,
                                      search::LoadInfo* info, const std::string& key_id) {
  return search::VectorIndex::load_or_build(
      prepared_window_index_path(db_path, key_id, false), window_fingerprint(catalog),
      [&catalog] { return search::window_index_data(catalog); }, {}, info);
}

}  // namespace clap::service
