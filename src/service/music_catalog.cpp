#include "service/music_catalog.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <set>
#include <tuple>
#include <unordered_map>

#include "core/sha256.h"
#include "service/library.h"
#include "service/song_resolver.h"
#include "store/rows.h"

namespace clap::service {

namespace {

// What a track without the tag is filed under: apps browse by album and artist, and a song
// that belongs to neither would be out of their reach (Navidrome files them the same way).
const char* const kUnknownArtist = "[Unknown Artist]";
const char* const kUnknownAlbum = "[Unknown Album]";

std::string hex16(const std::string& key) { return sha256_hex(key).substr(0, 16); }

// The comparison key of a name; a name of punctuation only is compared as written, so it is
// still one artist (album) and not merged with the untagged.
std::string key_of(const std::string& name) {
  const std::string k = normalise_name(name);
  return k.empty() ? "\x01" + name : k;
}

int year_of(const std::string& date) {
  if (date.size() < 4 || !std::all_of(date.begin(), date.begin() + 4, [](char c) { return c >= '0' && c <= '9'; }))
    return 0;
  return std::stoi(date.substr(0, 4));
}

std::string last_part(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos || slash + 1 == path.size() ? path : path.substr(slash + 1);
}

std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool less_folded(const std::string& a, const std::string& b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) < std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

std::string MusicCatalog::song_id(int64_t track_id) { return std::to_string(track_id); }

int64_t MusicCatalog::track_of_song_id(const std::string& id) {
  if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos) return -1;
  // Only the form song_id writes: ids are opaque strings to a client, and "002" is not one the
  // server issued (an alias would key a client's cache, stars or queue twice for one song).
  if (id.size() > 1 && id[0] == '0') return -1;
  return std::stoll(id);
}

std::string MusicCatalog::album_id(const std::string& album_artist, const std::string& album) {
  return "al-" + hex16(key_of(album_artist) + '\x1f' + key_of(album));
}

std::string MusicCatalog::artist_id(const std::string& artist) { return "ar-" + hex16(key_of(artist)); }

std::string MusicCatalog::folder_id(const std::string& path) { return "fo-" + hex16(path); }

int MusicCatalog::music_folder_id(const std::string& root) {
  const std::string h = sha256_hex(root).substr(0, 8);
  const int id = static_cast<int>(std::stoul(h, nullptr, 16) & 0x7fffffffu);
  return id == 0 ? 1 : id;
}

MusicCatalog::MusicCatalog(const LibrarySnapshot& snap) {
  std::vector<const store::Track*> ok;
  for (const store::Track& t : snap.tracks())
    if (t.status == store::TrackStatus::Ok) ok.push_back(&t);
  std::sort(ok.begin(), ok.end(), [](const store::Track* a, const store::Track* b) { return a->id < b->id; });

  // Artists (of the tracks' own artist tags) and albums (by album artist, else artist).
  std::map<std::string, std::vector<const store::Track*>> album_tracks;
  std::map<std::string, std::vector<const store::Track*>> artist_tracks;
  for (const store::Track* t : ok) {
    const std::string artist = t->artist.empty() ? kUnknownArtist : t->artist;
    const std::string album_artist = !t->album_artist.empty() ? t->album_artist : artist;
    const std::string album = t->album.empty() ? kUnknownAlbum : t->album;
    album_tracks[album_id(album_artist, album)].push_back(t);
    artist_tracks[artist_id(artist)].push_back(t);
  }
  for (auto& [id, tracks] : album_tracks) {
    std::stable_sort(tracks.begin(), tracks.end(), [](const store::Track* a, const store::Track* b) {
      return a->track_no != b->track_no ? a->track_no < b->track_no : a->path < b->path;
    });
    CatalogAlbum a;
    a.id = id;
    const store::Track* first = *std::min_element(tracks.begin(), tracks.end(),
                                                  [](const store::Track* x, const store::Track* y) { return x->id < y->id; });
    a.name = first->album.empty() ? kUnknownAlbum : first->album;
    const std::string artist = first->artist.empty() ? kUnknownArtist : first->artist;
    a.artist = !first->album_artist.empty() ? first->album_artist : artist;
    a.artist_id = artist_id(a.artist);
    a.created = first->indexed_at;
    std::map<std::string, int> genre_votes;
    for (const store::Track* t : tracks) {
      a.tracks.push_back(t->id);
      a.duration_s += store::known_duration_s(t->duration_s);  // a damaged row adds nothing
      a.created = std::min(a.created, t->indexed_at);
      if (a.year == 0) a.year = year_of(t->date);
      if (!t->genre.empty()) ++genre_votes[t->genre];
    }
    int best = 0;
    for (const auto& [g, n] : genre_votes)
      if (n > best) best = n, a.genre = g;
    album_at_[a.id] = albums_.size();
    for (const store::Track* t : tracks) track_album_[t->id] = albums_.size();
    albums_.push_back(std::move(a));
  }

  // Artists: those of tracks, and album artists that name no track's artist (a compilation's
  // "Various Artists"), so every album's artist_id names an artist.
  std::map<std::string, std::string> artist_names;  // id -> name (of its lowest track id)
  for (const auto& [id, tracks] : artist_tracks)
    artist_names[id] = tracks.front()->artist.empty() ? kUnknownArtist : tracks.front()->artist;
  for (const CatalogAlbum& a : albums_) artist_names.emplace(a.artist_id, a.artist);
  for (const auto& [id, name] : artist_names) {
    CatalogArtist ar;
    ar.id = id;
    ar.name = name;
    if (auto it = artist_tracks.find(id); it != artist_tracks.end()) ar.songs = static_cast<int64_t>(it->second.size());
    artists_.push_back(std::move(ar));
  }
  std::sort(artists_.begin(), artists_.end(), [](const CatalogArtist& a, const CatalogArtist& b) {
    return less_folded(a.name, b.name) || (!less_folded(b.name, a.name) && a.id < b.id);
  });
  std::map<std::string, size_t> artist_pos;
  for (size_t i = 0; i < artists_.size(); ++i) artist_pos[artists_[i].id] = i;
  for (const auto& [id, tracks] : artist_tracks)
    for (const store::Track* t : tracks) track_artist_[t->id] = artist_pos.at(id);
  artist_at_ = artist_pos;
  for (size_t i = 0; i < albums_.size(); ++i) artists_[artist_pos.at(albums_[i].artist_id)].albums.push_back(i);
  for (CatalogArtist& ar : artists_)
    std::sort(ar.albums.begin(), ar.albums.end(), [this](size_t a, size_t b) {
      return less_folded(albums_[a].name, albums_[b].name) || (!less_folded(albums_[b].name, albums_[a].name) && a < b);
    });

  // Genres: songs per genre tag, and albums with at least one song of it.
  std::map<std::string, std::pair<int64_t, std::set<size_t>>> genre_counts;
  for (const store::Track* t : ok)
    if (!t->genre.empty()) {
      auto& g = genre_counts[t->genre];
      ++g.first;
      g.second.insert(track_album_.at(t->id));
    }
  for (const auto& [name, counts] : genre_counts)
    genres_.push_back({name, counts.first, static_cast<int64_t>(counts.second.size())});

  // Folders: each root, and every folder between a root and a track.
  std::vector<std::string> roots = snap.roots();
  std::sort(roots.begin(), roots.end());
  auto add_folder = [this](const std::string& path, const std::string& name, const std::string& parent, int music_folder) {
    const std::string id = folder_id(path);
    if (auto it = folder_at_.find(id); it != folder_at_.end()) return it->second;
    CatalogFolder f;
    f.id = id;
    f.name = name;
    f.path = path;
    f.parent_id = parent;
    f.music_folder = music_folder;
    folder_at_[id] = folders_.size();
    folders_.push_back(std::move(f));
    if (!parent.empty()) folders_[folder_at_.at(parent)].folders.push_back(folders_.size() - 1);
    return folders_.size() - 1;
  };
  for (const std::string& root : roots) {
    std::string r = root;
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    MusicFolder m;
    m.id = music_folder_id(r);
    m.root = r;
    m.name = last_part(r);
    m.folder = add_folder(r, r, "", m.id);
    music_folders_.push_back(m);
  }
  std::vector<const store::Track*> by_path = ok;
  std::sort(by_path.begin(), by_path.end(), [](const store::Track* a, const store::Track* b) { return a->path < b->path; });
  for (const store::Track* t : by_path) {
    const std::string root = snap.root_of(t->path);
    const MusicFolder* m = nullptr;
    std::string r = root;
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    for (const MusicFolder& mf : music_folders_)
      if (mf.root == r) m = &mf;
    if (!m) continue;  // outside every indexed folder: browsed by tags only
    track_root_[t->id] = m->id;
    // The folders from the root down to the track's own.
    std::vector<std::string> chain;
    for (std::string dir = parent_dir(t->path); dir.size() > r.size() && dir.compare(0, r.size(), r) == 0; dir = parent_dir(dir))
      chain.push_back(dir);
    std::string parent = folder_id(r);
    size_t at = m->folder;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      at = add_folder(*it, last_part(*it), parent, m->id);
      parent = folders_[at].id;
    }
    folders_[at].tracks.push_back(t->id);
    track_folder_[t->id] = at;
  }
  for (CatalogFolder& f : folders_)
    std::sort(f.folders.begin(), f.folders.end(), [this](size_t a, size_t b) {
      return less_folded(folders_[a].name, folders_[b].name) || (!less_folded(folders_[b].name, folders_[a].name) && a < b);
    });
  make_orders(snap);
}

