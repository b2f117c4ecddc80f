// What each user of the Subsonic API keeps (issue 54) as the server's endpoints ask for it: stars,
// ratings, plays (scrobbles), what is playing now, playlists, the play queue and bookmarks
// (play_queue.cpp). Over the server's one store connection (service/accounts.h AccountsConnection)
// and the tables of store.h (UserRecord ...); songs come in as the snapshot's tracks and go out as
// track ids of the library now (references re-attached first when the library changed: SongRef).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "service/accounts.h"
#include "store/store.h"

namespace clap::service {

// A song of the library as a reference (its id, content hash and path now).
store::SongRef song_ref(const store::Track& t);

// The most playlists a user may own (docs/security.md): UserData::save_playlist (createPlaylist)
// and save_mix_playlists (`clapsearch mix --save`) refuse to make one more. Nothing is deleted
// for it: playlists a user owned before (an index of before, a copy) stay, and only a new one is
// refused while they own this many. Without a bound one user's 100,000 public playlists slowed
// every user's getPlaylists (H9S-7).
inline constexpr int64_t kMaxPlaylistsPerUser = 10000;
// The refusal, the same words whoever makes the playlist.
std::string too_many_playlists_message();

class UserData {
 public:
  // `library_generation`: the snapshot's; references are re-attached when it moved since the
  // connection last did (an index run, a move, a rebuild).
  UserData(AccountsConnection& connection, int64_t user_id, int64_t library_generation);

  // Stars (kind "song" with a track, or "album"/"artist" with an id); `at` unix seconds.
  void star(const std::vector<const store::Track*>& songs, const std::vector<std::string>& albums,
            const std::vector<std::string>& artists, int64_t at);
  void unstar(const std::vector<const store::Track*>& songs, const std::vector<std::string>& albums,
              const std::vector<std::string>& artists);
  // What the user starred: songs by track id, albums and artists by id, each with its time.
  struct Starred {
    std::map<int64_t, int64_t> songs;  // track id -> starred at (newest first when listed by at)
    std::map<std::string, int64_t> albums, artists;
  };
  Starred starred() const;
  // Ratings 1..5 (0 removes), of a song or of an album/artist id.
  void rate(const store::Track* song, const std::string& kind, const std::string& item_id, int rating, int64_t at);
  struct Ratings {
    std::map<int64_t, int> songs;
    std::map<std::string, int> items;  // album and artist ids
  };
  Ratings ratings() const;

  // A play (a scrobble submission).
  void played(const store::Track& song, int64_t at, const std::string& source);
  // The user's plays per track id: how many (skips not counted) and the last one's time - what
  // getAlbumList(2) type=frequent and type=recent order by, and Child.playCount / played.
  struct PlayStats {
    int64_t count = 0, last = 0;
  };
  using PlayTally = std::map<int64_t, PlayStats>;
  // Summed once per user and connection, then brought up to date from the plays added since
  // (their ids only grow): every answer that lists songs shows their play counts, and a history
  // of 100,000 plays is not read again per request. Summed again from the start when the library
  // generation moved (song references re-attached to other track ids), when the last play summed
  // went or changed (forgotten, the user removed and the id given again), checked on every call,
  // and when fewer plays up to it are left than were summed (older plays forgotten by another
  // process), checked at most every `full_check_s` seconds: that count reads the user's whole
  // index (10-20 ms at 100,000 plays), too slow for every request. The result is shared, never
  // changed afterwards.
  static constexpr double kFullCheckSeconds = 10;
  std::shared_ptr<const PlayTally> play_tally(double full_check_s = kFullCheckSeconds) const;
  PlayTally play_stats() const { return *play_tally(); }  // a copy of play_tally()

