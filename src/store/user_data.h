// What both stores share about users and what they keep (store.h UserRecord ...): the checks
// made before a write, and the SQL that re-attaches song references (SongRef), the same in both.
// Internal to the store layer.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "store/playlist_reads.h"
#include "store/store.h"

namespace clap::store {

// `name` quoted for messages (control characters escaped).
std::string quote_name(const std::string& name);

// Throw clap::Error naming what is wrong: an unknown kind, a song without a track id, an album or
// artist without an item id, a rating outside 0..5 (0 only in put_rating: it removes).
void check_feedback(const FeedbackRecord& f, bool rating);
void check_play(const PlayRecord& p);
void check_playlist(const PlaylistRecord& p);
void check_play_queue(const PlayQueueRecord& q);
void check_bookmark(const BookmarkRecord& b);

// The WHERE condition on `p` (the playlists table) that picks the playlists `which` covers, in
// both stores' SQL (a user id is a number: written into the text, as a cursor's query needs it).
// `public_true` is how the dialect tests the public column ("p.public <> 0", "p.public").
std::string playlists_where(const PlaylistsOf& which, const char* public_true);

// Fills the entries of `playlists` (by id, as playlist_headers lists them) from one read of their
// rows: `read(each)` hands each row (playlist id, entry) to `each` in playlist then position order
// (playlist_entries); a row of a playlist not among them (made since the headers were read) is
// passed over. The copy of every playlist (export_user_data) in two statements, not one a playlist.
void attach_entries(std::vector<PlaylistRecord>& playlists,
                    const std::function<void(const std::function<void(int64_t, const SongRef&)>&)>& read);

// A table holding song references: its name and the condition that picks its song rows.
struct SongRefTable {
  const char* name;
  const char* songs_only;  // a WHERE condition ("item_kind = 'song'"), or "1 = 1"
};
inline constexpr SongRefTable kSongRefTables[] = {
    {"stars", "item_kind = 'song'"},
    {"ratings", "item_kind = 'song'"},
    {"plays", "1 = 1"},
    {"playlist_entries", "1 = 1"},
    {"play_queue_entries", "1 = 1"},
    {"bookmarks", "1 = 1"},
};

// One UPDATE moving the table's detached references to the track that holds their recording now
// (store.h SongRef): by content hash (the track at the same path preferred, then the lowest id),
// else by path. A reference is attached while its track has its content hash, or has its path
// and no track has its content hash.
std::string reattach_sql(const SongRefTable& table);
// One UPDATE bringing attached references' content hash and path up to their track's.
std::string refresh_sql(const SongRefTable& table);
// One SELECT of the table's references that name a live track without being attached to it
// (Store::misattached_songs): track_id, content_hash, path, the track's path, the row count.
std::string misattached_sql(const SongRefTable& table);
// One UPDATE giving those of one recording ($1 track id, $2 content hash, $3 path; ?1.. in SQLite's
// form when `question_marks`) the track id $4.
std::string detach_sql(const SongRefTable& table, bool question_marks);

// One SELECT of the highest track id anything may still name: a track, a kept id (Store::wipe),
// a retired track (a file gone that may come back), or a user's star, rating, play, playlist,
// queue or bookmark. A new file takes an id above it (K6-1): a retired track, or a song whose
// track was deleted or purged, keeps its user data on its id until it is re-attached, and an id
// given again showed that data on another song (a star on a deleted song appeared on the next
// file added). `index --rebuild` does the same from the live index's user data (migrate.cpp).
// `with_retired`: whether the retired_tracks table exists (SQLite makes it on first use).
std::string highest_named_track_id_sql(bool with_retired);

}  // namespace clap::store
