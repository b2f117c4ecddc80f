// `clapsearch migrate`: an index copied whole from one store to another — a SQLite file to a
// PostgreSQL database (postgresql://...) or back — with every id and every embedding bit kept,
// so that every query gives the same output on the copy as on the original.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/store.h"

namespace clap::service {

struct MigrateSummary {
  std::string from, to;  // as messages show them: a SQLite path made absolute, a URL without its password
  int64_t tracks = 0, windows = 0, labels = 0;  // library tracks (every status) with their windows and labels
  int64_t retired = 0, retired_windows = 0;     // retired tracks (kept restorable) and their windows
  int64_t cached_texts = 0, roots = 0;
  int64_t packet_hashes = 0;  // of the tracks' and retired tracks' files (audio/packet_hash.h)
  // The embedding sets copied (the active one included) and the windows the inactive ones hold.
  int64_t embedding_sets = 0, set_windows = 0;
  // Rows of the inactive sets whose track is gone (store/orphan_rows.h): left out of the copy,
  // which carries a set's rows with their track; said, not dropped without a word (issue 53).
  int64_t set_windows_of_no_track = 0, set_tracks_of_no_track = 0;
  // The users and what they keep (their passwords encrypted again with the copy's key file,
  // service/accounts.h).
  int64_t users = 0, api_keys = 0, stars = 0, ratings = 0, plays = 0, playlists = 0;
  store::Counts counts;                          // the copy's, equal to the source's (verified)
  // Problems the copy's check() found that the source has as well (a faithful copy of an
  // index with problems); a copy with problems of its own is never committed.
  std::vector<std::string> inherited_problems;
  double seconds = 0;
};

// Copies the index at `from` (a SQLite path or a server URL; read-only, one consistent state
// even while an indexer writes to it) into `to` (a new or empty SQLite file, or an empty
// PostgreSQL database), in one transaction: on any failure — a refused destination, a write
// error, a copy that does not verify — the destination is left as it was (a SQLite file this
// call created is removed). Refuses a destination that holds anything, and a source without an
// index. `progress(done, total)` counts tracks (library and retired) after each batch.
// Throws clap::Error.
MigrateSummary migrate_index(const std::string& from, const std::string& to,
                             const std::function<void(int64_t, int64_t)>& progress = {});

// `index --rebuild` (issue 53): replaces everything `dst` holds by a copy of `src` (a rebuilt
// index) in one transaction of `dst`, so that its readers see the old library until the new one
// is there whole. Verified as migrate_index verifies; on failure `dst` is left as it was.
void replace_index(const store::Store& src, store::Store& dst);

}  // namespace clap::service
