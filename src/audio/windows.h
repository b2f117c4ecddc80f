// Cutting a track into analysis windows: `window` seconds every `hop` seconds, covering the
// whole track. The last window may be partial (the feature extractor repeat-pads it as the
// reference pads short clips); a track shorter than a window still gets one window.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace clap::audio {

struct Window {
  int64_t start = 0;  // first sample
  int64_t end = 0;    // one past the last sample (<= track length)
};

// Windows for a track of `total` samples; window/hop in samples (hop > 0).
std::vector<Window> plan_windows(int64_t total, int64_t window, int64_t hop);

// How many windows plan_windows(total, window, hop) gives, counted without laying them out.
int64_t window_count(int64_t total, int64_t window, int64_t hop);

// The most windows laid out ahead from a length a file's container or packets claim (58 days at
// the default 5 s hop): a claim is not a decode, and a 1.4 MB file whose header said it lasts 10^9
// s made `index` lay out 2*10^8 windows and stop the whole run "out of memory" (hostile pass 12,
// H12C-2). A longer claim is not laid out: the file is decoded whole, which finds its real length.
inline constexpr int64_t kMaxLaidOutWindows = int64_t(1) << 20;

// Which windows are silence (README "Silence"). A window is silent when its RMS level is below
// the threshold (--silence-db, default -60 dBFS). But quiet is not silent: a track whose every
// window is below the threshold while some sample peaks at or above kDigitalSilenceDb (a quiet
// recording, a module rendered at low level) is judged against itself instead: a window is
// silent when it is more than kQuietRangeDb below the track's loudest window. Only digital
// silence (or near it) makes a whole track silent.
inline constexpr double kDigitalSilenceDb = -90;
inline constexpr double kQuietRangeDb = 30;

// Level of a window: RMS and peak, in dBFS (-inf for exact zeros).
struct WindowLevel {
  double rms_db = 0, peak_db = 0;
};
WindowLevel window_level(const float* x, size_t n);

// The threshold for a whole track given every window's level and the configured threshold.
double silence_threshold(const std::vector<WindowLevel>& levels, double silence_db);

// Streaming form for the indexer, which sees windows one at a time: true when a track whose
// windows were all below `silence_db` must be judged again as a quiet track (second pass with
// quiet_threshold()).
class QuietTrackCheck {
 public:
  void add(const WindowLevel& w, double silence_db);
  bool needs_quiet_pass() const { return !any_loud_ && max_peak_db_ >= kDigitalSilenceDb; }
  double quiet_threshold() const { return loudest_rms_db_ - kQuietRangeDb; }

 private:
  bool any_loud_ = false;
  double loudest_rms_db_ = -1e300, max_peak_db_ = -1e300;
};

}  // namespace clap::audio
