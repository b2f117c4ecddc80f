// The library's windows as the search code sees them: one row per analysis window with its
// embedding, store ids, time range and silence flag, grouped by track once so every command
// (search, like, analyze...) walks a track's windows without re-sorting.
//
// A front end fills a WindowTable from the store (any row order) and builds a Catalog from it;
// nothing here touches SQLite.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/embeddings.h"
#include "search/vector_index.h"

namespace clap::search {

// The windows of a library whose vectors are not all in memory (a search node over a library
// larger than it; service/compressed_windows.h): approximate candidates from a compressed index,
// and the exact rows, read when a query needs them. Rows are what Store::window_embeddings
// gives (active windows of searchable tracks); ids it does not know are left out.
struct WindowSource {
  std::function<std::vector<int64_t>(const float* query, int64_t n)> shortlist;  // n nearest window ids, best first
  std::function<WindowTable(const std::vector<int64_t>& window_ids)> windows;    // these windows
  std::function<WindowTable(const std::vector<int64_t>& track_ids)> track_windows;  // every window of these tracks
  // The float32 track embeddings of these tracks (ids ascending; tracks without one left out).
  std::function<Embeddings(const std::vector<int64_t>& track_ids)> track_embeddings;
  int64_t size = 0;  // windows the shortlist draws from
};

class Catalog {
 public:
  // Validates sizes and ids (throws clap::Error naming the problem) and groups windows by track.
  explicit Catalog(WindowTable table);

  const WindowTable& table() const { return t_; }
  int dim() const { return t_.dim; }
  int64_t window_count() const { return t_.size(); }
  const float* embedding(int64_t row) const { return t_.embeddings.data() + row * t_.dim; }
  bool silent(int64_t row) const { return !t_.silent.empty() && t_.silent[row] != 0; }

  // Distinct track ids, ascending; "track index" below means a position in this list.
  const std::vector<int64_t>& track_ids() const { return track_ids_; }
  int64_t track_count() const { return static_cast<int64_t>(track_ids_.size()); }
  int64_t track_index(int64_t track_id) const;  // -1 when absent
  // All rows of a track, by start time then window id.
  std::span<const int64_t> rows(int64_t track_index) const;
  // The rows a track is scored on: its non-silent windows, or all of them when every window is
  // silent (a very quiet track should still be findable rather than vanish).
  std::span<const int64_t> active_rows(int64_t track_index) const;
  int64_t row_of_window(int64_t window_id) const;  // -1 when absent
  int64_t track_index_of_row(int64_t row) const { return row_track_[row]; }

 private:
  WindowTable t_;
  std::vector<int64_t> track_ids_;
  std::vector<int64_t> offsets_, rows_;                // rows_[offsets_[t] .. offsets_[t+1])
  std::vector<int64_t> active_offsets_, active_rows_;  // same for active rows
  std::vector<int64_t> row_track_;                     // row -> track index
  std::vector<std::pair<int64_t, int64_t>> by_window_; // (window id, row), sorted
};

// What the window-level VectorIndex holds: every active window (see active_rows) with its
// window id. Silent windows are left out so they neither match `like` chunks nor win `max`.
// A copy of them (tests, standalone use).
Embeddings window_index_data(const Catalog& catalog);
// The same windows in place: rows of the catalog's embedding table, which the source keeps
// alive (an index built or loaded over it shares the catalog instead of copying its vectors).
VectorSource window_index_source(std::shared_ptr<const Catalog> catalog);

// Per-track embedding of the catalog's tracks (core/vector_math.h: track_embedding over each
// track's active windows), ids = track ids (ascending). The store keeps the same vectors.
Embeddings track_embeddings(const Catalog& catalog);

}  // namespace clap::search
