// The queries behind the media-server integrations (issue 36; the server's /api/sonic/ routes,
// shaped like OpenSubsonic's sonicSimilarity extension): similar tracks of a song, a path
// between two songs and songs for a description, each answered as matches with a similarity in
// [0, 1] that a media server passes to its clients. Songs come in as media servers name them
// (song_resolver.h) and go out with every identifier the index holds, so that the media server
// can match each result back to its own library.
//
// similarity (OpenSubsonic's sonicMatch: "1.0 = same exact song, 0.0 = most different",
// relative to the query song for similar tracks and to the START song for a path) = the cosine of
// the two embeddings (track and track; the text and the track for a description), clamped to
// [0, 1] (sonic_similarity): monotonic in the cosine, and exactly 1.0 for the query (start) song
// itself, decided by identity rather than by a float cosine that may read 0.99999994. Cosines
// below 0 are unrelated sounds in CLAP's space and all read 0.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "service/filters.h"
#include "service/library.h"
#include "service/song_resolver.h"

namespace clap::service {

struct RecordingWork;  // service/recordings.h

struct SonicOptions {
  int64_t count = 10;       // matches wanted (fewer when the library has fewer); 0: none (an empty answer)
  int64_t per_artist = 0;   // at most this many matches per artist (normalise_name of the artist); 0 = no cap
  // Leave out the seed's own duplicates (another file of the same recording): a track with the
  // seed's content hash or MBID, or whose embedding's cosine with the seed's is at least
  // duplicate_cosine (similar tracks only: a path and a text search have no seed). And list one
  // recording once among the matches of similar tracks, a group and a text search: a later match
  // that is the same recording as one listed (or as the seed) is left out: its content hash, MBID
  // or ISRC, else its stored acoustic fingerprint (service/recordings.h). A path keeps copies to
  // one step its own way (track_path).
  bool exclude_duplicates = true;
  RecordingWork* work = nullptr;  // when given, counts the fingerprint rule's work (tests)
  // Another encoding of one recording embeds within 0.0003 of the original (an Ogg Vorbis copy of a
  // FLAC file: 0.9998 in tests/server/sonic_test.cpp), a recording 20 Hz higher at 0.995.
  double duplicate_cosine = 0.999;
  // Which tracks may be matches (issue 38), as for every other query: a `where` filter and the
  // tracks left out (the music-only rule's, service/filters.h excluding_rule), applied before
  // ranking. Its caps are not used (per_artist above counts after the duplicates are left out).
  // The songs a request names (a seed, a path's ends, an artist's or album's tracks) are used
  // whatever the rules say: only the matches are filtered.
  ResultRules rules;
  // Groups (an album's, an artist's tracks): whether the group's own tracks may be matches. An
  // artist radio (the Subsonic getSimilarSongs of an artist) plays "songs from the given artist
  // and similar artists"; "more like this album" (similarToAlbum) leaves the album out, and
  // with exclude_duplicates the copies of its tracks elsewhere too (a re-encode in another folder).
  bool include_group = false;
};

struct SonicMatch {
  const store::Track* track = nullptr;
  double similarity = 0;  // sonic_similarity(cosine)
  double cosine = 0;
};

// The documented mapping: clamp(cosine, 0, 1), NaN as 0.
double sonic_similarity(double cosine);

// The tracks most similar to `seed` (by track embedding), seed left out, best first (ties by
// track id). Throws clap::Error when the seed has no embedding (an error or silent track).
std::vector<SonicMatch> sonic_similar(const LibrarySnapshot& snap, const store::Track& seed, const SonicOptions& options);

// `count` tracks from `start` to `end`, both included (service::track_path: copies of one
// recording take one step at most); count 0: an empty path. similarity = sonic_similarity of each
// track's cosine with the START song (1.0 for the start itself), as OpenSubsonic's findSonicPath
// defines it, not the cosine to the step's own target that track_path ranks by. per_artist and
// exclude_duplicates do not apply. Throws clap::Error when count is 1 (a path holds its two
// ends) and as track_path does (the same track twice, no embedding).
std::vector<SonicMatch> sonic_path(const LibrarySnapshot& snap, const store::Track& start, const store::Track& end,
                                   const SonicOptions& options);

// Songs like an artist's or an album's (Navidrome's Instant Mix of an artist or an album): the
// tracks nearest the mean direction of the group's track embeddings, the group's own tracks
// left out. An artist's tracks: normalise_name(artist or album artist) equal to `artist`'s; an
// album is its name and its album artist (the track artist when none is tagged), as
// service/aggregates.h takes it: `artist` names the album artist, or else a track artist of one
// album of that name (a compilation: the whole album). Throws InvalidArgument when several
// albums match (naming their album artists), clap::Error naming the group when no track with an
// embedding is in it.
std::vector<SonicMatch> sonic_similar_to_artist(const LibrarySnapshot& snap, const std::string& artist,
                                                const SonicOptions& options);
std::vector<SonicMatch> sonic_similar_to_album(const LibrarySnapshot& snap, const std::string& album,
                                               const std::string& artist, const SonicOptions& options);
// The same for a group of tracks given by id (an album of the MusicCatalog, by its id): the
// tracks nearest the group's mean direction, the group left out; `what` names the group in errors.
std::vector<SonicMatch> sonic_similar_to_tracks(const LibrarySnapshot& snap, const std::vector<int64_t>& group,
                                                const std::string& what, const SonicOptions& options);

// Songs for a description: text search (mean over windows, as `search` ranks by default).
std::vector<SonicMatch> sonic_search(Library& lib, const LibrarySnapshot& snap, const std::string& text,
                                     const SonicOptions& options);

}  // namespace clap::service
