#include "search/catalog.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/error.h"
#include "core/vector_math.h"

namespace clap::search {

Catalog::Catalog(WindowTable table) : t_(std::move(table)) {
  const size_t n = t_.window_ids.size();
  auto fail = [](const std::string& m) { throw Error("window catalog: " + m); };
  if (n > 0 && t_.dim <= 0) fail("embedding dimension must be positive");
  if (t_.embeddings.size() != n * static_cast<size_t>(std::max(t_.dim, 0)))
    fail(std::to_string(t_.embeddings.size()) + " floats for " + std::to_string(n) + " windows of dimension " +
         std::to_string(t_.dim));
  if (t_.track_ids.size() != n || t_.starts.size() != n || t_.ends.size() != n)
    fail("window_ids, track_ids, starts and ends must have one entry per window");
  if (!t_.silent.empty() && t_.silent.size() != n) fail("silent must be empty or have one entry per window");

  by_window_.resize(n);
  for (size_t i = 0; i < n; ++i) by_window_[i] = {t_.window_ids[i], static_cast<int64_t>(i)};
  std::sort(by_window_.begin(), by_window_.end());
  for (size_t i = 1; i < n; ++i)
    if (by_window_[i].first == by_window_[i - 1].first) fail("duplicate window id " + std::to_string(by_window_[i].first));

  // Rows ordered by (track, start, window id): each track's windows become one contiguous run.
  rows_.resize(n);
  std::iota(rows_.begin(), rows_.end(), 0);
  std::sort(rows_.begin(), rows_.end(), [&](int64_t a, int64_t b) {
    if (t_.track_ids[a] != t_.track_ids[b]) return t_.track_ids[a] < t_.track_ids[b];
    if (t_.starts[a] != t_.starts[b]) return t_.starts[a] < t_.starts[b];
    return t_.window_ids[a] < t_.window_ids[b];
  });
  row_track_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (i == 0 || t_.track_ids[rows_[i]] != t_.track_ids[rows_[i - 1]]) {
      track_ids_.push_back(t_.track_ids[rows_[i]]);
      offsets_.push_back(static_cast<int64_t>(i));
    }
    row_track_[rows_[i]] = static_cast<int64_t>(track_ids_.size()) - 1;
  }
  offsets_.push_back(static_cast<int64_t>(n));

  active_offsets_.push_back(0);
  for (size_t t = 0; t < track_ids_.size(); ++t) {
    const size_t before = active_rows_.size();
    for (int64_t i = offsets_[t]; i < offsets_[t + 1]; ++i)
      if (!silent(rows_[i])) active_rows_.push_back(rows_[i]);
    if (active_rows_.size() == before)
      active_rows_.insert(active_rows_.end(), rows_.begin() + offsets_[t], rows_.begin() + offsets_[t + 1]);
    active_offsets_.push_back(static_cast<int64_t>(active_rows_.size()));
  }
}

int64_t Catalog::track_index(int64_t track_id) const {
  auto it = std::lower_bound(track_ids_.begin(), track_ids_.end(), track_id);
  return it != track_ids_.end() && *it == track_id ? it - track_ids_.begin() : -1;
}

std::span<const int64_t> Catalog::rows(int64_t t) const {
  return {rows_.data() + offsets_[t], static_cast<size_t>(offsets_[t + 1] - offsets_[t])};
}

std::span<const int64_t> Catalog::active_rows(int64_t t) const {
  return {active_rows_.data() + active_offsets_[t], static_cast<size_t>(active_offsets_[t + 1] - active_offsets_[t])};
}

int64_t Catalog::row_of_window(int64_t window_id) const {
  auto it = std::lower_bound(by_window_.begin(), by_window_.end(), std::pair<int64_t, int64_t>{window_id, INT64_MIN});
  return it != by_window_.end() && it->first == window_id ? it->second : -1;
}

Embeddings window_index_data(const Catalog& c) {
  Embeddings e;
  e.dim = c.dim();
  std::vector<int64_t> rows;
  for (int64_t t = 0; t < c.track_count(); ++t)
    for (int64_t r : c.active_rows(t)) rows.push_back(r);
  // Ascending window id: the order VectorIndex wants (it then needs no copy to sort).
  std::sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) { return c.table().window_ids[a] < c.table().window_ids[b]; });
  e.ids.reserve(rows.size());
  e.data.resize(rows.size() * static_cast<size_t>(c.dim()));
  for (size_t i = 0; i < rows.size(); ++i) {
    e.ids.push_back(c.table().window_ids[rows[i]]);
    std::copy_n(c.embedding(rows[i]), c.dim(), e.data.data() + i * c.dim());
  }
  return e;
}

VectorSource window_index_source(std::shared_ptr<const Catalog> c) {
  VectorSource s;
  s.dim = c->dim();
  s.matrix_rows = c->window_count();
  for (int64_t t = 0; t < c->track_count(); ++t)
    for (int64_t r : c->active_rows(t)) {
      s.rows.push_back(r);
      s.ids.push_back(c->table().window_ids[r]);
    }
  const float* base = c->table().embeddings.data();
  s.matrix = std::shared_ptr<const float>(std::move(c), base);
  return s;
}

Embeddings track_embeddings(const Catalog& c) {
  Embeddings e;
  e.dim = c.dim();
  e.ids = c.track_ids();
  e.data.assign(static_cast<size_t>(c.track_count()) * c.dim(), 0.0f);
  std::vector<float> windows;
  for (int64_t t = 0; t < c.track_count(); ++t) {
    const auto rows = c.active_rows(t);
    windows.clear();
    for (int64_t r : rows) windows.insert(windows.end(), c.embedding(r), c.embedding(r) + c.dim());
    const std::vector<float> mean = track_embedding(static_cast<int64_t>(rows.size()), c.dim(), windows.data(), nullptr);
    std::copy(mean.begin(), mean.end(), e.data.begin() + t * c.dim());
  }
  return e;
}

}  // namespace clap::search
