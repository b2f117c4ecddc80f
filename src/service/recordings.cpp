#include "service/recordings.h"

#include <algorithm>
#include <cmath>

#include "core/deadline.h"
#include "core/vector_math.h"
#include "search/duplicates.h"
#include "search/fingerprint_match.h"
#include "service/song_resolver.h"

namespace clap::service {

RecordingPrints::Read& RecordingPrints::read(int64_t id) {
  auto it = read_.find(id);
  if (it != read_.end()) return it->second;
  if (work_) ++work_->tracks_read;
  Read r;
  const Embeddings rows = snap_.track_fetch()({id});
  if (rows.size() == 1) {
    double norm = 0;
    for (int64_t i = 0; i < rows.dim; ++i) norm += double(rows.row(0)[i]) * rows.row(0)[i];
    norm = std::sqrt(norm);
    if (norm > 0 && std::isfinite(norm)) {
      r.embedding.resize(static_cast<size_t>(rows.dim));
      for (int64_t i = 0; i < rows.dim; ++i) r.embedding[static_cast<size_t>(i)] = static_cast<float>(rows.row(0)[i] / norm);
    }
  }
  return read_.emplace(id, std::move(r)).first->second;
}

// The fingerprint apart from the embedding: a group's tracks, held before a list starts
// (sonic.cpp similar_to_group), are measured by embedding against every candidate, but only
// the few nearest a candidate are compared by fingerprint.
const RecordingPrints::Read& RecordingPrints::read_print(int64_t id) {
  Read& r = read(id);
  if (r.printed) return r;
  r.printed = true;
  if (work_) ++work_->prints_read;
  auto prints = snap_.fingerprints({id});
  if (auto found = prints.find(id); found != prints.end()) r.fingerprint = std::move(found->second);
  r.items = r.fingerprint;
  std::sort(r.items.begin(), r.items.end());
  r.items.erase(std::unique(r.items.begin(), r.items.end()), r.items.end());
  return r;
}

const std::vector<float>* RecordingPrints::embedding(int64_t id) {
  const Read& r = read(id);
  return r.embedding.empty() ? nullptr : &r.embedding;
}

bool RecordingPrints::shares_items(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  // At least this many distinct items in common before the fingerprints are aligned (see the header).
  constexpr int kSharedItems = 3;
  if (work_) ++work_->items_compared;
  int shared = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] < b[j]) ++i;
    else if (b[j] < a[i]) ++j;
    else {
      ++i, ++j;
      if (++shared >= kSharedItems) return true;
    }
  }
  return false;
}

bool RecordingPrints::same(int64_t a, int64_t b) {
  const auto key = std::minmax(a, b);
  if (auto known = compared_.find(key); known != compared_.end()) return known->second;
  check_deadline("one recording, one place");
  const Read& ra = read_print(key.first);
  const Read& rb = read_print(key.second);
  const std::vector<uint32_t>& fa = ra.fingerprint;
  const std::vector<uint32_t>& fb = rb.fingerprint;
  bool same = false;
  if (!fa.empty() && !fb.empty() && shares_items(ra.items, rb.items)) {
    if (work_) ++work_->fingerprint_matches;
    const search::FingerprintMatch m = search::match_fingerprints(fa, fb, search::DuplicateOptions{}.min_coverage);
    same = m.measurable && m.bit_error_rate <= search::kSameRecordingBitErrorRate;
  }
  compared_.emplace(key, same);
  return same;
}

std::vector<std::string> Recordings::keys(const store::Track& t) {
  std::vector<std::string> out;
  const auto add = [&out](char kind, const std::string& value) {
    if (value.empty()) return;
    std::string key(1, kind);
    key.append(value);
    out.push_back(std::move(key));
  };
  add('h', t.content_hash);
  add('m', normalise_mbid(t.mbid));
  add('i', normalise_isrc(t.isrc));
  return out;
}

int64_t Recordings::copy_of(const store::Track& t) {
  for (const std::string& key : keys(t))
    if (const auto it = held_.find(key); it != held_.end()) return it->second;
  return same_by_fingerprint(t);
}

void Recordings::hold(const store::Track& t) {
  for (std::string& key : keys(t)) held_.emplace(std::move(key), t.id);
  tracks_.emplace_back(t.id, t.duration_s);
}

int64_t Recordings::same_by_fingerprint(const store::Track& t) {
  if (!prints_ || tracks_.empty()) return -1;
  const search::DuplicateOptions rule;
  // The held tracks of a similar length (nothing is read when there are none).
  std::vector<int64_t> lengthwise;
  for (const auto& [id, duration] : tracks_) {
    const double longer = std::max(duration, t.duration_s), shorter = std::min(duration, t.duration_s);
    if (id != t.id && longer > 0 && shorter / longer >= rule.min_duration_ratio) lengthwise.push_back(id);
  }
  if (lengthwise.empty()) return -1;
  const std::vector<float>* mine = prints_->embedding(t.id);
  if (!mine) return -1;
  // The nearest of them by track embedding (cosine; ties by id), as `duplicates` takes its candidates.
  std::vector<std::pair<double, int64_t>> nearest;
  for (int64_t id : lengthwise) {
    const std::vector<float>* other = prints_->embedding(id);
    if (!other || other->size() != mine->size()) continue;
    const double cosine = dot(mine->data(), other->data(), static_cast<int64_t>(mine->size()));  // unit rows
    nearest.emplace_back(std::isfinite(cosine) ? cosine : -2.0, id);  // NaN would break the order
  }
  const size_t n = std::min(nearest.size(), static_cast<size_t>(std::max(rule.neighbours, 0)));
  std::partial_sort(nearest.begin(), nearest.begin() + static_cast<std::ptrdiff_t>(n), nearest.end(),
                    [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  for (size_t i = 0; i < n; ++i)
    if (prints_->same(t.id, nearest[i].second)) return nearest[i].second;
  return -1;
}

}  // namespace clap::service
