// Rows of the inactive embedding sets (set_windows, set_tracks) whose track is gone: a hand edit
// or another tool deleted tracks with foreign keys off (SQLite enforces them per connection). A
// copy (`clapsearch migrate`) carries a set's rows with their track, so it cannot carry these: it
// says how many it leaves out (issue 53) rather than dropping them without a word. A function over
// a Store rather than a member of its interface (store.h), which every layer includes.
#pragma once
#include <cstdint>

#include "store/store.h"

namespace clap::store {

struct SetRowsOfNoTrack {
  int64_t windows = 0, tracks = 0;  // set_windows rows, set_tracks rows
};
SetRowsOfNoTrack set_rows_of_no_track(const Store& s);

}  // namespace clap::store
