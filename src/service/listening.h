// What a player plays, as plays of the history (issue 55): `clapsearch radio` watches MPD and
// records each song heard for a user as source "mpd", skips included.
//
// A player tells its state at moments (MPD: at each queue or player event): which queue entry is
// current, whether it plays, how far into it, how long it is. PlayWatcher turns those moments into
// finished plays: a song's time heard is the wall-clock time it was playing (pauses do not count;
// a song already playing when watching starts counts from its elapsed time), and it is finished
// when another entry becomes current or the player stops. A song left before 30 s or before half
// its length, whichever comes first, is a skip (a song of 40 s left at 25 s was heard; a song
// whose length is unknown is a skip before 30 s).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "store/store.h"

namespace clap::service {

class AccountsConnection;

inline constexpr double kSkipBeforeSeconds = 30;
bool is_skip(double seconds_played, double duration_s);

struct PlayerMoment {
  bool playing = false;   // playing now (false: paused or stopped)
  bool stopped = true;    // no current song
  int64_t entry_id = -1;  // the queue entry (MPD's song id: the same file queued twice is two entries)
  std::string uri;        // the current song
  double elapsed_s = 0, duration_s = 0;
  double now_s = 0;  // a monotonic clock, seconds
};

struct HeardSong {
  std::string uri;
  double started_s = 0;      // on the clock of PlayerMoment::now_s
  double seconds_played = 0;
  double duration_s = 0;
  bool skipped = false;
};

class PlayWatcher {
 public:
  // The song finished by this moment (another entry current, or stopped), if any.
  std::optional<HeardSong> observe(const PlayerMoment& m);
  // Ends watching at `now_s`: the current song as heard so far (nullopt when none).
  std::optional<HeardSong> finish(double now_s);

 private:
  std::optional<HeardSong> close(double now_s);
  bool active_ = false, playing_ = false;
  int64_t entry_id_ = -1;
  double last_s_ = 0;
  HeardSong song_;
};

// What PlayRecorder::record wrote: the time heard, of what length, and whether that was a skip.
struct RecordedPlay {
  double seconds_played = 0;
  double duration_s = 0;  // the player's, else the indexed track's (0: neither knows)
  bool skipped = false;
};

// Writes heard songs into a user's history: the URI's file (through `path_of`, the player's music
// folder) looked up among the indexed tracks; a song that is not an indexed file is not recorded.
class PlayRecorder {
 public:
  // `location`: the index (store::resolve_location form); `user_id`: whose history. With
  // `user_name`, each play goes to the user of that name in the index as it is at that moment,
  // not to `user_id`: another file moved over the index (a backup put back whose users were made
  // again since) may give that id to someone else (hostile pass 14: ann's plays went into carl's
  // history); a name the index no longer has is an error, the play not recorded.
  PlayRecorder(std::string location, int64_t user_id, std::string source, std::string user_name = {});
  ~PlayRecorder();
  // The play as recorded, nullopt when `path` (the file the song is) is not an indexed track.
  // `played_at` unix seconds of its start. A song whose length the player never gave (MPD reports
  // none until its decoder has started: a short song may end before the radio sees one) is judged
  // by the indexed track's length; `song` itself is left as the player heard it.
  std::optional<RecordedPlay> record(const HeardSong& song, const std::string& path, int64_t played_at);
  // Closes the recorder's connection when another file was moved over the index, so that this
  // process can open the new one (AccountsConnection::close_if_replaced); the next record opens it.
  void close_if_replaced();

 private:
  std::unique_ptr<AccountsConnection> connection_;
  int64_t user_id_;
  std::string source_;
  std::string user_name_;
};

// The user whose plays a player records: `name` when given (an error when no such user); else the
// only user; nullopt when the index has no user (nothing is recorded). Several users and no name:
// clap::InvalidArgument asking for --user.
std::optional<store::UserRecord> recording_user(const std::string& location, const std::string& name);

}  // namespace clap::service
