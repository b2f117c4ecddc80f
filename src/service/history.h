// One listening history per user (issue 55): the plays, stars and ratings in the index
// (store.h PlayRecord, FeedbackRecord), wherever they came from - the Subsonic server's scrobbles
// ("subsonic"), the MPD radio ("mpd"), imported exports ("listenbrainz", "lastfm"), a beets
// library ("beets") - and what `clapsearch history` does with them: import, summarise, export,
// forget. The history stays in the index: nothing here sends it anywhere.
//
// Import: each listen is resolved to a song of the library with the song resolver
// (service/song_resolver.h: MBID, ISRC, then artist + title + duration, the album deciding among
// copies). A listen that names no song of the library is counted and listed, never dropped
// silently. A play is the same play as one already kept when the user, the source, the start
// time (unix seconds) and the song (its content hash, else its path) agree: importing a file
// again, an overlapping export, or two imports of one file at once, add only the plays not kept
// yet (the store's unique index decides: store.h add_plays). Re-importing lists the unresolved
// listens again: they are still not in the history, and a song indexed since is found then.
#pragma once
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/output_file.h"

#include "service/history_files.h"
#include "service/song_resolver.h"
#include "store/store.h"

namespace clap::service {

// No user to read a history of: a name the index does not hold, or an index without users (the
// server answers it 404; the CLI, as any clap::Error, exit 1).
class NoSuchUser : public Error {
 public:
  using Error::Error;
};

// The user a history command is for: `name` when given (NoSuchUser naming it when there is no
// such user), else the index's only user. Several users and no name: clap::InvalidArgument (the
// command's usage error, exit 2) listing them and saying to give `choose` (how the front end
// takes a name: the CLI's --user NAME, the API's ?user=NAME); no user at all: NoSuchUser saying
// how to add one.
store::UserRecord history_user(const store::Store& store, const std::string& name, const std::string& choose = "--user NAME");

struct UnresolvedListen {
  Listen listen;
  std::string reason;  // what the resolver tried
};

// How many unresolved entries an import report lists (`unresolved` counts them all): an export
// of 10^6 listens of songs not in the library would otherwise be held whole and printed whole.
inline constexpr size_t kMaxUnresolvedListed = 1000;

struct HistoryImport {
  int64_t imported = 0, already = 0, unresolved = 0;
  std::vector<UnresolvedListen> unresolved_entries;  // the first kMaxUnresolvedListed, in file order
};

// Resolves `listens` against the library's tracks and adds the new plays of user `user_id` from
// `source` ("listenbrainz" or "lastfm": the sources the store keeps once; else InvalidArgument),
// in batches of 50,000 a transaction. `tracks`: store.tracks() (what the resolver looks in).
HistoryImport import_listens(store::Store& store, const std::vector<store::Track>& tracks, int64_t user_id,
                             const std::vector<Listen>& listens, const std::string& source);

// What the resolver is asked about a listen (song_resolver.h), and the same as one string: listens
// of one song share it (a history names its favourites thousands of times; each is resolved once).
SongRef song_ref_of(const Listen& listen);
std::string listen_key(const Listen& listen);

// The identity of a play for the import's uniqueness rule (above).
std::string play_key(int64_t user_id, const std::string& source, int64_t played_at, const store::SongRef& song);

// The per-track figures a beets library keeps (the mpdstats plugin's flexible fields).
struct BeetsTrackStats {
  std::string path;           // the file, as beets knows it (resolved like a path reference)
  std::string mbid, artist, title, album;
  double duration_s = 0;
  int64_t play_count = 0, skip_count = 0;
  double rating = -1;         // mpdstats' 0..1; < 0: none
  int64_t last_played = 0;    // unix seconds; 0: unknown
};
struct BeetsImport {
  int64_t plays_added = 0, skips_added = 0, already = 0, ratings_set = 0, unresolved = 0;
  std::vector<std::string> unresolved_entries;  // the paths (or artist - title) not in the library: the first kMaxUnresolvedListed
};
// Makes the user's "beets" plays of each song as many as beets counts (plays and skips: the
// difference is added, at `last_played` or `now`; never removed, as beets' counts only grow) and
// the song's rating beets' (0..1 -> 1..5 stars). Importing the same counts again adds nothing.
BeetsImport import_beets_stats(store::Store& store, const std::vector<store::Track>& tracks, int64_t user_id,
                               const std::vector<BeetsTrackStats>& stats, int64_t now);

// The JSON lines `beet clapsearch history` writes: one object a track, {"path", "mbid", "artist",
// "title", "album", "length", "play_count", "skip_count", "rating", "last_played"} (any may be
// missing but play_count or skip_count or rating). Throws clap::Error naming the file and line.
std::vector<BeetsTrackStats> read_beets_stats(const std::string& path);
BeetsImport import_beets_file(const std::string& db, const std::string& path, const std::string& user_name, int64_t now);

struct SourceCounts {
  int64_t plays = 0, skips = 0;
};
// Where plays come from: the Subsonic server, `clapsearch radio`, the two imports, beets.
inline constexpr const char* kPlaySources[] = {"subsonic", "mpd", "listenbrainz", "lastfm", "beets"};

struct HistorySummary {
  std::string user;
  int64_t plays = 0, skips = 0, stars = 0, ratings = 0;  // plays: every play, skips among them
  // Unix seconds; none without plays. Not 0 for none: a play at 0 (1970-01-01, which an export
  // may hold) is a play, and "0 without plays" made it both and the next play the first.
  std::optional<int64_t> first_played, last_played;
  std::map<std::string, SourceCounts> by_source;
};
HistorySummary summarise_history(const store::Store& store, const store::UserRecord& user);

// Throws clap::Error naming `location` when the index file there is no longer the one `opened`
// (index_file_id before the store was opened): deleted, or another moved over it (a backup put
// back). A server's database (`opened` nullopt) has no file to replace. `what` names the file read
// ("-": standard input). Called twice by an import:
// - before its writes (`written` nullopt): an import reads its file (a minute for a large export)
//   between opening the index and writing; the plays would go into the old file, which nothing
//   reads again, while the report said imported (hostile pass 16, H16S-2): nothing is written.
// - after its last write (`written`: what it wrote, "3 plays and 1 rating"): the writes may wait up
//   to the busy timeout for another writer's lock (a scrobble, another import), and a file moved
//   over the index meanwhile got the plays in the old file (hostile pass 17, H17P-2). A
//   replacement after the last write replaces an index that holds the import, as after any import.
void check_index_not_replaced(const std::string& location, const std::optional<std::pair<uint64_t, uint64_t>>& opened,
                              const std::string& what, const std::optional<std::string>& written = std::nullopt);

// What `clapsearch history` does, on the index at `db` (its --db; empty = the default library).
HistoryImport import_history_file(const std::string& db, const std::string& path, HistoryFormat format,
                                  const std::string& user_name, HistoryFormat* format_read = nullptr);
HistorySummary history_summary(const std::string& db, const std::string& user_name);
// Every play and star and rating of the user, one JSON object a line, oldest play first, to `out`
// (committed: a failed write throws naming the output and the reason, and stops the export).
void export_history(const std::string& db, const std::string& user_name, OutputFile& out);
// `before`: forget only what happened before this time (unix seconds; none: whenever). A time at
// or before 1970-01-01T00:00:00Z has nothing before it: nothing is forgotten (the store's 0 means
// "whenever", so it is never passed on). A `source` that is neither a source clapsearch records
// (kPlaySources) nor one the user's history holds throws InvalidArgument listing both: a typo
// (`--source LastFM`) forgot nothing, in silence.
store::HistoryRemoved forget_history(const std::string& db, const std::string& user_name, std::optional<int64_t> before,
                                     const std::string& source);

}  // namespace clap::service
