// What each user keeps, per user (service/user_data.h): star, unstar, getStarred, getStarred2,
// setRating, scrobble, getNowPlaying, getPlaylists, getPlaylist, createPlaylist,
// updatePlaylist, deletePlaylist. Stars and ratings are of songs (song ids), albums ("al-" ids;
// a folder's "fo-" id as Subsonic's file view stars it), and artists ("ar-"). Playlist ids are
// "pl-" + the index's playlist number.
#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "core/utf8.h"
#include "core/utc_time.h"
#include "server/subsonic.h"
#include "service/user_data.h"

namespace clap::server::subsonic {

service::UserData user_data(const Call& call) {
  return service::UserData(service::accounts_connection(call.lib.location()), call.user.id, call.snap.library_generation());
}

namespace {

// The items of star/unstar: `id` (a song, album, folder or artist id), `albumId`, `artistId`.
struct Items {
  std::vector<const store::Track*> songs;
  std::vector<std::string> albums, artists;
};

// The most ids one star, unstar or scrobble call takes: each is a write, so a form POST of
// 100,000 ids held a thread 15 s and (scrobble) added 100,000 plays in one call. An app's queue
// of offline plays or a multi-select sends far fewer.
constexpr size_t kMaxIdsPerCall = 1000;

void check_id_count(size_t ids) {
  if (ids > kMaxIdsPerCall)
    throw Failure{0, "at most " + std::to_string(kMaxIdsPerCall) + " ids in one call (got " + std::to_string(ids) + ")"};
}

Items items(const Call& call) {
  check_id_count(call.all("id").size() + call.all("albumId").size() + call.all("artistId").size());
  Items out;
  for (const std::string& id : call.all("id")) {
    if (call.catalog.album(id) || call.catalog.folder(id)) out.albums.push_back(id);
    else if (call.catalog.artist(id)) out.artists.push_back(id);
    else out.songs.push_back(&call.song(id));  // Failure 70 when no song has it
  }
  for (const std::string& id : call.all("albumId")) {
    if (!call.catalog.album(id)) throw Failure{70, "album not found: " + id.substr(0, 80)};
    out.albums.push_back(id);
  }
  for (const std::string& id : call.all("artistId")) {
    if (!call.catalog.artist(id)) throw Failure{70, "artist not found: " + id.substr(0, 80)};
    out.artists.push_back(id);
  }
  if (out.songs.empty() && out.albums.empty() && out.artists.empty())
    throw Failure{10, "required parameter is missing: id, albumId or artistId"};
  return out;
}

void star(Call& call, ojson&) {
  const Items i = items(call);
  user_data(call).star(i.songs, i.albums, i.artists, now_unix_seconds());
}

void unstar(Call& call, ojson&) {
  const Items i = items(call);
  user_data(call).unstar(i.songs, i.albums, i.artists);
}

// The user's star and rating of an album, folder or artist shown as getStarred lists it (the
// Child and ArtistID3 records carry theirs already: Call::marks).
void mark_item(ojson& j, const std::string& id, const UserMarks& m) {
  if (const auto s = m.starred.albums.find(id); s != m.starred.albums.end()) j["starred"] = date_time(s->second);
  if (const auto s = m.starred.artists.find(id); s != m.starred.artists.end()) j["starred"] = date_time(s->second);
  if (const auto r = m.ratings.items.find(id); r != m.ratings.items.end()) j["userRating"] = r->second;
}

// Ids ordered newest star first (then by id), as apps list favourites.
template <class Key>
std::vector<Key> newest_first(const std::map<Key, int64_t>& stars) {
  std::vector<std::pair<int64_t, Key>> v;
  for (const auto& [k, at] : stars) v.push_back({at, k});
  std::sort(v.begin(), v.end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  std::vector<Key> out;
  for (const auto& [at, k] : v) out.push_back(k);
  return out;
}

// getStarred (id3 false: albums as directories, artists as Artist) and getStarred2 (AlbumID3, ArtistID3).
void starred(Call& call, ojson& body, bool id3) {
  const UserMarks& m = call.marks();
  call.long_answer(m.starred.songs.size() + m.starred.albums.size() + m.starred.artists.size());
  std::optional<std::set<int64_t>> in_folder;
  if (const int folder = music_folder_param(call); folder != 0) {
    const auto tracks = call.catalog.tracks_in(folder);
    in_folder.emplace(tracks.begin(), tracks.end());
  }
  auto in_scope = [&](const std::vector<int64_t>& tracks) {
    if (!in_folder) return true;
    return std::any_of(tracks.begin(), tracks.end(), [&](int64_t t) { return in_folder->count(t) > 0; });
  };
  ojson songs = ojson::array(), albums = ojson::array(), artists = ojson::array();
  for (const int64_t id : newest_first(m.starred.songs)) {
    const store::Track* t = call.snap.track(id);
    if (t && t->status == store::TrackStatus::Ok && (!in_folder || in_folder->count(id))) songs.push_back(child(call, *t));
  }
  for (const std::string& id : newest_first(m.starred.albums)) {
    if (const service::CatalogAlbum* a = call.catalog.album(id); a && in_scope(a->tracks)) {
      ojson j;
      if (id3) {
        j = album_id3(call, *a);
      } else {
        j["id"] = a->id;
        j["isDir"] = true;
        j["title"] = a->name;
        j["album"] = a->name;
        j["artist"] = a->artist;
        j["coverArt"] = a->id;
      }
      mark_item(j, id, m);
      albums.push_back(j);
    } else if (const service::CatalogFolder* f = call.catalog.folder(id); f && !id3 && in_scope(f->tracks)) {
      ojson j = folder_child(call, *f);
      mark_item(j, id, m);
      albums.push_back(j);
    }
  }
  for (const std::string& id : newest_first(m.starred.artists)) {
    const service::CatalogArtist* a = call.catalog.artist(id);
    if (!a) continue;
    ojson j = id3 ? artist_id3(call, *a) : ojson{{"id", a->id}, {"name", a->name}};
    mark_item(j, id, m);
    artists.push_back(j);
  }
  body[id3 ? "starred2" : "starred"] = ojson{{"artist", artists}, {"album", albums}, {"song", songs}};
}

void get_starred(Call& call, ojson& body) { starred(call, body, false); }
void get_starred2(Call& call, ojson& body) { starred(call, body, true); }

void set_rating(Call& call, ojson&) {
  const std::string id = call.required("id");
  const int rating = static_cast<int>(call.integer("rating", -1, 0, 5));
  if (rating < 0) throw Failure{10, "required parameter is missing: rating"};
  service::UserData data = user_data(call);
  if (call.catalog.album(id) || call.catalog.folder(id)) data.rate(nullptr, "album", id, rating, now_unix_seconds());
  else if (call.catalog.artist(id)) data.rate(nullptr, "artist", id, rating, now_unix_seconds());
  else data.rate(&call.song(id), "song", "", rating, now_unix_seconds());
}

// A player's id as an integer (the spec's NowPlayingEntry.playerId): from its name (c), stable.
int64_t player_id(const std::string& name) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 16777619u;
  return static_cast<int64_t>(h & 0x7fffffff);
}

void scrobble(Call& call, ojson&) {
  const std::vector<std::string> ids = call.all("id");
  if (ids.empty() || ids.front().empty()) throw Failure{10, "required parameter is missing: id"};
  check_id_count(ids.size());
  const std::vector<std::string> times = call.all("time");
  if (!times.empty() && times.size() != ids.size())
    throw Failure{kBadParameter, "parameter time: give one per id (" + std::to_string(ids.size()) + " ids, " +
                         std::to_string(times.size()) + " times)"};
  const bool submission = call.boolean("submission", true);
  std::vector<const store::Track*> songs;
  std::vector<int64_t> at;
  for (size_t i = 0; i < ids.size(); ++i) {
    songs.push_back(&call.song(ids[i]));
    int64_t when = now_unix_seconds();
    if (!times.empty()) {
      int64_t ms = 0;
      const auto [end, ec] = std::from_chars(times[i].data(), times[i].data() + times[i].size(), ms);
      if (ec != std::errc() || end != times[i].data() + times[i].size() || ms < 0)
        throw Failure{kBadParameter, "parameter time must be milliseconds since 1970 (got \"" + times[i].substr(0, 40) + "\")"};
      when = ms / 1000;
      // A play is in the past: a time beyond tomorrow (a day of clock skew allowed) is a wrong
      // time, which stored would show as every later answer's "played" date.
      if (when > now_unix_seconds() + 86400)
        throw Failure{kBadParameter, "parameter time is in the future (" + times[i].substr(0, 40) + " ms since 1970)"};
    }
    at.push_back(when);
  }
  if (!submission) {
    // Now playing: the last song of the call, for this user and player. The player name is kept
    // and shown to every user (getNowPlaying): text checked as savePlayQueue checks the same `c`,
    // but a long name is cut by NowPlaying (an app's now playing keeps working), not refused.
    const std::string player = stored_text("c", call.param("c"), std::numeric_limits<size_t>::max());
    service::NowPlaying::of(call.lib.location()).set({call.user.id, call.user.name, player, songs.back()->id, at.back()});
    return;
  }
  service::UserData data = user_data(call);
  for (size_t i = 0; i < songs.size(); ++i) data.played(*songs[i], at[i], "subsonic");
}

void get_now_playing(Call& call, ojson& body) {
  const int64_t now = now_unix_seconds();
  ojson entries = ojson::array();
  for (const auto& e : service::NowPlaying::of(call.lib.location()).list(now)) {
    const store::Track* t = call.snap.track(e.track_id);
    if (!t || t->status != store::TrackStatus::Ok) continue;
    ojson j = child(call, *t);
    j["username"] = e.user;
    j["minutesAgo"] = std::max<int64_t>(0, (now - e.since) / 60);
    j["playerId"] = player_id(e.player);
    if (!e.player.empty()) j["playerName"] = e.player;
    entries.push_back(j);
  }
  body["nowPlaying"] = ojson{{"entry", std::move(entries)}};
}

// --- playlists ----------------------------------------------------------------------------------

std::string playlist_id(int64_t id) { return "pl-" + std::to_string(id); }

int64_t playlist_number(const std::string& id) {
  // Only playlist_id's form: "pl-02" is not an id the server issued (ids are opaque strings).
  if (id.rfind("pl-", 0) != 0 || id.size() < 4 || id.size() > 21 || id[3] == '0') return -1;
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(id.data() + 3, id.data() + id.size(), n);
  return ec == std::errc() && end == id.data() + id.size() && n > 0 ? n : -1;
}

// The entries a client sees: those whose song is in the library now, with their positions in
// the stored list (a song gone from the library stays stored, unseen, until it comes back).
std::vector<std::pair<size_t, const store::Track*>> visible(const Call& call, const store::PlaylistRecord& p) {
  std::vector<std::pair<size_t, const store::Track*>> out;
  for (size_t i = 0; i < p.entries.size(); ++i)
    if (const store::Track* t = call.snap.track(p.entries[i].track_id); t && t->status == store::TrackStatus::Ok)
      out.push_back({i, t});
  return out;
}

// A song's length as a playlist's duration sums it: whole seconds, rounded (0 for a length no
// audio has, so one damaged row cannot make the sum garbage).
int64_t whole_seconds(const store::Track& t) { return whole_duration(t.duration_s); }

// The spec's Playlist record without its entries (getPlaylists lists these).
ojson playlist_header(const store::PlaylistRecord& p, const std::string& owner, int64_t songs, int64_t seconds) {
  ojson j;
  j["id"] = playlist_id(p.id);
  j["name"] = p.name;
  if (!p.comment.empty()) j["comment"] = p.comment;
  j["owner"] = owner;
  j["public"] = p.is_public;
  j["songCount"] = songs;
  j["duration"] = seconds;
  j["created"] = date_time(p.created_at);
  j["changed"] = date_time(p.changed_at);
  return j;
}

// One playlist read with its entries (getPlaylist, createPlaylist), as PlaylistWithSongs.
ojson playlist_json(const Call& call, service::UserData& data, const store::PlaylistRecord& p) {
  int64_t seconds = 0;
  std::vector<const store::Track*> songs;  // each Child made as the answer is written (20,000 at most)
  for (const auto& [pos, t] : visible(call, p)) {
    seconds += whole_seconds(*t);
    songs.push_back(t);
  }
  ojson j = playlist_header(p, data.user_name(p.owner), static_cast<int64_t>(songs.size()), seconds);
  const size_t listed = songs.size();  // before the move below (arguments are evaluated in any order)
  j["entry"] = call.lazy_list(listed, [&call, songs = std::move(songs)](size_t i) { return child(call, *songs[i]); });
  return j;
}

store::PlaylistRecord readable(const Call& call, service::UserData& data, const std::string& id) {
  const int64_t n = playlist_number(id);
  const auto p = n > 0 ? data.playlist(n, call.user.admin) : std::nullopt;
  if (!p) throw Failure{70, "playlist not found: " + id.substr(0, 80)};
  return *p;
}

// A write the user may not make is 50; a playlist gone meanwhile is 70; a new playlist past
// the bound on a user's playlists is 0, the spec's generic error (no code names a limit; a
// playlist's songs past kMaxPlaylistSongs are 0 too).
template <class Write>
auto writing(const Write& write) {
  try {
    return write();
  } catch (const service::UserData::NotAllowed& e) {
    throw Failure{50, std::string("user is not authorized for the given operation: ") + e.what()};
  } catch (const service::UserData::TooMany& e) {
    throw Failure{0, e.what()};
  }
}

void get_playlists(Call& call, ojson& body) {
  service::UserData data = user_data(call);
  const std::string username = call.param("username");
  int64_t only_owner = 0;
  if (!username.empty()) {
    // Names match as sign-in matches them (getUser likewise): a user signed in as "Alice" who asks
    // for "Alice"'s playlists asks for their own, where a comparison of bytes with the stored
    // "alice" answered 50 (not authorized).
    const auto named = service::accounts_connection(call.lib.location()).with([&](service::Accounts&, store::Store& s) {
      return service::find_user(s, username);
    });
    if (!named || named->id != call.user.id) {
      if (!call.user.admin) throw Failure{50, "user is not authorized for the given operation: another user's playlists"};
      if (!named) throw Failure{70, "user not found: " + username.substr(0, 80)};
      only_owner = named->id;
    }
  }
  // Each playlist's songs and length from one read of every listed playlist's entries (H9S-7:
  // a read per playlist made another user's 100,000 public playlists a 36 s listing for all).
  // An admin's listing of another user's reads only that user's playlists.
  std::vector<service::UserData::PlaylistSummary> listed = data.playlist_summaries(only_owner, [&](int64_t track_id) {
    const store::Track* t = call.snap.track(track_id);
    return t && t->status == store::TrackStatus::Ok ? std::optional<int64_t>(whole_seconds(*t)) : std::nullopt;
  });
  // A long list waits its turn, and each record is made as the answer is written.
  call.long_answer(listed.size());
  const size_t count = listed.size();  // before the move below
  body["playlists"] = ojson{{"playlist", call.lazy_list(count, [listed = std::move(listed)](size_t i) {
                               const service::UserData::PlaylistSummary& p = listed[i];
                               return playlist_header(p.playlist, p.owner, p.songs, p.seconds);
                             })}};
}

void get_playlist(Call& call, ojson& body) {
  service::UserData data = user_data(call);
  const store::PlaylistRecord p = readable(call, data, call.required("id"));
  call.long_answer(p.entries.size());
  body["playlist"] = playlist_json(call, data, p);
}

// The most songs a playlist holds: a whole library's playlist of 111,000 entries made by one POST
// answered getPlaylist with 74 MB in 3.7 s.
constexpr size_t kMaxPlaylistSongs = 20000;

void check_playlist_size(size_t songs) {
  if (songs > kMaxPlaylistSongs)
    throw Failure{0, "a playlist holds at most " + std::to_string(kMaxPlaylistSongs) + " songs (this one would hold " +
                         std::to_string(songs) + ")"};
}

// A playlist's name and comment as a client may set them: bounded (a 900 KB name was stored and
// sent in every getPlaylists answer), valid UTF-8 (a PostgreSQL index refuses anything else)
// and without control characters (a NUL or a line break in a name; a comment keeps its tabs
// and line breaks).
constexpr size_t kMaxPlaylistNameBytes = 1000;
constexpr size_t kMaxPlaylistCommentBytes = 10000;

std::string playlist_text(const std::string& parameter, const std::string& value, size_t max_bytes, bool multiline) {
  if (value.size() > max_bytes)
    throw Failure{kBadParameter, "parameter " + parameter + ": at most " + std::to_string(max_bytes) + " bytes (got " +
                         std::to_string(value.size()) + ")"};
  if (!is_valid_utf8(value)) throw Failure{kBadParameter, "parameter " + parameter + ": not valid UTF-8"};
  if (holds_control_character(value, multiline)) throw Failure{kBadParameter, "parameter " + parameter + ": holds a control character"};
  return value;
}

void create_playlist(Call& call, ojson& body) {
  service::UserData data = user_data(call);
  // The parameters first (name is required without playlistId: a missing one is said before any
  // song id is looked up), then the ids.
  const std::string existing = call.param("playlistId");
  const std::string name = existing.empty() ? call.required("name") : call.param("name");
  if (!name.empty()) playlist_text("name", name, kMaxPlaylistNameBytes, false);
  check_playlist_size(call.all("songId").size());
  std::vector<store::SongRef> songs;
  for (const std::string& id : call.all("songId")) songs.push_back(service::song_ref(call.song(id)));
  const int64_t now = now_unix_seconds();
  // The write and its read-back are one call on the accounts connection, so both are of one file:
  // made one by one, a copy moved over the index between them answered "playlist not found" for
  // the playlist just written to the file it replaced (hostile pass 19, R17S-3); now a
  // replacement during either is said as one ("the index file was replaced while this call
  // ran ... try again"). A refusal is thrown after the call, as an exception inside one drops
  // the connection.
  std::optional<store::PlaylistRecord> made;
  std::exception_ptr refused;
  int64_t id = 0;
  service::accounts_connection(call.lib.location()).with([&](service::Accounts&, store::Store&) {
    try {
      if (!existing.empty()) {
        // createPlaylist with playlistId replaces its songs (and its name, when one is given).
        const int64_t n = playlist_number(existing);
        const std::optional<int64_t> written = n > 0 ? writing([&] {
          return data.change_playlist(n, call.user.admin, [&](store::PlaylistRecord& p) {
            if (!name.empty()) p.name = name;
            p.entries = songs;
            p.changed_at = now;
          });
        })
                                                     : std::nullopt;
        if (!written) throw Failure{70, "playlist not found: " + existing.substr(0, 80)};
        id = *written;
      } else {
        store::PlaylistRecord p;
        p.name = name;
        p.owner = call.user.id;
        p.created_at = now;
        p.entries = songs;
        p.changed_at = now;
        id = writing([&] { return data.save_playlist(p, call.user.admin); });
      }
      made = data.playlist(id, true);
    } catch (const Failure&) {
      refused = std::current_exception();
    }
    return 0;
  });
  if (refused) std::rethrow_exception(refused);
  // Deleted by another request since: said, not read from an empty optional.
  if (!made) throw Failure{70, "playlist not found: " + playlist_id(id)};
  body["playlist"] = playlist_json(call, data, *made);
}

void update_playlist(Call& call, ojson&) {
  service::UserData data = user_data(call);
  const std::string id = call.required("playlistId");
  // Everything the request says is read and checked first; the change itself is made on the
  // playlist as stored when it is written (UserData::change_playlist): two updates at once, each
  // adding a song, used to keep one of the two songs.
  std::optional<std::string> name, comment;
  if (call.has("name")) {
    name = call.param("name");
    if (name->empty()) throw Failure{kBadParameter, "parameter name: a playlist needs a name"};
    playlist_text("name", *name, kMaxPlaylistNameBytes, false);
  }
  if (call.has("comment")) comment = playlist_text("comment", call.param("comment"), kMaxPlaylistCommentBytes, true);
  std::optional<bool> is_public;
  if (call.has("public")) is_public = call.boolean("public", false);
  std::vector<std::pair<std::string, size_t>> remove;  // as given, and as a number
  for (const std::string& index : call.all("songIndexToRemove")) {
    size_t i = 0;
    const auto [end, ec] = std::from_chars(index.data(), index.data() + index.size(), i);
    remove.push_back({index, ec == std::errc() && end == index.data() + index.size() ? i : SIZE_MAX});
  }
  std::vector<store::SongRef> add;
  check_playlist_size(call.all("songIdToAdd").size());  // before resolving 200,000 ids
  for (const std::string& song : call.all("songIdToAdd")) add.push_back(service::song_ref(call.song(song)));
  const int64_t n = playlist_number(id);
  const std::optional<int64_t> written = n > 0 ? writing([&] {
    return data.change_playlist(n, call.user.admin, [&](store::PlaylistRecord& p) {
      if (name) p.name = *name;
      if (comment) p.comment = *comment;
      if (is_public) p.is_public = *is_public;
      // Indexes are of the songs the client was shown (getPlaylist), removed before songs are added.
      const auto shown = visible(call, p);
      std::set<size_t> drop;
      for (const auto& [given, i] : remove) {
        if (i >= shown.size())
          throw Failure{kBadParameter, "parameter songIndexToRemove: " + given.substr(0, 40) + " is not a position of the playlist (0 to " +
                               std::to_string(shown.empty() ? 0 : shown.size() - 1) + ")"};
        drop.insert(shown[i].first);
      }
      std::vector<store::SongRef> kept;
      for (size_t i = 0; i < p.entries.size(); ++i)
        if (!drop.count(i)) kept.push_back(p.entries[i]);
      check_playlist_size(kept.size() + add.size());
      kept.insert(kept.end(), add.begin(), add.end());
      p.entries = std::move(kept);
      p.changed_at = now_unix_seconds();
    });
  })
                                               : std::nullopt;
  if (!written) throw Failure{70, "playlist not found: " + id.substr(0, 80)};
}

void delete_playlist(Call& call, ojson&) {
  service::UserData data = user_data(call);
  const store::PlaylistRecord p = readable(call, data, call.required("id"));
  writing([&] {
    data.delete_playlist(p.id, call.user.admin);
    return 0;
  });
}

}  // namespace

const std::vector<Endpoint>& userdata_endpoints() {
  static const std::vector<Endpoint> table = {
      {"star", &star},
      {"unstar", &unstar},
      {"getStarred", &get_starred},
      {"getStarred2", &get_starred2},
      {"setRating", &set_rating},
      {"scrobble", &scrobble},
      {"getNowPlaying", &get_now_playing},
      {"getPlaylists", &get_playlists},
      {"getPlaylist", &get_playlist},
      {"createPlaylist", &create_playlist},
      {"updatePlaylist", &update_playlist},
      {"deletePlaylist", &delete_playlist},
  };
  return table;
}

}  // namespace clap::server::subsonic
