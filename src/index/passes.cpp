#include "index/passes.h"

#include <algorithm>

namespace clap::index {

std::vector<int> window_passes(int active, int first_pass, int last_pass) {
  std::vector<int> pass(static_cast<size_t>(std::max(active, 0)), 0);
  if (first_pass <= 0 || active <= first_pass) {
    std::fill(pass.begin(), pass.end(), 1);
    return pass;
  }
  // Pass 1: the centre of each of first_pass equal stretches (distinct since active > first_pass).
  std::vector<int> chosen;
  for (int i = 0; i < first_pass; ++i) {
    const int at = static_cast<int>((int64_t(2 * i + 1) * active) / (2 * int64_t(first_pass)));
    pass[static_cast<size_t>(at)] = 1;
    chosen.push_back(at);
  }
  // Later passes: the midpoint of every gap, the track's ends (-1 and active) as edges.
  for (int level = 2; static_cast<int>(chosen.size()) < active; ++level) {
    std::vector<int> added;
    int prev = -1;
    for (size_t k = 0; k <= chosen.size(); ++k) {
      const int next = k < chosen.size() ? chosen[k] : active;
      if (next - prev >= 2) added.push_back(prev + (next - prev) / 2);
      prev = next;
    }
    for (int at : added) pass[static_cast<size_t>(at)] = std::min(level, std::max(last_pass, 2));
    chosen.insert(chosen.end(), added.begin(), added.end());
    std::sort(chosen.begin(), chosen.end());
  }
  return pass;
}

}  // namespace clap::index
