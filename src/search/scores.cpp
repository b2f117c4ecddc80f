#include "search/scores.h"

#include <cmath>

#include "core/error.h"
#include "search/catalog.h"

namespace clap::search {

const char* label_name(Label label) {
  switch (label) {
    case Label::High: return "HIGH";
    case Label::Moderate: return "MODERATE";
    case Label::Low: return "LOW";
  }
  return "?";
}

Label label_for(double score, const LabelThresholds& t) {
  if (score > t.high) return Label::High;
  if (score > t.moderate) return Label::Moderate;
  return Label::Low;
}

const char* aggregate_name(Aggregate a) { return a == Aggregate::Mean ? "mean" : "max"; }

Aggregate parse_aggregate(const std::string& name) {
  if (name == "mean") return Aggregate::Mean;
  if (name == "max") return Aggregate::Max;
  throw Error("unknown aggregation '" + name + "' (expected mean or max)");
}

WindowStats summarize(const Catalog& catalog, std::span<const int64_t> rows, const float* scores) {
  WindowStats s;
  s.n_windows = static_cast<int64_t>(rows.size());
  if (rows.empty()) return s;
  double sum = 0;
  size_t best = 0;
  s.min = s.max = scores[0];
  for (size_t i = 0; i < rows.size(); ++i) {
    sum += scores[i];
    if (scores[i] > s.max) {
      s.max = scores[i];
      best = i;
    }
    if (scores[i] < s.min) s.min = scores[i];
  }
  s.mean = sum / static_cast<double>(rows.size());
  double var = 0;
  for (size_t i = 0; i < rows.size(); ++i) var += (scores[i] - s.mean) * (scores[i] - s.mean);
  s.std = std::sqrt(var / static_cast<double>(rows.size()));
  s.best_row = rows[best];
  s.best_window_id = catalog.table().window_ids[s.best_row];
  s.best_start = catalog.table().starts[s.best_row];
  s.best_end = catalog.table().ends[s.best_row];
  return s;
}

}  // namespace clap::search
