// `clapsearch eval --history` (issue 55): a listening history replayed. The plays of the last
// holdout_days days (counted back from the newest play) are held out; the taste, the mixes and the
// radio are made from the plays before them, as they would have been that day, and scored on the
// songs played in the held-out days beside three baselines. Rows:
//   mixes      every mix (MixOptions, not_played_days 0: a song played last week may be in today's);
//   radio      the radio for you (for_me_query) from the last song played before the cut, `size` songs;
//   random     as many tracks as the mixes, drawn with a fixed seed;
//   most played  the most played tracks before the cut, as many;
//   similar to last played  the tracks nearest the last song played before the cut, as many.
// Metrics: hit rate@size = the share of the distinct songs played in the held-out days (not
// skipped) that the row lists; novelty = the share of listed songs never played nor starred
// before the cut; diversity = distinct artists per list of `size` songs (the mean; tracks without
// an artist count as their own). Deterministic: the same history gives the same numbers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "service/library.h"
#include "service/mixes.h"
#include "service/taste.h"

namespace clap::service {

struct HistoryEvalOptions {
  int64_t holdout_days = 7;
  TasteOptions taste;
  MixOptions mix;  // not_played_days is set to 0
  uint64_t random_seed = 55;
};

struct HistoryEvalRow {
  std::string name;
  int64_t listed = 0, hits = 0;
  double hit_rate = 0, novelty = 0, diversity = 0;
};

struct HistoryEval {
  int64_t cutoff = 0;  // unix seconds: plays at or after it are held out
  int64_t train_plays = 0, heldout_plays = 0, heldout_songs = 0, centres = 0;
  std::vector<HistoryEvalRow> rows;
};

// Throws InvalidArgument on holdout_days outside 1-36500, Error when the history has no plays before the cut
// or none (not skipped) after it.
HistoryEval evaluate_history(const LibrarySnapshot& snap, const TasteHistory& history, const HistoryEvalOptions& options);

}  // namespace clap::service
