// The window index of a library larger than memory (README: Many machines): what a search node
// holds instead of every window's float32 vector.
//
// It holds the compressed index (search/compressed_index.h: 64-byte codes in inverted lists)
// and, per track, the length of the mean of its windows (the "centroid norm", 4 bytes), which
// the Mean aggregate needs: a track's mean score q·mean(wᵢ) is |mean|·(q·track embedding),
// because the stored track embedding is that mean normalised. The norm is measured in the same
// scan that builds the index: mean(wᵢ·track embedding) = |mean|.
//
// Queries take candidates from it and score them exactly from the store's float32 vectors
// (service/queries.cpp), so every score printed is exact; only which windows and tracks reach
// the candidates is approximate.
//
// Persisted where the window index would be (window_index.h: compressed_window_index_path, and
// the same path + ".norms"), stamped with the library generation it holds, and brought up to date by
// Store::changes_since: a changed track's windows are removed and added again, a removed
// track's windows are left in the lists (the store no longer returns them, so they never reach
// a result) until the next rebuild. It is built again from a store scan when missing, damaged,
// made for another model, older than the store can account for, or when the library has grown
// to four times what it was trained on.
//
// Thread-safe: searches share it (a shared lock); update() takes it alone.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/embeddings.h"
#include "core/error.h"
#include "search/compressed_index.h"
#include "service/model.h"
#include "store/store.h"

namespace clap::service {

// How a library's windows are searched.
enum class WindowIndexMode {
  Auto,        // Compressed from kCompressedAboveWindows searchable windows, else Memory
  Memory,      // every window vector in memory (exact or IVF vector index over them)
  Compressed,  // CompressedWindows, candidates scored exactly from the store
};
// "auto", "memory", "compressed"; throws clap::Error on anything else.
WindowIndexMode parse_window_index_mode(const std::string& name);

// 4 M windows are 8 GB of float32 vectors (about 85,000 four-minute songs at the default 5 s
// hop): above that a search node holds 64-byte codes instead.
constexpr int64_t kCompressedAboveWindows = 4'000'000;
// The compressed index needs this many windows to train its codebooks (below, memory it is).
constexpr int64_t kCompressedMinWindows = 256;
// A node's index keeps a second code of this many bytes per window in memory (compressed_index.h):
// measured at 20 M windows (README, Many machines), a query reads a fifth as many vectors from
// the store for a better recall (200 by both codes: recall@10 0.974, p99 26 ms; 1,000 by the
// first codes: 0.927), for 64 more bytes per window (1.28 GB at 20 M).
constexpr int kNodeSecondCodeBytes = 64;
// Windows each query reads from the store to score exactly when the caller asks for no
// particular number (LibraryOptions::compressed.shortlist 0): with the first codes alone
// (an index saved before second codes existed), and with second codes.
constexpr int kShortlistFirstCodes = search::CompressedSearchParams{}.shortlist;
constexpr int kShortlistSecondCodes = 200;

// What the persisted files record as the embeddings' identity (another one is built again).
std::string compressed_identity_key(const store::ModelIdentity& identity);

// The centroid norms of tracks from their windows, as a scan delivers them (any order): per
// track the mean of (window · track embedding), which is |mean of the windows| because the
// stored track embedding is that mean normalised. Windows of tracks without an embedding in
// `tracks` (ids ascending) are ignored.
class CentroidNorms {
 public:
  explicit CentroidNorms(const Embeddings& tracks) : tracks_(tracks) {}
  void add(const WindowTable& windows);
  void finish(std::vector<int64_t>& ids, std::vector<float>& norms) const;  // ascending ids

 private:
  const Embeddings& tracks_;
  std::unordered_map<int64_t, std::pair<double, int64_t>> sums_;  // track -> (sum of dots, windows)
};

// The training sample of a compressed index: `count` of the active window `ids` (ascending),
// spread evenly over them (search::spread_sample), read from the store by id.
Embeddings read_training_sample(const store::Store& st, const std::vector<int64_t>& ids, int64_t count);

// open() on a library with fewer than kCompressedMinWindows searchable windows.
class TooFewWindows : public Error {
 public:
  using Error::Error;
};

class CompressedWindows {
 public:
  // Loads the index persisted for `location` and brings it up to the store's state, or builds
  // it (one scan of the store's windows). `read_tracks`: reads the store's float32 track
  // embeddings (only a build calls it, for the centroid norms); `library_windows`: the windows
  // of its ok tracks (Track::window_count, silent ones included: counting only the searchable
  // ones would read every window row). The caller holds the store (one thread at a time).
  // Throws clap::Error.
  static std::shared_ptr<CompressedWindows> open(store::Store& st, const std::string& location,
                                                 const store::ModelIdentity& identity,
                                                 const std::function<Embeddings()>& read_tracks,
                                                 int64_t library_windows, const Notice& note, const Notice& warn);
  ~CompressedWindows();

  // Applies the store's changes since generation() (the caller holds the store; call it inside
  // the read scope a snapshot is read in). False when the store cannot tell what changed, or
  // when so much changed that building again is better: the caller calls open() again after
  // forget(), which removes the persisted files.
  bool update(store::Store& st, int64_t library_windows);
  void forget();

  int64_t generation() const;
  int64_t size() const;  // windows in the lists (removed tracks' included until a rebuild)
  int refine_bytes() const;  // of its second codes (0: first codes only)
  int64_t memory_bytes() const;

  // The approximate nearest windows of `query` (ids, nearest first).
  std::vector<int64_t> shortlist(const float* query, const search::CompressedSearchParams& params) const;
  // |mean of the track's windows| (see above); 0 for a track it does not know.
  float centroid_norm(int64_t track_id) const;

 private:
  CompressedWindows() = default;
  void save(const Notice& warn);
  bool load();

  mutable std::shared_mutex mutex_;
  std::string path_;  // the .ivfpq file; norms in path_ + ".norms"
  std::string identity_key_;
  search::CompressedIndex index_;
  std::vector<int64_t> norm_ids_;  // ascending track ids
  std::vector<float> norms_;
  int64_t generation_ = 0;
  int64_t trained_windows_ = 0;
  int64_t changed_since_save_ = 0;
};

}  // namespace clap::service
