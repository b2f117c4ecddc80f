// The records the /rest/ endpoints answer with, as the OpenSubsonic spec's schemas define them
// (openapi/schemas/Child.json, AlbumID3.json, ArtistID3.json, Directory.json). OpenSubsonic
// servers give the spec's newer members even when empty (an empty array, not an absent member),
// so clients can tell "none" from "not supported".
#include <algorithm>
#include <cmath>
#include <ctime>

#include "core/utc_time.h"
#include "server/subsonic.h"
#include "store/rows.h"

namespace clap::server::subsonic {

std::string date_time(int64_t unix_s) { return utc_date_time(unix_s); }

int64_t whole_duration(double stored_s, int64_t units_per_second) {
  return std::llround(store::known_duration_s(stored_s) * static_cast<double>(units_per_second));
}

std::string suffix_of_path(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string s = path.substr(dot + 1);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string content_type_of_path(const std::string& path) {
  static const std::pair<const char*, const char*> types[] = {
      {"mp3", "audio/mpeg"},  {"flac", "audio/flac"}, {"ogg", "audio/ogg"},   {"oga", "audio/ogg"},
      {"opus", "audio/ogg"},  {"m4a", "audio/mp4"},   {"m4b", "audio/mp4"},   {"mp4", "audio/mp4"},
      {"aac", "audio/aac"},   {"wav", "audio/wav"},   {"aif", "audio/aiff"},  {"aiff", "audio/aiff"},
      {"wma", "audio/x-ms-wma"}, {"ape", "audio/x-ape"}, {"wv", "audio/x-wavpack"}, {"mka", "audio/x-matroska"},
      {"webm", "audio/webm"}, {"alac", "audio/mp4"},  {"dsf", "audio/x-dsf"}, {"mpc", "audio/x-musepack"},
  };
  const std::string s = suffix_of_path(path);
  for (const auto& [suffix, type] : types)
    if (s == suffix) return type;
  return "application/octet-stream";
}

namespace {

std::string file_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = name.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

int year_of(const std::string& date) {
  if (date.size() < 4 || !std::all_of(date.begin(), date.begin() + 4, [](char c) { return c >= '0' && c <= '9'; })) return 0;
  return std::stoi(date.substr(0, 4));
}

ojson artist_ref(const std::string& id, const std::string& name) { return ojson{{"id", id}, {"name", name}}; }

// A record's members, appended in the order written without looking for an earlier member of the
// same name (a record names each member once): ordered_json's operator[] searches the members
// one by one, so a Child's 30 members cost 450 string comparisons, a sync page of 500 songs
// 225,000, besides the writing itself.
class Members {
 public:
  explicit Members(ojson& j) : members_((j = ojson::object()).get_ref<ojson::object_t&>()) { members_.reserve(32); }
  template <class V>
  void add(const char* name, V&& value) {
    members_.emplace_back(name, ojson(std::forward<V>(value)));
  }

 private:
  ojson::object_t& members_;
};

}  // namespace

ojson child(const Call& call, const store::Track& t) {
  ojson j = child(call.snap, call.catalog, t);
  const UserMarks& m = call.marks();
  auto& members = j.get_ref<ojson::object_t&>();  // the marks are members child() never writes
  if (const auto s = m.starred.songs.find(t.id); s != m.starred.songs.end()) members.emplace_back("starred", date_time(s->second));
  if (const auto r = m.ratings.songs.find(t.id); r != m.ratings.songs.end()) members.emplace_back("userRating", r->second);
  const auto p = m.plays().find(t.id);
  members.emplace_back("playCount", p == m.plays().end() ? 0 : p->second.count);
  if (p != m.plays().end() && p->second.last > 0) members.emplace_back("played", date_time(p->second.last));
  return j;
}

ojson child(const service::LibrarySnapshot& snap, const service::MusicCatalog& catalog, const store::Track& t) {
  const service::CatalogAlbum* album = catalog.album_of(t.id);
  const service::CatalogArtist* artist = catalog.artist_of(t.id);
  const service::CatalogFolder* folder = catalog.folder_of(t.id);
  ojson j;
  Members m(j);
  m.add("id", service::MusicCatalog::song_id(t.id));
  if (folder) m.add("parent", folder->id);
  m.add("isDir", false);
  m.add("title", t.title.empty() ? file_name(t.path) : t.title);
  if (album) m.add("album", album->name);
  if (artist) m.add("artist", artist->name);
  if (t.track_no > 0) m.add("track", t.track_no);
  if (const int y = year_of(t.date); y > 0) m.add("year", y);
  if (!t.genre.empty()) m.add("genre", t.genre);
  m.add("coverArt", service::MusicCatalog::song_id(t.id));
  m.add("size", t.size);
  m.add("contentType", content_type_of_path(t.path));
  m.add("suffix", suffix_of_path(t.path));
  m.add("duration", whole_duration(t.duration_s));
  if (const double s = store::known_duration_s(t.duration_s); s > 0.5) m.add("bitRate", static_cast<int64_t>(std::llround(double(t.size) * 8 / s / 1000)));
  // The path as apps show it: relative to its indexed folder, never where the library lives.
  m.add("path", snap.display_path(t.path));
  m.add("isVideo", false);
  m.add("created", date_time(t.indexed_at));
  if (album) m.add("albumId", album->id);
  if (artist) m.add("artistId", artist->id);
  m.add("type", "music");
  m.add("mediaType", "song");
  m.add("musicBrainzId", t.mbid);
  m.add("isrc", t.isrc.empty() ? ojson::array() : ojson::array({t.isrc}));
  m.add("genres", t.genre.empty() ? ojson::array() : ojson::array({ojson{{"name", t.genre}}}));
  m.add("artists", artist ? ojson::array({artist_ref(artist->id, artist->name)}) : ojson::array());
  m.add("displayArtist", artist ? artist->name : "");
  m.add("albumArtists", album ? ojson::array({artist_ref(album->artist_id, album->artist)}) : ojson::array());
  m.add("displayAlbumArtist", album ? album->artist : "");
  m.add("moods", ojson::array());
  return j;
}

ojson folder_child(const Call&, const service::CatalogFolder& f) {
  ojson j;
  j["id"] = f.id;
  if (!f.parent_id.empty()) j["parent"] = f.parent_id;
  j["isDir"] = true;
  j["title"] = f.name;
  return j;
}

ojson song_list(const Call& call, const std::vector<int64_t>& track_ids) {
  std::vector<const store::Track*> songs;
  songs.reserve(track_ids.size());
  for (const int64_t id : track_ids)
    if (const store::Track* t = call.snap.track(id)) songs.push_back(t);
  const size_t count = songs.size();  // before the move below (arguments are evaluated in any order)
  return call.lazy_list(count, [&call, songs = std::move(songs)](size_t i) { return child(call, *songs[i]); });
}

ojson directory(const Call& call, const service::CatalogFolder& f) {
  ojson j;
  j["id"] = f.id;
  if (!f.parent_id.empty()) j["parent"] = f.parent_id;
  j["name"] = f.name;
  // Its folders, then its files: each Child made as the answer is written (a flat folder of
  // 100,000 files is one list).
  std::vector<const store::Track*> songs;
  for (const int64_t id : f.tracks)
    if (const store::Track* t = call.snap.track(id)) songs.push_back(t);
  const size_t folders = f.folders.size(), count = folders + songs.size();  // before the move below
  j["child"] = call.lazy_list(count, [&call, &f, folders, songs = std::move(songs)](size_t i) {
    return i < folders ? folder_child(call, call.catalog.folders()[f.folders[i]]) : child(call, *songs[i - folders]);
  });
  return j;
}

ojson album_id3(const Call& call, const service::CatalogAlbum& a) {
  ojson j;
  Members m(j);
  m.add("id", a.id);
  m.add("name", a.name);
  m.add("artist", a.artist);
  m.add("artistId", a.artist_id);
  m.add("coverArt", a.id);
  m.add("songCount", static_cast<int64_t>(a.tracks.size()));
  m.add("duration", whole_duration(a.duration_s));
  m.add("created", date_time(a.created));
  if (a.year > 0) m.add("year", a.year);
  if (!a.genre.empty()) m.add("genre", a.genre);
  m.add("genres", a.genre.empty() ? ojson::array() : ojson::array({ojson{{"name", a.genre}}}));
  m.add("artists", ojson::array({artist_ref(a.artist_id, a.artist)}));
  m.add("displayArtist", a.artist);
  m.add("musicBrainzId", "");
  m.add("recordLabels", ojson::array());
  m.add("releaseTypes", ojson::array());
  m.add("moods", ojson::array());
  m.add("isCompilation", false);
  const UserMarks& marks = call.marks();
  if (const auto s = marks.starred.albums.find(a.id); s != marks.starred.albums.end()) m.add("starred", date_time(s->second));
  if (const auto r = marks.ratings.items.find(a.id); r != marks.ratings.items.end()) m.add("userRating", r->second);
  // The album's plays: its songs' together, and the latest of them.
  int64_t count = 0, last = 0;
  for (const int64_t t : a.tracks)
    if (const auto p = marks.plays().find(t); p != marks.plays().end()) count += p->second.count, last = std::max(last, p->second.last);
  m.add("playCount", count);
  if (last > 0) m.add("played", date_time(last));
  return j;
}

ojson artist_id3(const Call& call, const service::CatalogArtist& a) {
  ojson j;
  Members m(j);
  m.add("id", a.id);
  m.add("name", a.name);
  m.add("coverArt", a.id);
  m.add("albumCount", static_cast<int64_t>(a.albums.size()));
  m.add("musicBrainzId", "");
  const UserMarks& marks = call.marks();
  if (const auto s = marks.starred.artists.find(a.id); s != marks.starred.artists.end()) m.add("starred", date_time(s->second));
  return j;
}

}  // namespace clap::server::subsonic
