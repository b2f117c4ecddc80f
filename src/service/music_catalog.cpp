#include "service/music_catalog.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/sha256.h"
#include "service/library.h"
#include "service/song_resolver.h"

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
      a.duration_s += t->duration_s;
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