namespace {

// A search text: each part's normalise_name, joined, with a leading space (see the header).
std::string search_text(std::initializer_list<const std::string*> parts) {
  std::string out;
  for (const std::string* p : parts) {
    const std::string k = normalise_name(*p);
    if (!k.empty()) out += " " + k;
  }
  return out;
}

// Case-folded three-way comparison of two names (the orders' first keys).
int compare_folded(const std::string& a, const std::string& b) {
  if (less_folded(a, b)) return -1;
  if (less_folded(b, a)) return 1;
  return 0;
}

}  // namespace

void MusicCatalog::make_orders(const LibrarySnapshot& snap) {
  // The tracks by id, once: LibrarySnapshot::track takes a lock per call, which at 100,000
  // tracks was a good part of this function's time.
  std::unordered_map<int64_t, const store::Track*> by_id;
  by_id.reserve(snap.tracks().size());
  for (const store::Track& t : snap.tracks()) by_id.emplace(t.id, &t);
  const size_t n = albums_.size();
  std::vector<size_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = i;
  // Every order ends on the album id, so it is total and the same on every run.
  const auto by = [&](auto&& first_keys) {
    std::vector<size_t> order = all;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const int c = first_keys(albums_[a], albums_[b]);
      return c != 0 ? c < 0 : albums_[a].id < albums_[b].id;
    });
    return order;
  };
  albums_by_name_ = by([](const CatalogAlbum& a, const CatalogAlbum& b) {
    const int c = compare_folded(a.name, b.name);
    return c != 0 ? c : compare_folded(a.artist, b.artist);
  });
  albums_by_artist_ = by([](const CatalogAlbum& a, const CatalogAlbum& b) {
    if (const int c = compare_folded(a.artist, b.artist); c != 0) return c;
    if (a.year != b.year) return a.year < b.year ? -1 : 1;
    return compare_folded(a.name, b.name);
  });
  albums_newest_ = by([](const CatalogAlbum& a, const CatalogAlbum& b) {
    if (a.created != b.created) return a.created > b.created ? -1 : 1;
    return compare_folded(a.name, b.name);
  });
  albums_by_year_ = by([](const CatalogAlbum& a, const CatalogAlbum& b) {
    if (a.year != b.year) return a.year < b.year ? -1 : 1;
    return compare_folded(a.name, b.name);
  });

  album_roots_.assign(n, {});
  album_texts_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const CatalogAlbum& a = albums_[i];
    album_texts_.push_back(search_text({&a.name, &a.artist}));
    for (const int64_t t : a.tracks) {
      const int root = music_folder_of(t);
      if (root != 0) album_roots_[i].push_back(root);
    }
  }
  artist_roots_.assign(artists_.size(), {});
  artist_texts_.reserve(artists_.size());
  for (const CatalogArtist& ar : artists_) artist_texts_.push_back(search_text({&ar.name}));
  for (const auto& [track, root] : track_root_)
    if (const auto it = track_artist_.find(track); it != track_artist_.end()) artist_roots_[it->second].push_back(root);
  // An artist is in a folder also through the albums it is the album artist of (a compilation's).
  for (size_t i = 0; i < n; ++i)
    for (const int root : album_roots_[i]) artist_roots_[artist_at_.at(albums_[i].artist_id)].push_back(root);
  for (auto* lists : {&album_roots_, &artist_roots_})
    for (std::vector<int>& roots : *lists) {
      std::sort(roots.begin(), roots.end());
      roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
    }

  for (const size_t a : albums_by_artist_)
    for (const int64_t t : albums_[a].tracks) songs_.push_back(t);
  artist_songs_.assign(artists_.size(), {});
  for (const int64_t id : songs_)
    if (const auto it = track_artist_.find(id); it != track_artist_.end()) artist_songs_[it->second].push_back(id);
  std::vector<std::string> sort_keys(artists_.size());
  artist_letters_.resize(artists_.size());
  for (size_t i = 0; i < artists_.size(); ++i) std::tie(artist_letters_[i], sort_keys[i]) = index_key(artists_[i].name);
  artists_indexed_.resize(artists_.size());
  for (size_t i = 0; i < artists_.size(); ++i) artists_indexed_[i] = i;
  // artists_ is by name then id already: a stable sort by (letter, key) keeps that for ties.
  std::stable_sort(artists_indexed_.begin(), artists_indexed_.end(), [&](size_t a, size_t b) {
    if (artist_letters_[a] != artist_letters_[b]) return artist_letters_[a] < artist_letters_[b];
    return sort_keys[a] < sort_keys[b];
  });
  song_texts_.reserve(songs_.size());
  for (const int64_t id : songs_) {
    const store::Track* t = by_id.at(id);
    song_folders_.push_back(music_folder_of(id));
    const CatalogAlbum* album = album_of(id);
    const CatalogArtist* artist = artist_of(id);
    last_modified_ = std::max(last_modified_, t->indexed_at);
    // An untitled song is found by its file name, as apps show it.
    static const std::string none;
    const std::string title = t->title.empty() ? last_part(t->path) : t->title;
    song_texts_.push_back(search_text({&title, artist ? &artist->name : &none, album ? &album->name : &none}));
    if (!t->genre.empty()) genre_songs_[t->genre].push_back(id);
  }
  for (const size_t a : albums_by_name_) {
    std::set<std::string> seen;
    for (const int64_t id : albums_[a].tracks)
      if (const store::Track* t = by_id.at(id); !t->genre.empty() && seen.insert(t->genre).second)
        genre_albums_[t->genre].push_back(a);
  }
}

