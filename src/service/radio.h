// An endless radio for a player's queue (clapsearch radio --mpd): which tracks to append when the
// queue runs low, chosen by the same MMR radio as `clapsearch playlist` (service/playlists.h)
// around the song being played (optionally steered by texts), with no track repeated within a
// window of the last songs appended or heard. The player's protocol is not here: a front end
// reads the queue into a QueueView, asks RadioStation::fill what to append and appends it.
//
// Players name songs by a path relative to their music folder (MPD's "URI"); the index stores
// absolute paths. MusicFolderMap maps one to the other, both ways.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "service/filters.h"
#include "service/library.h"
#include "service/taste.h"

namespace clap::service {

// The player's music folder: URI "Artist/Album/01.flac" <-> path "/srv/music/Artist/Album/01.flac".
class MusicFolderMap {
 public:
  // `music_dir`: the folder the player's URIs are relative to. Throws clap::InvalidArgument when
  // it is empty or not a folder.
  explicit MusicFolderMap(const std::string& music_dir);

  const std::string& folder() const { return folder_; }
  // The file a URI names: the folder joined with the URI; a "file://" URI is taken as an
  // absolute path. nullopt for other streams ("http://...") and URIs that leave the folder ("../x").
  std::optional<std::string> path_of(const std::string& uri) const;
  // The absolute path of a "file://" URI (which needs no folder); nullopt for any other URI.
  static std::optional<std::string> file_uri_path(const std::string& uri);
  // The URI of an indexed file: its path relative to the folder (the folder as given, or with
  // its symlinks resolved). nullopt when the file is outside the folder.
  std::optional<std::string> uri_of(const std::string& path) const;

 private:
  std::string folder_;    // absolute, lexically normal, no trailing slash
  std::string resolved_;  // folder_ with symlinks resolved (may equal folder_)
};

// Whether a line protocol (MPD's: one command per line, arguments quoted with only '"' and '\\' escaped) can
// carry `text` as an argument: no line feed, carriage return or NUL. A file name may hold a line
// break (Linux allows it); sent raw, the rest of the name would run as further commands (issue
// 53 H1: a track named "a<LF>kill<LF>b.flac" shut MPD down).
bool line_protocol_safe(const std::string& text);
// What of those `text` holds, for the message that refuses it: "a line break", "a carriage
// return" or "a NUL byte" (the first found), "" when it holds none. A name with a carriage
// return alone was skipped as "holds a line break" (hostile pass 16, R16P-1); MPD may even take
// it, but a carriage return ends a line for many line readers, so it is refused, by its name.
std::string line_protocol_problem(const std::string& text);

// The player's queue as the station sees it.
struct QueueView {
  // The song being played or paused; nullopt when the player is stopped (nothing to continue from).
  std::optional<std::string> current_uri;
  // Without a current song: why ("MPD is stopped", "the queue is empty", a status that names no
  // song of the queue), and whether that is the player's normal state or a fault to report.
  std::string no_current_reason;
  bool no_current_is_fault = false;
  std::vector<std::string> upcoming_uris;  // the songs after the current one, in queue order
  std::vector<std::string> played_uris;    // the songs before it (played), in queue order
  // The player's state at that moment, for the listening history (service/listening.h).
  bool playing = false;               // playing (false: paused or stopped)
  int64_t current_entry_id = -1;      // the current queue entry's id (MPD's song id)
  double elapsed_s = 0, duration_s = 0;  // into the current song, and its length (0 = unknown)
  // A monotonic clock (seconds) when the queue was read; 0: unknown (no skip is told).
  double clock_s = 0;
};

struct RadioStationOptions {
  std::vector<std::string> texts;  // steer the radio ("warm lo-fi guitar"), as `playlist --text`
  int64_t min_queue = 5;           // append when fewer songs than this follow the current one
  int64_t no_repeat = 100;         // a track appended or heard among the last this many is not appended again
  double diversity = 0.3;          // as `playlist --diversity`
  ResultRules rules;               // --where and the caps, as playlist's
  search::Filter exclude;          // the music-only rule, applied to the library as it is at each fill (empty: none)
  // The radio for you (clapsearch radio --for-me): the user's taste (service/taste.h). The radio's
  // query then also holds the taste centre nearest the song playing, and leaves the songs skipped
  // in this session: each is a negative term of weight kSkipPush (service/for_you.h) and never
  // plays again. A song is skipped when the next one started before min(30 s, half its length)
  // of it had played (service/listening.h is_skip, the history's rule; QueueView::clock_s tells
  // the time).
  std::shared_ptr<const Taste> taste;
};

// One track the station chose.
struct RadioPick {
  std::string uri;   // for the player
  std::string path;  // the indexed file
  int64_t track_id = -1;
  double score = 0;  // cosine to the radio's query (the seed and the texts)
};

struct RadioFill {
  std::string seed_uri, seed_path;  // empty when nothing was needed
  std::vector<RadioPick> picks;     // to append, in order
  int64_t wanted = 0;               // songs that were missing (picks.size() is smaller when the library ran out)
  int64_t outside_folder = 0;       // chosen tracks left out: indexed outside the music folder
  // Chosen tracks left out because their URI cannot be sent to the player (!line_protocol_safe):
  // their URIs, as they are (a front end shows them with terminal_text); each track once per station.
  std::vector<std::string> unsendable;
  // Chosen tracks left out because their file is not in the music folder any more (moved or
  // deleted since it was indexed): queued, MPD (its database not updated either) would skip them
  // at play time, a radio of songs that never play. Their URIs; each track once per station.
  std::vector<std::string> missing;
};

class RadioStation {
 public:
  // `folder`: the player's music folder, or nullopt to find it from the index (MPD over TCP does
  // not tell its music_directory): at the first fill, the one indexed file whose path ends with
  // "/" + the current song's URI gives it (its path less the URI). Throws clap::InvalidArgument
  // on min_queue < 1, no_repeat < 0 or a diversity outside [0, 1].
  RadioStation(Library& lib, std::optional<MusicFolderMap> folder, RadioStationOptions options);

