// "For you" (issue 55) over an index's store: the history as the taste reads it (service/taste.h),
// from the index or from an export file, the radio's query that follows the taste, and what the
// front ends show of a user (`clapsearch taste`, GET /api/taste, /api/mixes, the page's For you
// view): the labelled taste, its centres on the library's map, the mixes `clapsearch mix` saved.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "service/history.h"  // history_user: whose history a command reads
#include "service/library.h"
#include "search/projection.h"
#include "service/taste.h"
#include "store/store.h"

namespace clap::service {

class AccountsConnection;

// The user's plays, song stars and song ratings, resolved to the snapshot's tracks: entries whose
// track the library does not hold now (deleted, not indexed yet) are counted in `unresolved`.
TasteHistory load_history(const store::Store& store, int64_t user_id, const LibrarySnapshot& snap,
                     int64_t* unresolved = nullptr);

// A history export (ListenBrainz, Last.fm: service/history_files.h) as the taste reads it, without
// storing anything: each listen resolved to a track of the snapshot with the song resolver (as
// `history import` resolves them); the listens naming no song of the library are counted in
// `unresolved`. Throws clap::Error naming the file (service::read_history_file).
TasteHistory history_from_file(const LibrarySnapshot& snap, const std::string& path, int64_t* unresolved = nullptr);

// The moment a command measures the history's ages from: the end of the current UTC day (the next
// midnight after `now`), so that every run of one day gives the same taste and mixes bit for bit
// (measured from the second, two runs a second apart would differ in the last bits).
int64_t taste_clock(int64_t now);

// The query of the radio for you: the song playing `seed` (unit, dim floats) moved to the taste
// centre nearest it, pushed away from the songs skipped in this session:
//   normalise(seed + centre − Σ skipped · kSkipPush)
// (the seed alone when the taste has no centre). `centre` (optional) gets the centre's index, -1
// for none.
inline constexpr double kSkipPush = 0.5;
std::vector<float> for_me_query(const Taste& taste, const float* seed, int64_t dim,
                                const std::vector<const float*>& skipped, int64_t* centre = nullptr);

// --- what the front ends show ---------------------------------------------------------------

// A user's taste over the library as it is now, its centres labelled (label_centres).
struct UserTaste {
  store::UserRecord user;
  Taste taste;
  int64_t plays = 0;       // plays of songs the library holds
  int64_t unresolved = 0;  // history entries naming songs the library does not hold now (left out)
  std::string label_note;  // why the labels are not zero-shot tags (no model); empty when they are
};

// From the store (the CLI's: its song references re-attached by the caller). `options.now` 0:
// the taste clock of this moment (taste_clock), as every front end measures ages.
UserTaste user_taste(Library& lib, const LibrarySnapshot& snap, const store::Store& store, const store::UserRecord& user,
                     TasteOptions options);
// The server's: the user by name (history_user: "" = the only user, `choose` names the choice in
// the error), the references re-attached when the library changed (service/user_data.h), the
// history read under the connection's lock and the taste made outside it (other users' requests
// wait only for the read).
UserTaste user_taste(Library& lib, const LibrarySnapshot& snap, AccountsConnection& connection, const std::string& user_name,
                     const std::string& choose, TasteOptions options);

// Where a vector of the track-embedding space (a taste centre) lies on the library's map (the
// server's map view: LibrarySnapshot::track_map(), the same PCA); nullopt when the snapshot has
// no map (nothing searchable).
std::optional<search::Point2D> map_position(const LibrarySnapshot& snap, const std::vector<float>& vector);

// One of the mixes `clapsearch mix` saved (save_mix_playlists): a playlist of the user whose
// comment starts with kMixPlaylistMark, each song with the reason the comment gives it.
struct StoredMixSong {
  int64_t track_id = 0;
  std::string reason;  // empty when the comment does not give one (the playlist was edited since)
};
struct StoredMix {
  int64_t playlist_id = 0;
  std::string name;   // "Mix 1 · late-night piano"
  std::string about;  // the comment's first line: "clapsearch mix of 2026-11-27: songs near your taste '…'"
  int64_t made_at = 0;
  std::vector<StoredMixSong> songs;  // the songs the library holds now, in order
  int64_t missing = 0;               // entries whose song the library no longer holds
};
// The user's saved mixes in the order they were made (Mix 1 first), read from the playlists'
// entries (re-attached to the snapshot's tracks) and comments.
std::vector<StoredMix> stored_mixes(const store::Store& store, int64_t user_id, const LibrarySnapshot& snap);
// The server's, by user name as user_taste() takes it; `user` (optional) gets whose mixes they are.
std::vector<StoredMix> stored_mixes(AccountsConnection& connection, const LibrarySnapshot& snap,
                                    const std::string& user_name, const std::string& choose, store::UserRecord* user);

}  // namespace clap::service
