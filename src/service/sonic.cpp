#include "service/sonic.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/embedding_rows.h"
#include "core/error.h"
#include "core/one_line_text.h"
#include "search/playlist.h"
#include "service/filters.h"
#include "service/playlists.h"
#include "service/queries.h"
#include "service/recordings.h"

namespace clap::service {

double sonic_similarity(double cosine) {
  if (!(cosine > 0)) return 0;  // NaN too
  return std::min(cosine, 1.0);
}

namespace {

void check_count(const SonicOptions& o) {
  if (o.count < 0) throw Error("count: must be 0 or more");
  if (o.per_artist < 0) throw Error("per-artist cap: must be 0 (no cap) or more");
  if (o.rules.capped()) throw InvalidArgument("sonic queries cap artists with per_artist (SonicOptions), not ResultRules");
}

// The cosine of two tracks' embeddings (norms divided out, whatever the store holds); NaN when
// either has none.
double track_cosine(const Embeddings& all, int64_t a, int64_t b) {
  const int64_t ra = find_row(all, a), rb = find_row(all, b);
  if (ra < 0 || rb < 0) return std::nan("");
  const float *x = all.row(ra), *y = all.row(rb);
  double dot = 0, xx = 0, yy = 0;
  for (int i = 0; i < all.dim; ++i) {
    dot += double(x[i]) * y[i];
    xx += double(x[i]) * x[i];
    yy += double(y[i]) * y[i];
  }
  return xx > 0 && yy > 0 ? dot / std::sqrt(xx * yy) : std::nan("");
}

}  // namespace

std::vector<SonicMatch> sonic_similar(const LibrarySnapshot& snap, const store::Track& seed, const SonicOptions& options) {
  check_count(options);
  if (options.count == 0) return {};
  const int64_t library = static_cast<int64_t>(snap.tracks().size());
  const std::string seed_mbid = normalise_mbid(seed.mbid);
  RecordingPrints prints(snap, options.work);  // kept while the pool widens: no pair compared twice
  // Ask the ranking for more than `count` while filters drop results, until the library is exhausted.
  for (int64_t k = std::min(library, options.count * 2 + 16);; k = std::min(library, k * 4)) {
    const std::vector<search::Hit> hits = similar_tracks(snap, seed, k, options.rules);
    std::vector<SonicMatch> out;
    ResultCaps cap(options.per_artist, 0);
    // One recording is one match (service/recordings.h): its bytes, MBID or ISRC, else its
    // fingerprint, not the embedding's cosine as for the seed (between matches that rule took
    // different recordings for one: 3 s of white, blue and violet noise embed within 0.999 with
    // the tests' model). A song's similar list held another song and then its 29 copies (H11S-2),
    // a FLAC and an MP3 of one MBID, which Navidrome showed as one song twice (H11P-2), and an
    // untagged FLAC and MP3 of one recording (copies12). The seed is held first: its own copies
    // by fingerprint or ISRC are not matches either.
    Recordings listed(options.exclude_duplicates ? &prints : nullptr);
    if (options.exclude_duplicates) listed.hold(seed);
    for (const search::Hit& h : hits) {
      const store::Track* t = snap.track(h.id);
      if (!t || t->id == seed.id) continue;
      if (options.exclude_duplicates &&
          ((!seed.content_hash.empty() && t->content_hash == seed.content_hash) ||
           (!seed_mbid.empty() && normalise_mbid(t->mbid) == seed_mbid) || h.score >= options.duplicate_cosine))
        continue;
      if ((options.exclude_duplicates && listed.held(*t)) || !cap.take(*t)) continue;
      listed.hold(*t);
      out.push_back({t, sonic_similarity(h.score), h.score});
      if (static_cast<int64_t>(out.size()) == options.count) return out;
    }
    if (static_cast<int64_t>(hits.size()) < k || k >= library) return out;
  }
}

std::vector<SonicMatch> sonic_path(const LibrarySnapshot& snap, const store::Track& start, const store::Track& end,
                                   const SonicOptions& options) {
  check_count(options);
  if (options.count == 0) return {};
  if (options.count < 2) throw Error("count: a path holds its two ends, so at least 2 tracks (0 for none)");
  const Playlist p = track_path(snap, std::to_string(start.id), std::to_string(end.id), options.count, options.rules);
  // track_path ranks each step by its cosine to the step's own target; a sonicMatch's similarity
  // is to the start song (OpenSubsonic's findSonicPath), so it is measured again here.
  const Embeddings& all = snap.track_embeddings();
  std::vector<SonicMatch> out;
  for (const search::Hit& h : p.tracks) {
    const store::Track* t = snap.track(h.id);
    if (!t) continue;
    if (t->id == start.id) {
      out.push_back({t, 1.0, 1.0});
    } else {
      const double cosine = track_cosine(all, start.id, t->id);
      out.push_back({t, sonic_similarity(cosine), cosine});
    }
  }
  return out;
}

namespace {

// The tracks nearest the mean direction of `group` (track ids), the group left out.
std::vector<SonicMatch> similar_to_group(const LibrarySnapshot& snap, const std::vector<int64_t>& group,
                                         const std::string& what, const SonicOptions& options) {
  check_count(options);
  const Embeddings& all = snap.track_embeddings();
  std::vector<float> parts;
  std::vector<char> in_group;
  int64_t n = 0;
  for (int64_t id : group) {
    const int64_t row = find_row(all, id);
    if (row < 0) continue;
    parts.insert(parts.end(), all.row(row), all.row(row) + all.dim);
    ++n;
  }
  if (n == 0) throw Error(what + ": no indexed track with an embedding");
  if (options.count == 0) return {};
  const std::vector<float> query = search::mean_direction(n, all.dim, parts.data());
  // Sorted once: every hit is looked up in it (a group of thousands of tracks, hits as many).
  std::vector<int64_t> members = group;
  std::sort(members.begin(), members.end());
  const int64_t library = static_cast<int64_t>(snap.tracks().size());
  RecordingPrints prints(snap, options.work);
  for (int64_t k = std::min(library, options.count * 2 + 16 + static_cast<int64_t>(group.size()));;
       k = std::min(library, k * 4)) {
    const std::vector<search::Hit> hits = similar_to_vector(snap, query, k, options.rules);
    std::vector<SonicMatch> out;
    ResultCaps cap(options.per_artist, 0);
    Recordings listed(options.exclude_duplicates ? &prints : nullptr);
    // The group is held first, as sonic_similar holds its seed: a copy of one of its tracks in
    // another folder (the same bytes, MBID or ISRC, or re-encoded: its fingerprint) is that
    // track again, left out as the group is (copies13). Every member's identities are set
    // lookups; by fingerprint a candidate is compared with the few members nearest it.
    if (options.exclude_duplicates && !options.include_group)
      for (int64_t id : members)
        if (const store::Track* t = snap.track(id)) listed.hold(*t);
    for (const search::Hit& h : hits) {
      const store::Track* t = snap.track(h.id);
      if (!t || (!options.include_group && std::binary_search(members.begin(), members.end(), t->id))) continue;
      if ((options.exclude_duplicates && listed.held(*t)) || !cap.take(*t)) continue;
      listed.hold(*t);
      out.push_back({t, sonic_similarity(h.score), h.score});
      if (static_cast<int64_t>(out.size()) == options.count) return out;
    }
    if (static_cast<int64_t>(hits.size()) < k || k >= library) return out;
  }
}

}  // namespace

std::vector<SonicMatch> sonic_similar_to_tracks(const LibrarySnapshot& snap, const std::vector<int64_t>& group,
                                                const std::string& what, const SonicOptions& options) {
  return similar_to_group(snap, group, what, options);
}

std::vector<SonicMatch> sonic_similar_to_artist(const LibrarySnapshot& snap, const std::string& artist,
                                                const SonicOptions& options) {
  const std::string key = normalise_name(artist);
  if (key.empty()) throw Error("artist: empty");
  std::vector<int64_t> group;
  for (const store::Track& t : snap.tracks())
    if (t.status == store::TrackStatus::Ok && (normalise_name(t.artist) == key || normalise_name(t.album_artist) == key))
      group.push_back(t.id);
  return similar_to_group(snap, group, "artist \"" + control_escaped(artist) + "\"", options);
}

std::vector<SonicMatch> sonic_similar_to_album(const LibrarySnapshot& snap, const std::string& album,
                                               const std::string& artist, const SonicOptions& options) {
  const std::string key = normalise_name(album), by = normalise_name(artist);
  if (key.empty()) throw Error("album: empty");
  // An album is its name and its album artist (the track artist when the album artist is not
  // tagged), as /api/albums and `similar --album` take it (service/aggregates.h): two albums of
  // one name are not merged, and a compilation is one album whatever its tracks' artists
  // (issue 53, L8).
  const auto album_artist = [](const store::Track& t) { return t.album_artist.empty() ? t.artist : t.album_artist; };
  std::map<std::string, std::vector<int64_t>> albums;  // normalised album artist -> the album's tracks
  std::map<std::string, std::string> shown;            // normalised album artist -> as tagged
  std::set<std::string> with_track_artist;             // albums with a track by `artist`
  for (const store::Track& t : snap.tracks()) {
    if (t.status != store::TrackStatus::Ok || normalise_name(t.album) != key) continue;
    const std::string owner = normalise_name(album_artist(t));
    albums[owner].push_back(t.id);
    shown.emplace(owner, album_artist(t));
    if (!by.empty() && normalise_name(t.artist) == by) with_track_artist.insert(owner);
  }
  std::vector<std::string> chosen;
  if (by.empty()) {
    for (const auto& [owner, ids] : albums) chosen.push_back(owner);
  } else if (albums.count(by)) {
    chosen.push_back(by);
  } else {  // named by a track artist (a compilation's): the album that holds that artist's tracks
    chosen.assign(with_track_artist.begin(), with_track_artist.end());
  }
  if (chosen.size() > 1) {
    std::string list;
    for (const std::string& owner : chosen) list += (list.empty() ? "" : ", ") + (shown[owner].empty() ? "(no artist)" : shown[owner]);
    throw InvalidArgument("album \"" + album + "\": several albums have this name (by " + list +
                          "); name the album artist too (artist=)");
  }
  const std::vector<int64_t> group = chosen.empty() ? std::vector<int64_t>{} : albums[chosen.front()];
  return similar_to_group(snap, group, "album \"" + album + "\"" + (artist.empty() ? "" : " by " + artist), options);
}

std::vector<SonicMatch> sonic_search(Library& lib, const LibrarySnapshot& snap, const std::string& text,
                                     const SonicOptions& options) {
  check_count(options);
  if (!snap.searchable() || options.count == 0) return {};
  const int64_t library = static_cast<int64_t>(snap.tracks().size());
  RecordingPrints prints(snap, options.work);
  for (int64_t k = std::min(library, options.count * 2 + 16);; k = std::min(library, k * 4)) {
    search::TextSearchOptions o;
    o.k = std::max<int64_t>(k, 1);
    const std::vector<search::TrackScore> ranked = search_texts(lib, snap, {text}, o, options.rules)[0];
    std::vector<SonicMatch> out;
    ResultCaps cap(options.per_artist, 0);
    Recordings listed(options.exclude_duplicates ? &prints : nullptr);
    for (const search::TrackScore& r : ranked) {
      const store::Track* t = snap.track(r.track_id);
      if (!t || (options.exclude_duplicates && listed.held(*t)) || !cap.take(*t)) continue;
      listed.hold(*t);
      out.push_back({t, sonic_similarity(r.score), r.score});
      if (static_cast<int64_t>(out.size()) == options.count) return out;
    }
    if (static_cast<int64_t>(ranked.size()) < k || k >= library) return out;
  }
}

}  // namespace clap::service
