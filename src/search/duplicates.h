// Duplicate recordings: tracks that are the same recording in another file (another format,
// bit rate, sample rate or channel count, a few seconds of silence or fade added or cut).
//
// Candidates come from the track embeddings (each track's nearest tracks, of similar length).
// No single cosine means "same recording" for every model (the random-weight test model puts
// almost every pair of tracks above 0.99, a real checkpoint puts re-encodes at 0.997-0.9995 and
// different songs far lower), so the decision is made otherwise, in this order:
//
//   1. Acoustic fingerprints (search/fingerprint_match.h), when both tracks have one: the pair
//      is a duplicate when at most kSameRecordingBitErrorRate of the bits differ at the best
//      offset, over at least `min_coverage` of the shorter fingerprint. This does not depend on
//      the model's weights, and it sees offsets to a ~0.12 s item, not to the window hop.
//   2. Otherwise (an index made before fingerprints, or a track too short for one) by window
//      alignment, which is calibrated by each track against itself:
//
//   Track a's windows are compared with track b's along every constant time offset (a diagonal
//   of the window grid, k hops). A window of a *aligns* when the better of b's two windows
//   around that offset (k and k+1 hops, so offsets between grid points count) is clearly
//   closer to it (by a margin: 0.75×) than a's own neighbouring window (the same song one hop
//   earlier or later). A re-encode's
//   window is a near copy and wins; another song's rarely beats the song itself five seconds
//   on. The pair is a duplicate when, along its best offset, at least `min_aligned` of the
//   windows align in both directions (a → b and b → a) and the overlap covers most of both.
//
// Tracks with fewer than two usable windows cannot be aligned: they are grouped only by an
// absolute `threshold` on the track cosine, when the caller gives one (which then replaces the
// window rule for every pair; the alignment is still measured and reported).
//
// Groups are the connected components of the duplicate pairs. Everything is deterministic:
// candidates, pairs and groups come out in id order whatever the thread count.
#pragma once
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "core/embeddings.h"
#include "search/catalog.h"
#include "search/fingerprint_match.h"

namespace clap::search {

// A window aligns with (matches) another track's window when it is closer to it than this times
// its distance to its own song one hop on (see above; overlaps.h uses the same calibration).
inline constexpr double kAlignMargin = 0.75;

struct DuplicateOptions {
  double threshold = 0;             // > 0: a pair is a duplicate when its track cosine >= this
  double min_duration_ratio = 0.9;  // shorter / longer duration of a pair
  int neighbours = 16;              // candidate tracks per track (nearest by track embedding)
  double min_aligned = 0.9;         // share of windows that must align (window rule)
  double min_coverage = 0.8;        // share of each track's windows the best offset must overlap
};

// How two tracks' windows line up at their best constant offset.
struct Alignment {
  double aligned = 0;   // share of compared windows that align (the smaller of both directions)
  double offset_s = 0;  // a's content at time t is b's at t + offset_s (between grid points:
                        // interpolated from the two nearest offsets' window distances)
  int windows = 0;      // windows compared (a → b)
  bool measurable = false;  // both tracks have at least two usable windows and enough overlap
};

// The evidence that decided a pair.
enum class DuplicateRule { Identical, Fingerprint, Windows, Threshold };
const char* rule_name(DuplicateRule rule);  // "identical", "fingerprint", "windows", "threshold"

struct DuplicatePair {
  int64_t a = 0, b = 0;  // track ids, a < b
  double score = 0;      // cosine of the track embeddings
  Alignment alignment;   // measured only when the fingerprints could not decide
  FingerprintMatch fingerprint;  // measurable when both tracks have fingerprints long enough
  DuplicateRule rule = DuplicateRule::Windows;
  bool identical = false;  // the same bytes (equal content hashes): a duplicate whatever its length
};

// A track's acoustic fingerprint, or nullptr when it has none.
using FingerprintLookup = std::function<const std::vector<uint32_t>*(int64_t track_id)>;

// The alignment of two tracks of the catalog (track indexes), on a grid of `hop_s`.
Alignment align_tracks(const Catalog& catalog, int64_t track_index_a, int64_t track_index_b, double hop_s,
                       double min_coverage = DuplicateOptions{}.min_coverage);

// Duplicate pairs whose first track is one of `of` (track ids; all tracks when empty).
// `tracks` are the track embeddings (ids = track ids), `duration_of` gives a track's duration
// in seconds. `progress(done, total)` is called now and then when given.
// `fingerprint_of` gives the tracks' fingerprints (none: the window rule decides every pair).
// `known`: pairs known to be copies before the call (a closure round's, a request's RequestCopies
// groups): a track's walk down its ranking goes past them, so that many copies of it do not use up
// its candidates (copies16).
std::vector<DuplicatePair> find_duplicate_pairs(const Catalog& catalog, const Embeddings& tracks,
                                                const std::function<double(int64_t)>& duration_of, double hop_s,
                                                const DuplicateOptions& options, const FingerprintLookup& fingerprint_of,
                                                const std::vector<int64_t>& of = {},
                                                const std::function<void(int64_t, int64_t)>& progress = {},
                                                const std::vector<std::pair<int64_t, int64_t>>& known = {});

// Connected components of the pairs (each sorted by id; groups ordered by their smallest id).
std::vector<std::vector<int64_t>> group_pairs(const std::vector<DuplicatePair>& pairs);

}  // namespace clap::search
