// Reads of the users' playlists that their listings, their bound and their copy need (issue 53,
// H9S-7), on either store: functions over a Store rather than members of its interface (store.h),
// which every layer includes; each calls the same-named member of SqliteStore or PostgresStore.
// Every reader of many playlists reads them in a fixed number of statements, whatever their number
// (one read per playlist made another user's 100,000 public playlists a 36 s listing).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace clap::store {

// Which playlists a read covers: those user `user_id` may see (their own and the public ones, as
// Store::playlists lists them; user 0: every playlist), or with `owned_only` only the ones
// `user_id` owns (an admin's listing of one user's playlists); with a `comment_prefix`, only those
// whose comment starts with it (a user's mixes, not their other playlists' entries).
struct PlaylistsOf {
  // Not explicit: a user id alone is the usual selection (playlist_entry_tracks(s, user, ...)).
  PlaylistsOf(int64_t user, bool owned = false, std::string prefix = "")
      : user_id(user), owned_only(owned), comment_prefix(std::move(prefix)) {}
  int64_t user_id = 0;
  bool owned_only = false;
  std::string comment_prefix;
};

// The playlists `which` covers, by id, without entries (entry_count filled): one query.
std::vector<PlaylistRecord> playlist_headers(const Store& s, PlaylistsOf which);

// The track id of every entry of the playlists `which` covers, as `each(playlist_id, track_id)`
// per row, by playlist id then position: one query, whatever the number of playlists.
// Rows are handed over as they are read (SQLite steps the statement; PostgreSQL fetches a cursor
// 10,000 rows at a time, inside the caller's read_scope() or a read-only transaction of its own),
// so memory does not grow with them; an exception from `each` stops the read and leaves the
// store usable.
void playlist_entry_tracks(const Store& s, PlaylistsOf which, const std::function<void(int64_t playlist_id, int64_t track_id)>& each);
// The same rows with the whole song reference (track id, content hash and path), for readers that
// check an entry is still the recording it named (a mix) or copy it (migrate).
void playlist_entries(const Store& s, PlaylistsOf which, const std::function<void(int64_t playlist_id, const SongRef& entry)>& each);

// How many playlists user `owner` owns (the bound on them is the service's: service/user_data.h).
int64_t playlist_count(const Store& s, int64_t owner);

}  // namespace clap::store
