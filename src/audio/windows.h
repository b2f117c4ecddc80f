// Cutting a track into analysis windows: `window` seconds every `hop` seconds, covering the
// whole track. The last window may be partial (the feature extractor repeat-pads it as the
// reference pads short clips); a track shorter than a window still gets one window.
#pragma once
#include <cstdint>
#include <vector>

namespace clap::audio {

struct Window {
  int64_t start = 0;  // first sample
  int64_t end = 0;    // one past the last sample (<= track length)
};

// Windows for a track of `total` samples; window/hop in samples (hop > 0).
std::vector<Window> plan_windows(int64_t total, int64_t window, int64_t hop);

}  // namespace clap::audio
