// Reads of the users' playlists that their listing and their bound need (issue 53, H9S-7), on
// either store: functions over a Store rather than members of its interface (store.h), which
// every layer includes; each calls the same-named member of SqliteStore or PostgresStore.
#pragma once
#include <cstdint>
#include <functional>

#include "store/store.h"

namespace clap::store {

// The track id of every entry of the playlists `s.playlists(user_id)` lists (user 0: all), as
// `each(playlist_id, track_id)` per row, by playlist id then position: one query, whatever the
// number of playlists (a listing of 100,000 public playlists read them one at a time: 36 s).
// Rows are handed over as they are read (SQLite steps the statement; PostgreSQL fetches a cursor
// 10,000 rows at a time, inside the caller's read_scope() or a read-only transaction of its own),
// so memory does not grow with them; an exception from `each` stops the read and leaves the
// store usable.
void playlist_entry_tracks(const Store& s, int64_t user_id, const std::function<void(int64_t playlist_id, int64_t track_id)>& each);

// How many playlists user `owner` owns (the bound on them is the service's: service/user_data.h).
int64_t playlist_count(const Store& s, int64_t owner);

}  // namespace clap::store
