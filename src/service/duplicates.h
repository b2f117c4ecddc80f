// Duplicate recordings in a library (search/duplicates.h has the rule): groups with a suggested
// keeper, and the folding of result lists to one track per group (--collapse-duplicates).
// Works on the index alone (no model run); the files of grouped tracks are opened only to read
// their headers (format, bit rate) and their first seconds (the measured band: audio/bandwidth.h)
// for choosing the keeper, once per content. Nothing is ever deleted.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "audio/bandwidth.h"
#include "audio/decode.h"
#include "search/duplicates.h"
#include "service/library.h"

namespace clap::service {

struct DuplicateMember {
  int64_t track_id = 0;
  bool keeper = false;
  double score = 1;      // cosine of the track embeddings with the keeper's (1 for the keeper)
  double offset_s = 0;   // the keeper's content at time t is this file's at t + offset_s
  double bit_error_rate = -1;  // fingerprints' differing bits against the keeper's; -1: no fingerprints
  double aligned = -1;   // share of windows aligned with the keeper's (when there are no
                         // fingerprints to compare); -1: not measured
  double duration_s = 0;
  bool format_known = false;
  audio::StreamFormat format;
  std::string format_error;  // why the header could not be read (file moved, unreadable)
  // The audio's measured bandwidth (a few seconds decoded; audio/bandwidth.h), and what it tells
  // beside the group's other copies: `widest` when it holds about the widest band measured in
  // the group (or could not be measured), `lossy_source` when the file is lossless but stops at
  // a lossy encoder's cut-off (a FLAC made from an MP3): the container adds nothing then.
  audio::Bandwidth bandwidth;
  bool widest = true;
  bool lossy_source = false;
};

struct DuplicateGroup {
  std::vector<DuplicateMember> members;     // keeper first, then by track id
  std::vector<search::DuplicatePair> pairs; // the confirmed pairs that joined the group
};

// What a scan did, for the tests that hold its work linear in the number of different
// recordings (copies of one file are compared once, through one representative).
struct DuplicateWork {
  int64_t neighbour_queries = 0;  // tracks whose nearest tracks were examined
  int64_t pairs_measured = 0;     // fingerprint or window comparisons outside that examination
  int64_t headers_read = 0;       // files opened to read their format (and measure their band)
};

// Every duplicate group of the library (or of the groups around `of`, track ids, when not
// empty). `progress(done, total)` reports the candidate scan; `work`, when given, counts what
// the scan did. Without `measure_bands` (callers that use the groups, not their keepers: the
// radio, playlists, --diversity) no audio is decoded and the keeper is chosen by the headers.
// Throws DeadlineExceeded (core/deadline.h) past the thread's time budget.
std::vector<DuplicateGroup> find_duplicates(const LibrarySnapshot& snap, const search::DuplicateOptions& options,
                                            const std::vector<int64_t>& of = {},
                                            const std::function<void(int64_t, int64_t)>& progress = {},
                                            DuplicateWork* work = nullptr, bool measure_bands = true);

// Copies of one recording among `ids` alone (a radio's or a playlist's own tracks), without
// looking at the rest of the library: files with the same bytes (content hash), and the pairs the
// duplicate rule (search/duplicates.h) confirms among each track's DuplicateOptions::neighbours
// nearest tracks *within `ids`*. Groups are the connected components (ids ascending, groups by
// their smallest id); tracks in no group are not listed.
//
// Every pair find_duplicates confirms between two of `ids` directly is confirmed here too: a
// track's nearest tracks in the library that are among `ids` are among its nearest within `ids`
// (fewer tracks compete), and the same rule decides. What it does not see is a chain through a
// track outside `ids` (A and B each a copy of C, but not of each other by the rule, with C not in
// `ids`). The cost is |ids|² dot products and the pairs' checks, not |ids| searches of the whole
// library (a radio's next song over 100,000 tracks took 2.7 s with find_duplicates; issue 55).
std::vector<std::vector<int64_t>> copies_among(const LibrarySnapshot& snap, const std::vector<int64_t>& ids);

// The indexed tracks with the same bytes (content hash) as one of `ids`, `ids` included: one pass
// over the track list, for leaving every identical copy out at once (issue 53, M9).
std::vector<int64_t> identical_copies_of(const LibrarySnapshot& snap, const std::vector<int64_t>& ids);

// Where a pair's second track has the first one's content (see DuplicateMember::offset_s): from
// the fingerprints when they were compared, else from the window alignment, else 0.
double pair_offset_s(const search::DuplicatePair& p);

// Track id -> position of its group in `groups`, for the tracks that are in one.
std::map<int64_t, size_t> group_index(const std::vector<DuplicateGroup>& groups);

// Orders copies of one recording best first: the one whose measured band is about the widest
// of the group first (DuplicateMember::widest), then a lossless file that is not made from a
// lossy one, then a file that is not such a copy (the original MP3 before the FLAC made from it);
// then the wider band by the header (the sample rate, up to 44.1 kHz, which holds the whole
// audible band: 44.1 and 48 kHz are equal here), then lossless before lossy; among lossless files the higher sample rate, bit depth, channel count; among
// lossy ones the higher bit rate, then sample rate and channels; then the longer file; then the
// smaller track id. A file whose header cannot be read comes last.
bool better_copy(const DuplicateMember& a, const DuplicateMember& b);

// "flac 44.1 kHz 16-bit stereo", "mp3 128 kb/s 44.1 kHz stereo", or the reason it is unknown.
std::string format_text(const DuplicateMember& m);

// A result list folded to one entry per duplicate group: `ranked` are track ids in rank order;
// the entries kept (their positions in `ranked`) are in rank order, at most `limit` (0 = all).
// A group is shown where its best-ranked member is, as its keeper's own entry when the keeper
// is in the list (else as that best-ranked member), with the group's other tracks as copies.
struct CollapsedEntry {
  size_t position = 0;
  std::vector<int64_t> copies;  // the group's other track ids, ascending
};
std::vector<CollapsedEntry> collapse_duplicates(const LibrarySnapshot& snap, const std::vector<int64_t>& ranked,
                                                size_t limit, const search::DuplicateOptions& options = {});

// How many results to ask a ranking for so that `k` remain after folding copies away.
int64_t results_before_collapse(int64_t k);

// Folds `results` (rank order, asked for with service::results_before_collapse(k) entries) to
// at most k entries (0 = all), one per duplicate group; returns each kept
// entry's copies (the group's other track ids).
template <class T, class IdOf>
std::vector<std::vector<int64_t>> collapse_results(const service::LibrarySnapshot& snap, std::vector<T>& results, int64_t k,
                                                   IdOf id_of) {
  std::vector<int64_t> ids;
  for (const T& r : results) ids.push_back(id_of(r));
  std::vector<T> kept;
  std::vector<std::vector<int64_t>> copies;
  for (auto& e : service::collapse_duplicates(snap, ids, static_cast<size_t>(k > 0 ? k : 0))) {
    kept.push_back(results[e.position]);
    copies.push_back(std::move(e.copies));
  }
  results = std::move(kept);
  return copies;
}


}  // namespace clap::service
