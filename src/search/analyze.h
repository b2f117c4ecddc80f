// Batch analysis: every track × every query in one pass (each track's windows read once and
// compared with every query), and one song against one query window by window.
#pragma once
#include <cstdint>
#include <vector>

#include "search/catalog.h"
#include "search/scores.h"

namespace clap::search {

struct AnalyzeOptions {
  Aggregate aggregate = Aggregate::Mean;  // which statistic the label is given for
  LabelThresholds thresholds;
  std::vector<int64_t> tracks;            // track ids to analyse (e.g. from --tracks GLOB); empty = all
};

struct AnalyzeRow {
  int64_t track_id = -1;
  int64_t query = -1;  // index into the queries
  WindowStats stats;   // mean, max, min, std, n_windows, best window start/end over active windows
  Label label = Label::Low;
};

// Rows ordered by track (as in options.tracks, or ascending id when all), then query index.
// Throws clap::Error on a track id that is not in the catalog.
std::vector<AnalyzeRow> analyze(const Catalog& catalog, int64_t nq, const float* queries, const AnalyzeOptions& options);

struct WindowScore {
  int64_t window_id = -1;
  double start = 0, end = 0;
  double score = 0;
  Label label = Label::Low;
  bool silent = false;  // silent windows are listed but not part of the summary
};

struct SongAnalysis {
  int64_t track_id = -1;
  std::vector<WindowScore> windows;  // every window of the track, by start time
  WindowStats stats;                 // over the active windows, as in analyze()
  Label label = Label::Low;
};

SongAnalysis analyze_track(const Catalog& catalog, int64_t track_id, const float* query, const AnalyzeOptions& options);

}  // namespace clap::search
