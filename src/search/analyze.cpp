#include "search/analyze.h"

#include <algorithm>

#include "core/error.h"
#include "search/kernels.h"

namespace clap::search {
namespace {

int64_t require_track(const Catalog& c, int64_t track_id, const char* what) {
  const int64_t t = c.track_index(track_id);
  if (t < 0) throw Error(std::string(what) + ": track " + std::to_string(track_id) + " is not in the index");
  return t;
}

}  // namespace

std::vector<AnalyzeRow> analyze(const Catalog& c, int64_t nq, const float* queries, const AnalyzeOptions& options) {
  std::vector<int64_t> tracks;  // track indexes
  if (options.tracks.empty()) {
    for (int64_t t = 0; t < c.track_count(); ++t) tracks.push_back(t);
  } else {
    for (int64_t id : options.tracks) tracks.push_back(require_track(c, id, "analyze"));
  }
  nq = std::max<int64_t>(nq, 0);
  std::vector<AnalyzeRow> out(tracks.size() * static_cast<size_t>(nq));
#pragma omp parallel for schedule(dynamic, 8) if (worth_threads(c.window_count() * nq * c.dim()))
  for (int64_t i = 0; i < static_cast<int64_t>(tracks.size()); ++i) {
    const auto rows = c.active_rows(tracks[i]);
    std::vector<float> s(rows.size());
    for (int64_t q = 0; q < nq; ++q) {
      for (size_t j = 0; j < rows.size(); ++j) s[j] = dot(queries + q * c.dim(), c.embedding(rows[j]), c.dim());
      AnalyzeRow& r = out[i * nq + q];
      r.track_id = c.track_ids()[tracks[i]];
      r.query = q;
      r.stats = summarize(c, rows, s.data());
      r.label = label_for(r.stats.score(options.aggregate), options.thresholds);
    }
  }
  return out;
}

SongAnalysis analyze_track(const Catalog& c, int64_t track_id, const float* query, const AnalyzeOptions& options) {
  const int64_t t = require_track(c, track_id, "analyze");
  SongAnalysis a;
  a.track_id = track_id;
  for (int64_t row : c.rows(t)) {
    WindowScore w;
    w.window_id = c.table().window_ids[row];
    w.start = c.table().starts[row];
    w.end = c.table().ends[row];
    w.score = dot(query, c.embedding(row), c.dim());
    w.label = label_for(w.score, options.thresholds);
    w.silent = c.silent(row);
    a.windows.push_back(w);
  }
  const auto rows = c.active_rows(t);
  std::vector<float> s(rows.size());
  for (size_t j = 0; j < rows.size(); ++j) s[j] = dot(query, c.embedding(rows[j]), c.dim());
  a.stats = summarize(c, rows, s.data());
  a.label = label_for(a.stats.score(options.aggregate), options.thresholds);
  return a;
}

}  // namespace clap::search
