// Progressive indexing: in which pass each window of a track is embedded.
//
// The first pass embeds a few evenly spaced windows of every track (`first_pass`, the centres
// of that many equal stretches of the track), so the whole library is searchable early; each
// later pass adds the midpoint of every gap between the windows already there (the ends of the
// track count as gap edges), the window that tells most about what the track holds that is not
// yet known, and the last pass (kLastPass) takes every window left. The indexer runs pass after pass over the whole library,
// so every track reaches one level before any track goes deeper.
//
// Only non-silent windows are planned (silent ones carry no embedding): passes are computed over
// the positions of the windows not stored as silent, which the stored rows tell, so a later run
// plans the same layout without decoding the file to learn it. A first pass that decodes the file
// whole stores every silent window with it; one cut as spans (index/pipeline_internal.h) knows
// none yet, lays its windows out over all of them, and its later passes record each silent
// window they meet.
#pragma once
#include <vector>

namespace clap::index {

// 3: the budget for "every song of 20,000 searchable in the first hour on two cores" is 0.18 s a
// song, and int8 HTSAT-base embeds a window in about 46 ms on an idle 2-core AVX-512 machine
// (112x real time with 10 s windows every 5 s): 3 windows are 0.14 s, which leaves the rest for
// reading the file and decoding the windows as spans; 4 would spend the whole budget on the model.
inline constexpr int kDefaultFirstPass = 3;
// The deepest pass: every window the bisection would place deeper joins it. Each pass decodes
// every file again (the first pass once, or only its windows where the span decoder cuts them), and
// a decode costs 15-33 % of what the int8 HTSAT-base model costs a song (FFmpeg measured here at
// 260-570x real time on one core against the model's 87x), so every further pass adds that to
// the whole run. Two passes buy what progressive indexing is for, a library searchable early.
inline constexpr int kLastPass = 2;

// Pass (1 .. last_pass) of each of `active` non-silent windows, by position. first_pass <= 0,
// or a track with at most first_pass such windows: every window in pass 1 (all at once).
std::vector<int> window_passes(int active, int first_pass, int last_pass = kLastPass);

}  // namespace clap::index
