// "For you" (issue 55) over an index's store: the history as the taste reads it (service/taste.h),
// from the index or from an export file, and the radio's query that follows the taste.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "service/history.h"  // history_user: whose history a command reads
#include "service/library.h"
#include "service/taste.h"
#include "store/store.h"

namespace clap::service {

// The user's plays, song stars and song ratings, resolved to the snapshot's tracks: entries whose
// track the library does not hold now (deleted, not indexed yet) are counted in `unresolved`.
TasteHistory load_history(const store::Store& store, int64_t user_id, const LibrarySnapshot& snap,
                     int64_t* unresolved = nullptr);

// A history export (ListenBrainz, Last.fm: service/history_files.h) as the taste reads it, without
// storing anything: each listen resolved to a track of the snapshot with the song resolver (as
// `history import` resolves them); the listens naming no song of the library are counted in
// `unresolved`. Throws clap::Error naming the file (service::read_history_file).
TasteHistory history_from_file(const LibrarySnapshot& snap, const std::string& path, int64_t* unresolved = nullptr);

// The moment a command measures the history's ages from: the end of the current UTC day (the next
// midnight after `now`), so that every run of one day gives the same taste and mixes bit for bit
// (measured from the second, two runs a second apart would differ in the last bits).
int64_t taste_clock(int64_t now);

// The query of the radio for you: the song playing `seed` (unit, dim floats) moved to the taste
// centre nearest it, pushed away from the songs skipped in this session:
//   normalise(seed + centre − Σ skipped · kSkipPush)
// (the seed alone when the taste has no centre). `centre` (optional) gets the centre's index, -1
// for none.
inline constexpr double kSkipPush = 0.5;
std::vector<float> for_me_query(const Taste& taste, const float* seed, int64_t dim,
                                const std::vector<const float*>& skipped, int64_t* centre = nullptr);

}  // namespace clap::service