  // Playlists the user may see (their own and public ones; every one for an admin with `all`).
  std::vector<store::PlaylistRecord> playlists(bool all = false) const;
  // What a listing of playlists (getPlaylists) shows of each playlist the user may see (their own
  // and public ones), or with `only_owner` of every playlist that user owns (an admin's listing of
  // another user's, getPlaylists?username=X: read alone, not picked out of everyone's): its
  // header, its owner's name ("" when gone), and how many of its entries are songs of the
  // library now and their length. `seconds_of(track_id)` is a song's length in whole seconds,
  // nullopt when the library has no such song (the entry stays stored, unseen). Three store reads
  // in one read scope whatever the number of playlists and entries (H9S-7: one read per playlist
  // made another user's 100,000 public playlists a 36 s listing), with the request's budget
  // (core/deadline.h) checked as the entries are summed.
  struct PlaylistSummary {
    store::PlaylistRecord playlist;  // without entries
    std::string owner;
    int64_t songs = 0, seconds = 0;
  };
  std::vector<PlaylistSummary> playlist_summaries(int64_t only_owner, const std::function<std::optional<int64_t>(int64_t)>& seconds_of) const;
  // A playlist the user may read (own, public, or any for an admin); nullopt when none.
  std::optional<store::PlaylistRecord> playlist(int64_t id, bool admin) const;
  // Writes a playlist the user owns (or any, for an admin); throws NotAllowed otherwise, and
  // TooMany for a new one (id 0) past kMaxPlaylistsPerUser of its owner.
  int64_t save_playlist(const store::PlaylistRecord& p, bool admin);
  // Reads playlist `id`, lets `change` edit it and writes it back, all under the connection's
  // lock, so that two changes at once (two phones each adding a song) each build on the other's
  // result: a read in one call and a write in the next kept only the later change. nullopt when
  // the user may not read the playlist (or it is gone); NotAllowed when they may read but not
  // write it (another user's public playlist). An exception from `change` writes nothing.
  std::optional<int64_t> change_playlist(int64_t id, bool admin, const std::function<void(store::PlaylistRecord&)>& change);
  void delete_playlist(int64_t id, bool admin);
  std::string user_name(int64_t id) const;

  // The play queue (savePlayQueue; play_queue.cpp): `songs` in order, `current` an index into
  // them, `position_ms` in that song, `changed_by` the app that saved it. No songs clears it.
  void save_play_queue(const std::vector<const store::Track*>& songs, int64_t current, int64_t position_ms,
                       const std::string& changed_by, int64_t at);
  std::optional<store::PlayQueueRecord> play_queue() const;  // nullopt: nothing saved
  // Bookmarks: one per song; a new one of the same song replaces it (keeping when it was made).
  void bookmark(const store::Track& song, int64_t position_ms, const std::string& comment, int64_t at);
  bool remove_bookmark(const store::Track& song);  // false when the user had none
  std::vector<store::BookmarkRecord> bookmarks() const;  // newest change first

  // A change the user is not allowed to make (another user's playlist): the server's code 50.
  class NotAllowed : public Error {
   public:
    using Error::Error;
  };
  // A new playlist its owner may not make: they own kMaxPlaylistsPerUser (the server's code 0).
  class TooMany : public Error {
   public:
    using Error::Error;
  };

 private:
  AccountsConnection& connection_;
  int64_t user_;
};

// A saved play queue as the library shows it now (play_queue.cpp): its songs that are in the
// library (`track` gives the library's track of an id, nullptr when it has none), in order; a song
// gone stays stored, unseen, until it comes back. The current song is the saved one when it is
// there, with its position; else the next one there after it (else the last one before it), from
// its start. Empty when none of its songs is in the library.
struct ShownQueue {
  std::vector<const store::Track*> songs;
  int64_t current = 0, position_ms = 0;
};
ShownQueue shown_queue(const store::PlayQueueRecord& queue, const std::function<const store::Track*(int64_t)>& track);

// What is playing now, per user and player (scrobble with submission=false), in memory: an entry
// older than an hour is dropped.
class NowPlaying {
 public:
  struct Entry {
    int64_t user_id = 0;
    std::string user, player;
    int64_t track_id = 0;
    int64_t since = 0;  // unix seconds
  };
  void set(const Entry& e);
  std::vector<Entry> list(int64_t now) const;  // newest first
  static NowPlaying& of(const std::string& location);  // the process's, per index

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<int64_t, std::string>, Entry> entries_;
};

}  // namespace clap::service
