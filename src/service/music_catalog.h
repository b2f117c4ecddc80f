// The library as a music server browses it (issue 54, the OpenSubsonic server): artists,
// albums, genres and folders made from the tracks' tags and paths, each with a stable id.
//
// Ids are what Subsonic apps keep (in their caches, offline copies, playlists), so they must
// name the same thing across restarts, re-index runs, moves and stores (SQLite or PostgreSQL):
//   - a song is its track id in decimal ("42"): the store keeps a track's id when its file is
//     re-read or moved (matched by content), and the /api/ routes name tracks the same way;
//   - an album is "al-" + 16 hex digits of the SHA-256 of its album artist's and its name's
//     normalised keys (normalise_name), an artist "ar-" + the same of its name's key, a folder
//     "fo-" + the same of its absolute path: the tags (the path) decide, not the order things
//     were indexed in;
//   - a music folder (an indexed root) is an integer, as the spec types it: the first 31 bits of
//     the SHA-256 of its path (never 0), the same on every machine for the same path.
// Tracks whose file could not be read (status error) are not part of the catalog: nothing can
// play them.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "store/store.h"

namespace clap::service {

class LibrarySnapshot;

struct CatalogAlbum {
  std::string id, name;
  std::string artist, artist_id;  // the album artist, else the artist of its first track ("" when untagged)
  int year = 0;                    // the first year among its tracks' dates (0 = none)
  std::string genre;               // the genre most of its tracks have (ties: the first by name)
  std::vector<int64_t> tracks;     // by track number, then path
  double duration_s = 0;
  int64_t created = 0;             // the earliest indexed_at of its tracks (unix seconds)
};

struct CatalogArtist {
  std::string id, name;
  std::vector<size_t> albums;  // positions in MusicCatalog::albums(), by album name
  int64_t songs = 0;
};

struct CatalogGenre {
  std::string name;
  int64_t songs = 0, albums = 0;
};

// One folder on disk that holds indexed tracks (directly or below).
struct CatalogFolder {
  std::string id, name, path;  // name: the last part of the path (the root's whole path for a root)
  std::string parent_id;       // "" for a root
  int music_folder = 0;        // the id of the root it is under
  std::vector<size_t> folders; // positions of its sub-folders in MusicCatalog::folders(), by name
  std::vector<int64_t> tracks; // its own tracks, by path
};

struct MusicFolder {
  int id = 0;
  std::string name, root;  // name: the root's last path part
  size_t folder = 0;       // its position in MusicCatalog::folders()
};

class MusicCatalog {
 public:
  explicit MusicCatalog(const LibrarySnapshot& snap);

  const std::vector<CatalogAlbum>& albums() const { return albums_; }   // by id
  const std::vector<CatalogArtist>& artists() const { return artists_; } // by name, case-insensitive
  const std::vector<CatalogGenre>& genres() const { return genres_; }    // by name
  const std::vector<CatalogFolder>& folders() const { return folders_; }
  const std::vector<MusicFolder>& music_folders() const { return music_folders_; }  // by root path

  const CatalogAlbum* album(const std::string& id) const;
  const CatalogArtist* artist(const std::string& id) const;
  const CatalogFolder* folder(const std::string& id) const;
  const MusicFolder* music_folder(int id) const;
  // The album (artist) a track belongs to; nullptr when its tags name none.
  const CatalogAlbum* album_of(int64_t track_id) const;
  const CatalogArtist* artist_of(int64_t track_id) const;
  const CatalogFolder* folder_of(int64_t track_id) const;
  // The tracks of a music folder (every one below its root), ascending ids.
  std::vector<int64_t> tracks_in(int music_folder) const;

  static std::string song_id(int64_t track_id);
  // The track id of a song id; -1 when `id` is not a song id (not a whole decimal number).
  static int64_t track_of_song_id(const std::string& id);
  static std::string album_id(const std::string& album_artist, const std::string& album);
  static std::string artist_id(const std::string& artist);
  static std::string folder_id(const std::string& path);
  static int music_folder_id(const std::string& root);

 private:
  std::vector<CatalogAlbum> albums_;
  std::vector<CatalogArtist> artists_;
  std::vector<CatalogGenre> genres_;
  std::vector<CatalogFolder> folders_;
  std::vector<MusicFolder> music_folders_;
  std::map<std::string, size_t> album_at_, artist_at_, folder_at_;
  std::map<int64_t, size_t> track_album_, track_artist_, track_folder_;
  std::map<int64_t, int> track_root_;
};

}  // namespace clap::service
