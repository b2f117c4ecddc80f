// What each user of the Subsonic API keeps (issue 54) as the server's endpoints ask for it: stars,
// ratings, plays (scrobbles), what is playing now, playlists. Over the server's one store connection
// (service/accounts.h AccountsConnection) and the tables of store.h (UserRecord ...); songs come in
// as the snapshot's tracks and go out as track ids of the library now (references re-attached
// first when the library changed: store.h SongRef).
#pragma once
#include <cstdint>
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
  // A playlist the user may read (own, public, or any for an admin); nullopt when none.
  std::optional<store::PlaylistRecord> playlist(int64_t id, bool admin) const;
  // Writes a playlist the user owns (or any, for an admin); throws NotAllowed otherwise.
  int64_t save_playlist(const store::PlaylistRecord& p, bool admin);
  void delete_playlist(int64_t id, bool admin);
  std::string user_name(int64_t id) const;

  // A change the user is not allowed to make (another user's playlist): the server's code 50.
  class NotAllowed : public Error {
   public:
    using Error::Error;
  };

 private:
  AccountsConnection& connection_;
  int64_t user_;
};

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
