// The routes for media servers (docs/integrations.md): OpenSubsonic's sonicSimilarity shapes
// under /api/sonic/, songs found by the media server's own references; and artists and albums.

#include <httplib.h>

#include <cctype>
#include <cmath>

#include "core/error.h"
#include "server/api.h"
#include "server/api_request.h"
#include "server/subsonic.h"
#include "service/aggregates.h"
#include "service/sonic.h"

namespace clap::server {

using service::json_num;
using service::ojson;

namespace {

// A parameter of a song reference: "path", or with a prefix "startPath".
std::string ref_name(const std::string& prefix, const std::string& name) {
  if (prefix.empty()) return name;
  return prefix + static_cast<char>(std::toupper(static_cast<unsigned char>(name[0]))) + name.substr(1);
}

struct ResolvedSong {
  const store::Track* track = nullptr;
  std::string rule;  // "track" (our id), or service::rule_name
};

// OpenSubsonic's name for `prefix`'s track parameter: id, startSongId, endSongId.
std::string spec_track_name(const std::string& prefix) { return prefix.empty() ? "id" : prefix + "SongId"; }

// The song a request names through `prefix`'s parameters: track (an id of this index; also by
// the spec's name id, startSongId, endSongId: both given and different is a 400), path, mbid,
// isrc, artist, title (or name), album, duration (seconds) or durationMs. 400 when none is given,
// 404 with what was tried when nothing matches.
ResolvedSong song_param(const httplib::Request& req, const service::LibrarySnapshot& snap, const std::string& prefix) {
  const std::string what = prefix.empty() ? "the song" : prefix + " song";
  const std::string ours = ref_name(prefix, "track"), spec = spec_track_name(prefix);
  if (req.has_param(ours) && req.has_param(spec)) {
    const store::Track& a = track_param(req, snap, ours);
    const store::Track& b = track_param(req, snap, spec);
    if (a.id != b.id)
      throw HttpError{400, "bad parameter", ours + " and " + spec + " name different songs (" + std::to_string(a.id) +
                                                " and " + std::to_string(b.id) + "): give one of them"};
    return {&a, "track"};
  }
  if (req.has_param(ours)) return {&track_param(req, snap, ours), "track"};
  if (req.has_param(spec)) return {&track_param(req, snap, spec), "track"};
  service::SongRef ref;
  ref.path = optional_text(req, ref_name(prefix, "path"));
  ref.mbid = optional_text(req, ref_name(prefix, "mbid"));
  ref.isrc = optional_text(req, ref_name(prefix, "isrc"));
  ref.artist = optional_text(req, ref_name(prefix, "artist"));
  ref.title = optional_text(req, ref_name(prefix, "title"));
  if (ref.title.empty()) ref.title = optional_text(req, ref_name(prefix, "name"));
  ref.album = optional_text(req, ref_name(prefix, "album"));
  ref.duration_s = num_param(req, ref_name(prefix, "duration"), 0, 0, 1e7);
  if (const double ms = num_param(req, ref_name(prefix, "durationMs"), 0, 0, 1e10); ms > 0) ref.duration_s = ms / 1000;
  if (ref.empty())
    throw HttpError{400, "missing parameter",
                    what + ": give " + ref_name(prefix, "track") + " (or " + spec + "), " + ref_name(prefix, "path") + ", " +
                        ref_name(prefix, "mbid") + ", " + ref_name(prefix, "isrc") + " or " + ref_name(prefix, "artist") +
                        " and " + ref_name(prefix, "title")};
  const service::Resolution r = snap.song_index().resolve(ref);
  if (!r.track) throw HttpError{404, "unknown song", what + " is not in the index: " + r.reason};
  return {r.track, service::rule_name(r.rule)};
}

// The options of a request; `where` is parsed here, the music-only rule added by with_rules
// once the request holds its snapshot.
service::SonicOptions sonic_options(const httplib::Request& req, int64_t default_count, int64_t max_count) {
  service::SonicOptions o;
  o.rules.where = where_param(req);
  o.count = int_param(req, "count", default_count, 0, max_count);  // 0: an empty answer, as the spec allows
  o.per_artist = int_param(req, "perArtist", 0, 0, max_count);
  o.exclude_duplicates = req.has_param("excludeDuplicates") ? flag_param(req, "excludeDuplicates") : true;
  o.duplicate_cosine = num_param(req, "duplicateCosine", o.duplicate_cosine, 0, 1);
  return o;
}

// `o` with the server's music-only rule (unless exclude=false), as every query route applies it.
service::SonicOptions with_rules(service::SonicOptions o, const httplib::Request& req, const ServerOptions& options,
                                 const service::LibrarySnapshot& snap) {
  o.rules = music_only(std::move(o.rules), req, options.exclude, snap);
  return o;
}

// A track as OpenSubsonic's Child (the /rest/ records, subsonic_records.cpp: id, isDir, title,
// musicBrainzId, isrc as an array, duration in whole seconds, path relative to its indexed
// folder...), plus durationMs, the exact length a media server matches songs by (Navidrome's
// SongRef), so that a media server matches the result back to its own library.
ojson sonic_entry(const service::LibrarySnapshot& snap, const store::Track& t) {
  ojson entry = subsonic::child(snap, snap.music_catalog(), t);
  entry["durationMs"] = subsonic::whole_duration(t.duration_s, 1000);
  return entry;
}

ojson sonic_matches(const service::LibrarySnapshot& snap, const std::vector<service::SonicMatch>& matches) {
  ojson list = ojson::array();
  for (const auto& m : matches) list.push_back({{"entry", sonic_entry(snap, *m.track)}, {"similarity", json_num(m.similarity)}});
  return list;
}

ojson resolved_record(const service::LibrarySnapshot& snap, const ResolvedSong& s) {
  return {{"entry", sonic_entry(snap, *s.track)}, {"rule", s.rule}};
}

// Artists or albums (service/aggregates.h): by text (q) or like a named one (like; albums:
// artist = its album artist when several albums share the name).
void answer_groups(service::Library& lib, const ServerOptions& options, service::GroupKind kind, const httplib::Request& req,
                   httplib::Response& res) {
  const bool album = kind == service::GroupKind::Album;
  const bool by_text = req.has_param("q"), by_name = req.has_param("like");
  if (by_text == by_name) throw HttpError{400, "missing parameter", "give one of q (a text) and like (a name)"};
  const int64_t k = int_param(req, "k", 10, 1, options.max_k);
  const service::ResultRules parsed = rules_param(req, 0);
  const std::string artist = album ? optional_text(req, "artist") : "";
  const auto snap = lib.snapshot();
  const service::ResultRules rules = music_only(parsed, req, options.exclude, *snap);
  std::vector<service::GroupHit> hits;
  ojson answer;
  if (by_text) {
    const std::string q = texts_param(req, "q", 1)[0];
    answer["query"] = q;
    hits = service::search_groups(lib, *snap, kind, {q}, k, rules)[0];
  } else {
    const std::string like = optional_text(req, "like");
    if (service::normalise_name(like).empty()) throw HttpError{400, "bad parameter", "like: no letters or digits"};
    answer["like"] = like;
    if (album) answer["artist"] = artist;
    if (!snap->searchable()) throw HttpError{404, album ? "unknown album" : "unknown artist", "nothing is indexed yet"};
    try {
      hits = service::similar_groups(*snap, kind, like, artist, k, rules);
    } catch (const service::Busy&) {
      throw;
    } catch (const InvalidArgument& e) {
      throw HttpError{400, "bad parameter", e.what()};
    } catch (const Error& e) {
      throw HttpError{404, album ? "unknown album" : "unknown artist", e.what()};
    }
  }
  ojson list = ojson::array();
  for (size_t r = 0; r < hits.size(); ++r) list.push_back(service::group_hit_record(hits[r], r + 1, album));
  answer["results"] = list;
  send(res, answer);
}

// The songs of an Instant Mix (`mix`), or 404 `unknown` when it names no group of the index.
template <class Mix>
std::vector<service::SonicMatch> group_mix(const std::string& unknown, const Mix& mix) {
  try {
    return mix();
  } catch (const InvalidArgument& e) {  // several albums of the name: the request must say which
    throw HttpError{400, "bad parameter", e.what()};
  } catch (const Error& e) {
    throw HttpError{404, unknown, e.what()};
  }
}

}  // namespace

void Api::artists(const httplib::Request& req, httplib::Response& res) {
  answer_groups(lib(), options_, service::GroupKind::Artist, req, res);
}

void Api::albums(const httplib::Request& req, httplib::Response& res) {
  answer_groups(lib(), options_, service::GroupKind::Album, req, res);
}

void Api::sonic_resolve(const httplib::Request& req, httplib::Response& res) {
  const auto snap = lib().snapshot();
  send(res, resolved_record(*snap, song_param(req, *snap, "")));
}

void Api::sonic_similar_tracks(const httplib::Request& req, httplib::Response& res) {
  service::SonicOptions o = sonic_options(req, 10, options_.max_k);
  const auto snap = lib().snapshot();
  o = with_rules(std::move(o), req, options_, *snap);
  const ResolvedSong seed = song_param(req, *snap, "");
  send(res, {{"seed", resolved_record(*snap, seed)},
             {"sonicMatch", sonic_matches(*snap, service::sonic_similar(*snap, *seed.track, o))}});
}

void Api::sonic_path(const httplib::Request& req, httplib::Response& res) {
  service::SonicOptions o = sonic_options(req, 25, options_.max_k);
  if (o.count == 1) throw HttpError{400, "bad parameter", "count: a path holds its two ends, so at least 2 tracks (0 for none)"};
  const auto snap = lib().snapshot();
  o = with_rules(std::move(o), req, options_, *snap);
  const ResolvedSong start = song_param(req, *snap, "start");
  const ResolvedSong end = song_param(req, *snap, "end");
  if (start.track->id == end.track->id)
    throw HttpError{400, "bad parameter",
                    "the start and end songs are the same indexed track (" + snap->display_path(start.track->path) + ")"};
  send(res, {{"start", resolved_record(*snap, start)},
             {"end", resolved_record(*snap, end)},
             {"sonicMatch", sonic_matches(*snap, service::sonic_path(*snap, *start.track, *end.track, o))}});
}

// Instant Mix of an artist or an album: songs like the group's, the group left out.
void Api::sonic_similar_to_artist(const httplib::Request& req, httplib::Response& res) {
  const std::string artist = optional_text(req, "artist");
  if (artist.empty()) throw HttpError{400, "missing parameter", "artist: the artist's name"};
  service::SonicOptions o = sonic_options(req, 10, options_.max_k);
  const auto snap = lib().snapshot();
  o = with_rules(std::move(o), req, options_, *snap);
  if (service::normalise_name(artist).empty()) throw HttpError{400, "bad parameter", "artist: no letters or digits"};
  const std::vector<service::SonicMatch> matches = group_mix("unknown artist", [&] { return service::sonic_similar_to_artist(*snap, artist, o); });
  send(res, {{"artist", artist}, {"sonicMatch", sonic_matches(*snap, matches)}});
}

void Api::sonic_similar_to_album(const httplib::Request& req, httplib::Response& res) {
  const std::string album = optional_text(req, "album"), artist = optional_text(req, "artist");
  if (album.empty()) throw HttpError{400, "missing parameter", "album: the album's name (artist: its album artist, optional)"};
  service::SonicOptions o = sonic_options(req, 10, options_.max_k);
  const auto snap = lib().snapshot();
  o = with_rules(std::move(o), req, options_, *snap);
  if (service::normalise_name(album).empty()) throw HttpError{400, "bad parameter", "album: no letters or digits"};
  const std::vector<service::SonicMatch> matches = group_mix("unknown album", [&] { return service::sonic_similar_to_album(*snap, album, artist, o); });
  send(res, {{"album", album}, {"artist", artist}, {"sonicMatch", sonic_matches(*snap, matches)}});
}

void Api::sonic_search(const httplib::Request& req, httplib::Response& res) {
  const std::string q = texts_param(req, "q", 1)[0];
  service::SonicOptions o = sonic_options(req, 10, options_.max_k);
  const auto snap = lib().snapshot();
  o = with_rules(std::move(o), req, options_, *snap);
  send(res, {{"query", q}, {"sonicMatch", sonic_matches(*snap, service::sonic_search(lib(), *snap, q, o))}});
}

}  // namespace clap::server
