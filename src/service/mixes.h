// Daily mixes (issue 55): one per taste centre (service/taste.h), heaviest centre first, each
// mixing the user's known favourites of that centre with songs they never played near it, every
// pick with its reason. How a mix of `size` songs is made:
//   * known favourites: the centre's tracks (played or starred, weight above 0), ranked by
//     cos(track, centre) · log2(2 + weight); unplayed songs: the library's tracks nearest the
//     centre that the user never played, starred or rated;
//   * round(size · discovery) unplayed songs, the rest favourites (either list filling in when
//     the other runs out), each list diversified by maximal marginal relevance over the track
//     embeddings (the rule of service/diversity.h) with copies of one recording kept once
//     (service/recordings.h: the same content hash, MBID, ISRC or acoustic fingerprint, as the radio
//     and /api/sonic/ tell them), interleaved evenly; a copy of a favourite is no unplayed song;
//   * at most per_artist songs per artist, no song (nor another file of its recording) in two mixes, nothing played in the last
//     not_played_days days, nothing skipped more than played or rated 1-2, and only the tracks the
//     rules allow (the default exclusions).
// Reasons: a favourite "you played it 14 times" (starred, rated); an unplayed song "like the 3
// songs you starred on this album" when the user starred songs of its album, else "near 'Blue in
// Green', which you played 14 times" (the centre's heavy track nearest it).
//
// The mixes are also playlists of the user in the index (save_mix_playlists), which the Subsonic
// API lists to that user (getPlaylists/getPlaylist), the reasons in the playlist's comment.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "service/filters.h"
#include "service/library.h"
#include "service/taste.h"
#include "store/store.h"

namespace clap::service {

struct MixOptions {
  int64_t mixes = 6, size = 50;
  double discovery = 0.3;       // share of songs never played, in [0, 1]
  int64_t not_played_days = 3;  // nothing played this recently (0: no such rule)
  int64_t per_artist = 3;       // 0: no cap
  double diversity = 0.3;       // the MMR weight d, in [0, 1]
  ResultRules rules;            // the default exclusions, --where
};

struct MixPick {
  int64_t track_id = 0;
  double score = 0;  // cosine to the centre
  bool known = false;  // a favourite (else never played)
  std::string reason;
};

struct Mix {
  std::string name;  // "Mix 1 · late-night piano"
  size_t centre = 0;  // index into Taste::centres
  std::string label;
  std::vector<MixPick> tracks;
  // Why a mix got no songs ("" when it has some): every song of the centre was left out by the
  // rules above, counted by rule ("of this taste centre's 4 songs, 4 played in the last 3 days
  // (--not-played-days); ...").
  std::string empty_reason;
};

// Throws InvalidArgument naming the option: mixes < 1, size < 1, discovery or diversity outside [0, 1], days outside
// 0-36500, a negative cap.
void check_mix_options(const MixOptions& options);

std::vector<Mix> make_mixes(const LibrarySnapshot& snap, const Taste& taste, const MixOptions& options);

// The comment a mix playlist starts with: what marks a playlist as one save_mix_playlists wrote.
inline constexpr const char* kMixPlaylistMark = "clapsearch mix";

// Replaces the user's mix playlists (their playlists whose comment starts with kMixPlaylistMark)
// with `mixes`, private to the user, in one store: other playlists are never touched. A mix
// without songs is not saved (an empty playlist in every app says nothing). Returns the new
// playlists' ids, one per mix in order, 0 for a mix not saved.
std::vector<int64_t> save_mix_playlists(store::Store& store, int64_t user_id, const LibrarySnapshot& snap,
                                        const std::vector<Mix>& mixes, int64_t now);

// A song as people name it: "artist – title", else the file name without its extension.
std::string song_name(const store::Track& t);

}  // namespace clap::service
