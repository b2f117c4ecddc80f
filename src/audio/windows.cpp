#include "audio/windows.h"

#include <algorithm>
#include <cmath>

#include "audio/decode.h"

#include "core/error.h"

namespace clap::audio {

std::vector<Window> plan_windows(int64_t total, int64_t window, int64_t hop) {
  if (window <= 0 || hop <= 0) throw Error("window and hop must be positive");
  std::vector<Window> out;
  if (total <= 0) return out;
  for (int64_t start = 0;; start += hop) {
    out.push_back({start, std::min(total, start + window)});
    // This window reaches the end of the track, or (a hop longer than the window) the next would
    // start at or past it: that window had its end before its start, and its length, read as a
    // size_t, sent the embedding past the samples (H11P-7: `embed --hop 100` of a 30 s file
    // crashed, `--hop 35` read memory after the samples).
    if (start + window >= total || start + hop >= total) break;
  }
  return out;
}

int64_t window_count(int64_t total, int64_t window, int64_t hop) {
  if (window <= 0 || hop <= 0) throw Error("window and hop must be positive");
  if (total <= 0) return 0;
  // plan_windows stops at the first start s with s + window >= total or s + hop >= total, that
  // is s + max(window, hop) >= total.
  const int64_t reach = std::max(window, hop);
  if (total <= reach) return 1;
  return 2 + (total - reach - 1) / hop;  // 1 + ceil((total - reach) / hop), without overflow
}

WindowLevel window_level(const float* x, size_t n) {
  WindowLevel w;
  w.rms_db = rms_dbfs(x, n);  // the level stored with each window
  float peak = 0;
  for (size_t i = 0; i < n; ++i) peak = std::max(peak, std::fabs(x[i]));
  w.peak_db = peak > 0 ? std::max(-200.0, 20.0 * std::log10(double(peak))) : -200.0;
  return w;
}

void QuietTrackCheck::add(const WindowLevel& w, double silence_db) {
  if (!(w.rms_db < silence_db)) any_loud_ = true;
  loudest_rms_db_ = std::max(loudest_rms_db_, w.rms_db);
  max_peak_db_ = std::max(max_peak_db_, w.peak_db);
}

double silence_threshold(const std::vector<WindowLevel>& levels, double silence_db) {
  QuietTrackCheck check;
  for (const WindowLevel& w : levels) check.add(w, silence_db);
  return check.needs_quiet_pass() ? check.quiet_threshold() : silence_db;
}

}  // namespace clap::audio