const char* MusicCatalog::ignored_articles() { return "The El La Los Las Le Les"; }

std::pair<std::string, std::string> MusicCatalog::index_key(const std::string& name) {
  std::string key = normalise_name(name);
  // normalise_name folded case and joined words by single spaces: an article is a first word.
  for (const char* article : {"the ", "el ", "la ", "los ", "las ", "le ", "les "}) {
    const std::string a = article;
    if (key.size() > a.size() && key.compare(0, a.size(), a) == 0) {
      key.erase(0, a.size());
      break;
    }
  }
  const char c = key.empty() ? '\0' : key[0];
  const std::string letter = c >= 'a' && c <= 'z' ? std::string(1, static_cast<char>(c - 'a' + 'A')) : "#";
  return {letter, key};
}

int MusicCatalog::music_folder_of(int64_t track_id) const {
  const auto it = track_root_.find(track_id);
  return it == track_root_.end() ? 0 : it->second;
}

bool MusicCatalog::album_in(size_t album, int music_folder) const {
  const auto& roots = album_roots_[album];
  return std::binary_search(roots.begin(), roots.end(), music_folder);
}

bool MusicCatalog::artist_in(size_t artist, int music_folder) const {
  const auto& roots = artist_roots_[artist];
  return std::binary_search(roots.begin(), roots.end(), music_folder);
}

