// Progressive indexing: in which pass each window of a track is embedded.
//
// The first pass embeds a few evenly spaced windows of every track (`first_pass`, the centres
// of that many equal stretches of the track), so the whole library is searchable early; each
// later pass adds the midpoint of every gap between the windows already there (the ends of the
// track count as gap edges), the window that tells most about what the track holds that is not
// yet known, until every window is in. The indexer runs pass after pass over the whole library,
// so every track reaches one level before any track goes deeper.
//
// Only non-silent windows are planned (silent ones carry no embedding and are stored with the
// first pass): passes are computed over the positions of the track's non-silent windows, which
// the stored rows tell (every silent window is stored in the first pass; a window not stored is
// a non-silent one still to embed), so a later run plans the same layout without decoding the
// file to learn it.
#pragma once
#include <vector>

namespace clap::index {

inline constexpr int kDefaultFirstPass = 4;

// Pass (1, 2, ...) of each of `active` non-silent windows, by position. first_pass <= 0, or a
// track with at most first_pass such windows: every window in pass 1 (all at once).
std::vector<int> window_passes(int active, int first_pass);

}  // namespace clap::index