  const RadioStationOptions& options() const { return options_; }
  // The library the station reads from now on: the front end opened the index again (another
  // file moved over it, another model activated: Library::refresh threw ModelChanged) and the
  // taste made from it (nullptr without --for-me): the old one's centres are vectors of
  // embeddings the index may no longer hold. The window, the skips and the music folder are kept
  // (a backup put back is the same library).
  void use(Library& lib, std::shared_ptr<const Taste> taste) {
    lib_ = &lib;
    options_.taste = std::move(taste);
  }
  // The music folder as given or found; nullopt before the first fill that found it.
  const std::optional<MusicFolderMap>& folder() const { return folder_; }

  // What to append to `queue`: nothing while min_queue songs or more follow the current one, or
  // when nothing plays; else the tracks nearest to the radio's query (the current song and the
  // texts), skipping the current song, the queue's songs, their copies of one recording, the
  // no-repeat window, tracks whose URI is not line_protocol_safe and tracks whose file is not in
  // the music folder (deleted or moved since it was indexed), up to min_queue songs after
  // the current one. The songs played before the current one (the last no_repeat of them: a radio
  // started on a queue already played knows them), the current song and the picks join the window. "Copies of one recording" are what the
  // playlist radio leaves out within a playlist (service/duplicates.h: the same content,
  // fingerprints or window alignment) and tracks with the same MBID or ISRC: a track is not
  // appended when its recording is playing, queued or in the window. Throws clap::Error naming
  // the URI and the file when the current song is not an indexed file (a stream, a file outside
  // the index, a wrong music folder); without a music folder, clap::InvalidArgument naming the
  // indexed files when several end with the URI (the folder must be given).
  RadioFill fill(const QueueView& queue);

  // The window's track ids, oldest first (for tests and messages).
  const std::deque<int64_t>& recent() const { return recent_; }
  // The songs skipped in this session (the radio for you), in order, and marking one by hand.
  const std::vector<int64_t>& skipped() const { return skipped_; }
  void skip(int64_t track_id);

 private:
  void remember(int64_t track_id);
  // The indexed track a URI names, or nullptr (also before the folder is known).
  const store::Track* track_of(const LibrarySnapshot& snap, const std::string& uri, std::string* path) const;
  // Sets folder_ from the index when it is not known: see the constructor.
  void find_folder(const LibrarySnapshot& snap, const std::string& uri);

  Library* lib_;
  std::optional<MusicFolderMap> folder_;
  RadioStationOptions options_;
  std::deque<int64_t> recent_;  // the no-repeat window
  std::set<int64_t> unsendable_reported_;  // tracks already in a RadioFill::unsendable
  std::set<int64_t> missing_reported_;     // tracks already in a RadioFill::missing
  // The radio for you: the song seen playing and since when (QueueView::clock_s), the skips.
  int64_t playing_ = -1;
  double playing_since_ = 0;
  std::vector<int64_t> skipped_;
};

}  // namespace clap::service
