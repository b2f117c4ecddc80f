// Shared scoring vocabulary: relevance labels, mean/max aggregation and the per-track window
// statistics that text search and analyze both report (one definition, so the two commands
// can never disagree about a track's score).
#pragma once
#include <cstdint>
#include <span>
#include <string>

namespace clap::search {

class Catalog;

enum class Label { Low, Moderate, High };
const char* label_name(Label label);  // "LOW", "MODERATE", "HIGH"

// Cosine thresholds of the labels: HIGH when score > high, MODERATE when > moderate, else LOW
// (strict: a score exactly at a threshold takes the lower label).
struct LabelThresholds {
  double high = 0.3;
  double moderate = 0.15;
};
Label label_for(double score, const LabelThresholds& thresholds);

// How window scores become a track score. Mean follows the original study, which averages
// segment scores; Max finds a track with one strongly matching passage.
enum class Aggregate { Mean, Max };
const char* aggregate_name(Aggregate a);           // "mean", "max"
Aggregate parse_aggregate(const std::string& name);  // throws clap::Error

struct WindowStats {
  int64_t n_windows = 0;
  double mean = 0, max = 0, min = 0;
  double std = 0;  // population standard deviation (divides by n_windows)
  // Best window: highest score, the earliest one on ties.
  int64_t best_row = -1, best_window_id = -1;
  double best_start = 0, best_end = 0;

  double score(Aggregate a) const { return a == Aggregate::Mean ? mean : max; }
};

// Statistics of one track's windows `rows` (catalog rows, in catalog order) whose scores are
// scores[i] for rows[i]. Sums run in double in row order: the result does not depend on threads.
WindowStats summarize(const Catalog& catalog, std::span<const int64_t> rows, const float* scores);

}  // namespace clap::search
