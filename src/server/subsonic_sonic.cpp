// The sonic endpoints of /rest/: getSimilarSongs and getSimilarSongs2 (songs like a song, an
// album, an artist or a folder: an artist's radio from the audio instead of last.fm), and the
// sonicSimilarity extension's getSonicSimilarTracks and findSonicPath (content/en/docs/Extensions/
// sonicSimilarity.md in the spec). The songs come from service/sonic.h, the same functions the
// /api/sonic/ routes answer with; the library's default exclusions (the server's music-only rule,
// ServerOptions::exclude) always apply here, as a Subsonic client has no way to lift them.
#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "server/subsonic.h"
#include "service/filters.h"
#include "service/sonic.h"

namespace clap::server::subsonic {

namespace {

// The options of a sonic query with the music-only rule. count: `def` when absent, 0 or more
// (the spec's minimum); the spec sets no maximum and count is a most, so more than the server's
// limit on results (ServerOptions::max_k) is answered with that many rather than refused.
service::SonicOptions sonic_options(const Call& call, int64_t def) {
  service::SonicOptions o;
  o.count = std::min(call.integer("count", def, 0, std::numeric_limits<int64_t>::max()), call.options.max_k);
  o.rules = service::excluding_tracks({}, call.snap.tracks_matching(call.options.exclude));
  return o;
}

bool has_prefix(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Every track at or below a folder of the catalog (the folder view's "artist" or "album").
void folder_tracks(const service::MusicCatalog& catalog, const service::CatalogFolder& f, std::vector<int64_t>& out) {
  out.insert(out.end(), f.tracks.begin(), f.tracks.end());
  for (const size_t sub : f.folders) folder_tracks(catalog, catalog.folders()[sub], out);
}

// getSimilarSongs(2): `id` is a song (songs like it, the song left out), an album or a folder
// ("al-", "fo-" for clients that browse by folder: songs like the group's mean direction, the
// group's own songs left out, as /api/sonic/similarToAlbum answers), or an artist ("ar-": the
// spec's "songs from the given artist and similar artists", an artist radio: every song ranked by
// the artist's mean direction, the artist's own included). count: the spec's default 50, 0 allowed.
std::vector<service::SonicMatch> similar_songs(Call& call) {
  const std::string id = call.required("id");
  const service::SonicOptions o = sonic_options(call, 50);
  const std::string shown = id.substr(0, 80);
  if (has_prefix(id, "ar-")) {
    const service::CatalogArtist* artist = call.catalog.artist(id);
    if (!artist) throw Failure{70, "artist not found: " + shown};
    // The artist's songs: those it performs and those of its albums (as album artist), as
    // /api/sonic/similarToArtist takes an artist; by the catalog's ids, so that "[Unknown
    // Artist]" is the untagged songs.
    std::vector<int64_t> tracks;
    for (const store::Track& t : call.snap.tracks()) {
      const service::CatalogArtist* performer = call.catalog.artist_of(t.id);
      const service::CatalogAlbum* album = call.catalog.album_of(t.id);
      if ((performer && performer->id == id) || (album && album->artist_id == id)) tracks.push_back(t.id);
    }
    service::SonicOptions radio = o;
    radio.include_group = true;
    return service::sonic_similar_to_tracks(call.snap, tracks, "artist \"" + artist->name + "\"", radio);
  }
  if (has_prefix(id, "al-")) {
    const service::CatalogAlbum* album = call.catalog.album(id);
    if (!album) throw Failure{70, "album not found: " + shown};
    return service::sonic_similar_to_tracks(call.snap, album->tracks, "album \"" + album->name + "\"", o);
  }
  if (has_prefix(id, "fo-")) {
    const service::CatalogFolder* folder = call.catalog.folder(id);
    if (!folder) throw Failure{70, "folder not found: " + shown};
    std::vector<int64_t> tracks;
    folder_tracks(call.catalog, *folder, tracks);
    return service::sonic_similar_to_tracks(call.snap, tracks, "folder \"" + folder->name + "\"", o);
  }
  if (service::MusicCatalog::track_of_song_id(id) < 0) throw Failure{70, "no song, album, artist or folder has the id " + shown};
  return service::sonic_similar(call.snap, call.song(id), o);
}

ojson songs(const Call& call, const std::vector<service::SonicMatch>& matches) {
  ojson list = ojson::array();
  for (const service::SonicMatch& m : matches) list.push_back(child(call, *m.track));
  return ojson{{"song", std::move(list)}};
}

// sonicMatch: [{entry: Child, similarity}] (content/en/docs/Responses/sonicMatch.md).
ojson sonic_matches(const Call& call, const std::vector<service::SonicMatch>& matches) {
  ojson list = ojson::array();
  for (const service::SonicMatch& m : matches)
    list.push_back(ojson{{"entry", child(call, *m.track)}, {"similarity", service::json_num(m.similarity)}});
  return list;
}

void get_similar_songs(Call& call, ojson& body) { body["similarSongs"] = songs(call, similar_songs(call)); }

void get_similar_songs2(Call& call, ojson& body) { body["similarSongs2"] = songs(call, similar_songs(call)); }

void get_sonic_similar_tracks(Call& call, ojson& body) {
  const std::string id = call.required("id");
  const service::SonicOptions o = sonic_options(call, 10);
  const store::Track& seed = call.song(id);
  body["sonicMatch"] = sonic_matches(call, service::sonic_similar(call.snap, seed, o));
}

void find_sonic_path(Call& call, ojson& body) {
  // Both required parameters before either id is looked up: a missing one is said first (10), a
  // value that cannot be used next (10), an id that names no song last (70).
  const std::string start_id = call.required("startSongId"), end_id = call.required("endSongId");
  const service::SonicOptions o = sonic_options(call, 25);
  if (o.count == 1) throw Failure{kBadParameter, "parameter count: a path holds its two ends, so 0 or at least 2 songs (got 1)"};
  const store::Track& start = call.song(start_id);
  const store::Track& end = call.song(end_id);
  if (start.id == end.id && o.count > 0)
    throw Failure{kBadParameter, "startSongId and endSongId name the same song (" + start_id.substr(0, 80) +
                         "): a path runs between two songs"};
  body["sonicMatch"] = sonic_matches(call, service::sonic_path(call.snap, start, end, o));
}

}  // namespace

const std::vector<Endpoint>& sonic_endpoints() {
  static const std::vector<Endpoint> table = {
      {"getSimilarSongs", &get_similar_songs},
      {"getSimilarSongs2", &get_similar_songs2},
      {"getSonicSimilarTracks", &get_sonic_similar_tracks},
      {"findSonicPath", &find_sonic_path},
  };
  return table;
}

}  // namespace clap::server::subsonic
