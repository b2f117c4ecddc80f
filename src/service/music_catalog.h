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
#include <utility>
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
  // The music folder (root id) of a track; 0 when it is under none.
  int music_folder_of(int64_t track_id) const;

  // --- orders and search texts, made once per snapshot so that a list or search request
  // costs what it answers (the issue's 50 ms at 100,000 tracks), never a sort per request.
  // Positions in albums():
  const std::vector<size_t>& albums_by_name() const { return albums_by_name_; }      // name, then artist (case-folded)
  const std::vector<size_t>& albums_by_artist() const { return albums_by_artist_; }  // artist, then year, then name
  const std::vector<size_t>& albums_newest() const { return albums_newest_; }        // created, newest first, then name
  const std::vector<size_t>& albums_by_year() const { return albums_by_year_; }      // year (untagged first), then name
  // Every song, grouped as apps list them: by album artist, album (albums_by_artist order),
  // then the album's own order (track number, path).
  const std::vector<int64_t>& songs() const { return songs_; }
  // Search texts (normalise_name of each part, words joined by single spaces, with a leading
  // space so that " " + word finds a word's start): a song's title, artist and album (by its
  // position in songs()), an album's name and artist, an artist's name.
  const std::string& song_text(size_t i) const { return song_texts_[i]; }
  int song_folder(size_t i) const { return song_folders_[i]; }  // music_folder_of(songs()[i])
  const std::string& album_text(size_t i) const { return album_texts_[i]; }
  const std::string& artist_text(size_t i) const { return artist_texts_[i]; }
  // An artist's own songs (its artist tag), in songs() order.
  const std::vector<int64_t>& artist_songs(size_t artist) const { return artist_songs_[artist]; }
  // The artists as an index lists them (getArtists): by index_key, then name and id.
  const std::vector<size_t>& artists_indexed() const { return artists_indexed_; }
  const std::string& artist_letter(size_t artist) const { return artist_letters_[artist]; }
  // The articles an index ignores at a name's start (the spec's ignoredArticles), and the
  // index letter (A-Z after folding accents and case, else "#") and sort key of a name.
  static const char* ignored_articles();
  static std::pair<std::string, std::string> index_key(const std::string& name);
  // Whether album (artist) i has a track under music folder `music_folder`.
  bool album_in(size_t album, int music_folder) const;
  bool artist_in(size_t artist, int music_folder) const;
  // Positions in albums() with at least one track of the genre (albums_by_name order), the
  // genre's songs (songs() order); nullptr for a genre no track has. Exact tag text.
  const std::vector<size_t>* albums_of_genre(const std::string& genre) const;
  const std::vector<int64_t>* songs_of_genre(const std::string& genre) const;
  // The position of an artist (album) in artists() (albums()).
  size_t position_of(const CatalogArtist& a) const { return static_cast<size_t>(&a - artists_.data()); }
  size_t position_of(const CatalogAlbum& a) const { return static_cast<size_t>(&a - albums_.data()); }
  // The latest indexed_at of any track (unix seconds): when the collection last changed.
  int64_t last_modified() const { return last_modified_; }

  static std::string song_id(int64_t track_id);
  // The track id of a song id; -1 when `id` is not a song id: not a whole decimal number in
  // song_id's form (no sign, space or leading zero).
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
  std::vector<size_t> albums_by_name_, albums_by_artist_, albums_newest_, albums_by_year_;
  std::vector<int64_t> songs_;
  std::vector<std::vector<int64_t>> artist_songs_;
  std::vector<size_t> artists_indexed_;
  std::vector<std::string> artist_letters_;
  std::vector<std::string> song_texts_, album_texts_, artist_texts_;
  std::vector<int> song_folders_;
  std::vector<std::vector<int>> album_roots_, artist_roots_;  // music folder ids, ascending
  std::map<std::string, std::vector<size_t>> genre_albums_;
  std::map<std::string, std::vector<int64_t>> genre_songs_;
  int64_t last_modified_ = 0;
  void make_orders(const LibrarySnapshot& snap);
};

}  // namespace clap::service
