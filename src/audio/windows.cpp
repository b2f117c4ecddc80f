#include "audio/windows.h"

#include <algorithm>

#include "core/error.h"

namespace clap::audio {

std::vector<Window> plan_windows(int64_t total, int64_t window, int64_t hop) {
  if (window <= 0 || hop <= 0) throw Error("window and hop must be positive");
  std::vector<Window> out;
  if (total <= 0) return out;
  for (int64_t start = 0;; start += hop) {
    out.push_back({start, std::min(total, start + window)});
    if (start + window >= total) break;  // this window reaches the end of the track
  }
  return out;
}

}  // namespace clap::audio
