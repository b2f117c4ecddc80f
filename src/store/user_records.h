// The records of the users' own data (the OpenSubsonic server, issue 54; the listening history,
// issue 55) that Store (store.h) reads and writes: users, API keys, stars and ratings, plays,
// playlists, play queues and bookmarks. Kept apart from store.h, which holds the index's own
// records and the Store interface.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace clap::store {

// --- users and what they keep (the OpenSubsonic server, issue 54; the listening history, issue 55)
// Rows of their own tables, never touched by indexing: wipe (`index --rebuild`), remove_tracks and
// retire_tracks leave them, and no foreign key ties them to tracks.

// A user of the Subsonic API. `password_encrypted` is what the service layer made of the password
// (service/accounts.h: AES-256-GCM with the index's key file); the store never sees it in clear.
struct UserRecord {
  int64_t id = 0;
  std::string name;
  std::string password_encrypted;
  bool admin = false;
  int64_t created_at = 0;  // unix seconds
};

// An API key (the apiKeyAuthentication extension): only its sha256 (hex) is stored.
struct ApiKeyRecord {
  int64_t id = 0, user_id = 0;
  std::string key_hash, label;
  int64_t created_at = 0;
};

// A user's reference to a song. Track ids are not forever (`index --rebuild` keeps each file's id
// but not a file gone and found again; a file deleted and indexed again gets a new id; a copy
// by hand may differ), so a reference also keeps what finds the
// recording again: its content hash and its path when the reference was last known attached.
// A reference is attached while track `track_id` has that content hash or that path;
// Store::reattach_songs moves detached ones to the track that has (by content hash first, the one
// at the same path preferred, else by path).
struct SongRef {
  int64_t track_id = 0;
  std::string content_hash, path;
};

// What a star or rating is of ("song", "album", "artist"); songs by SongRef, the others by the
// id the Subsonic front end gives them (item_id).
struct FeedbackRecord {
  int64_t user_id = 0;
  std::string kind, item_id;  // item_id "" for a song
  SongRef song;               // kind == "song" only
  int rating = 0;             // 1..5 in a rating; 0 in a star
  int64_t at = 0;             // unix seconds: starred_at / rated_at
};

// One play of a song (scrobble submissions, the MPD radio, history imports).
struct PlayRecord {
  int64_t id = 0, user_id = 0;
  SongRef song;
  int64_t played_at = 0;     // unix seconds, when it started
  double seconds_played = 0; // 0 = not known
  bool skipped = false;
  std::string source;        // "subsonic", "mpd", "listenbrainz", "lastfm", "beets", ...
};

// Store::song_play_counts: the plays of one song (named by content hash and path as the plays
// name it) that were skipped, or not.
struct SongPlayCount {
  std::string content_hash, path;
  bool skipped = false;
  int64_t count = 0;
};

struct PlaylistRecord {
  int64_t id = 0, owner = 0;  // owner: a user id
  std::string name, comment;
  bool is_public = false;
  int64_t created_at = 0, changed_at = 0;
  std::vector<SongRef> entries;  // in order (filled by playlist(); playlists() leaves it empty)
  int64_t entry_count = 0;       // filled by reads
};

// A user's play queue (the Subsonic API's savePlayQueue), one per user: the songs in order, the
// one playing as an index into them (a queue may hold a song twice: the indexBasedQueue
// extension), the position in it, and when and by which app it was saved.
struct PlayQueueRecord {
  int64_t user_id = 0;
  std::vector<SongRef> entries;
  int64_t current = 0;      // index into entries
  int64_t position_ms = 0;  // in the current song
  int64_t changed_at = 0;   // unix seconds
  std::string changed_by;   // the app that saved it (the Subsonic `c` parameter)
};

// A position in a song that a user keeps (createBookmark): one per user and song.
struct BookmarkRecord {
  int64_t user_id = 0;
  SongRef song;
  int64_t position_ms = 0;
  std::string comment;
  int64_t created_at = 0, changed_at = 0;  // unix seconds
};

// What Store::forget_history removed.
struct HistoryRemoved {
  int64_t plays = 0, stars = 0, ratings = 0;
};

// Everything of the users, for `clapsearch migrate` (ids kept).
struct UserDataCopy {
  std::vector<UserRecord> users;
  std::vector<ApiKeyRecord> api_keys;
  std::vector<FeedbackRecord> stars, ratings;
  std::vector<PlayRecord> plays;
  std::vector<PlaylistRecord> playlists;  // with their entries
  std::vector<PlayQueueRecord> play_queues;
  std::vector<BookmarkRecord> bookmarks;
  bool empty() const { return users.empty(); }
};

}  // namespace clap::store
