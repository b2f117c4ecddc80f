// Artists and albums as query items (issue 38): `similar --artist NAME`, `search --artists TEXT`,
// GET /api/artists and /api/albums.
//
// An artist's (album's) embedding is the mean of its tracks' track embeddings, each L2-normalised
// first, the mean normalised again. Normalising each track first gives every track one vote
// whatever its length or loudness; normalising the mean makes a cosine with it comparable across
// artists with 1 or 100 tracks (docs/user-guide.md, Artists and albums).
//
// Tracks group by artist (normalise_name: "The Beatles" and "the beatles" are one artist), albums
// by album name and album artist (else artist), as the per-artist/per-album caps count them;
// tracks without an artist (album) belong to none. ResultRules::where chooses the tracks that
// make up every aggregate, the query's included; caps do not apply (the results are not tracks).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "service/filters.h"
#include "service/library.h"

namespace clap::service {

enum class GroupKind { Artist, Album };
const char* group_kind_name(GroupKind kind);  // "artist", "album"

// One artist or album with the tracks that make it up.
struct Group {
  std::string key;     // normalised: what names compare by
  std::string name;    // as tagged on its first track (lowest id)
  std::string artist;  // albums: the album artist, else the artist of its first track
  std::vector<int64_t> tracks;  // ids of its tracks that have a track embedding, ascending
  std::vector<float> embedding;  // unit length (dim)
};

// One ranked artist or album.
struct GroupHit {
  std::string name, artist;  // artist: albums only
  int64_t tracks = 0;        // tracks in its aggregate
  double score = 0;          // cosine with the query
};

// Every artist (album) with at least one allowed track that has a track embedding, by key.
std::vector<Group> groups(const LibrarySnapshot& snap, GroupKind kind, const ResultRules& rules = {});

// The group named `name` (compared as normalise_name does; an album by its name, and by its
// album artist when `artist` is not empty). Throws Error naming the input (with close names when
// none is tagged so, or the reason it has no aggregate: no indexed track, none left by the
// filter); InvalidArgument when several albums share the name and no artist tells them apart.
const Group& find_group(const LibrarySnapshot& snap, const std::vector<Group>& all, GroupKind kind, const std::string& name,
                        const std::string& artist = "", const ResultRules& rules = {});

// The k (0: all) groups nearest to `query` (unit, dim), ties by key; `leave_out` (a key) skipped.
std::vector<GroupHit> rank_groups(const std::vector<Group>& all, const float* query, int64_t k,
                                  const std::string& leave_out = "");

// similar --artist/--album: the groups nearest to the named one, itself left out.
std::vector<GroupHit> similar_groups(const LibrarySnapshot& snap, GroupKind kind, const std::string& name,
                                     const std::string& artist, int64_t k, const ResultRules& rules = {});
// search --artists/--albums: per text, the groups nearest to its text embedding.
std::vector<std::vector<GroupHit>> search_groups(Library& lib, const LibrarySnapshot& snap, GroupKind kind,
                                                 const std::vector<std::string>& texts, int64_t k,
                                                 const ResultRules& rules = {});

}  // namespace clap::service