const std::vector<size_t>* MusicCatalog::albums_of_genre(const std::string& genre) const {
  const auto it = genre_albums_.find(genre);
  return it == genre_albums_.end() ? nullptr : &it->second;
}

const std::vector<int64_t>* MusicCatalog::songs_of_genre(const std::string& genre) const {
  const auto it = genre_songs_.find(genre);
  return it == genre_songs_.end() ? nullptr : &it->second;
}

const CatalogAlbum* MusicCatalog::album(const std::string& id) const {
  const auto it = album_at_.find(id);
  return it == album_at_.end() ? nullptr : &albums_[it->second];
}

const CatalogArtist* MusicCatalog::artist(const std::string& id) const {
  const auto it = artist_at_.find(id);
  return it == artist_at_.end() ? nullptr : &artists_[it->second];
}

const CatalogFolder* MusicCatalog::folder(const std::string& id) const {
  const auto it = folder_at_.find(id);
  return it == folder_at_.end() ? nullptr : &folders_[it->second];
}

const MusicFolder* MusicCatalog::music_folder(int id) const {
  for (const MusicFolder& m : music_folders_)
    if (m.id == id) return &m;
  return nullptr;
}

const CatalogAlbum* MusicCatalog::album_of(int64_t track_id) const {
  const auto it = track_album_.find(track_id);
  return it == track_album_.end() ? nullptr : &albums_[it->second];
}

const CatalogArtist* MusicCatalog::artist_of(int64_t track_id) const {
  const auto it = track_artist_.find(track_id);
  return it == track_artist_.end() ? nullptr : &artists_[it->second];
}

const CatalogFolder* MusicCatalog::folder_of(int64_t track_id) const {
  const auto it = track_folder_.find(track_id);
  return it == track_folder_.end() ? nullptr : &folders_[it->second];
}

std::vector<int64_t> MusicCatalog::tracks_in(int music_folder) const {
  std::vector<int64_t> out;
  for (const auto& [track, root] : track_root_)
    if (root == music_folder) out.push_back(track);
  return out;
}

}  // namespace clap::service
