#include "service/radio.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include "core/error.h"
#include "service/diversity.h"
#include "service/duplicates.h"
#include "service/for_you.h"
#include "service/listening.h"
#include "service/playlists.h"
#include "service/recordings.h"
#include "service/song_resolver.h"

namespace clap::service {
namespace fs = std::filesystem;

namespace {

std::string without_trailing_slash(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// `path` relative to `folder` when inside it (lexically), else nullopt.
std::optional<std::string> relative_inside(const std::string& path, const std::string& folder) {
  const std::string prefix = folder == "/" ? "/" : folder + "/";
  if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  return path.substr(prefix.size());
}

// Whether the file `uri` names in `folder` is gone: lstat says it does not exist (ENOENT,
// ENOTDIR). Anything else (a permission, an I/O error) leaves the track to the player, which says
// what it says; a dangling symlink counts as there (the player reports it by name).
bool gone_from_folder(const MusicFolderMap& folder, const std::string& uri) {
  const std::optional<std::string> path = folder.path_of(uri);
  if (!path) return false;
  std::error_code ec;
  return fs::symlink_status(*path, ec).type() == fs::file_type::not_found;
}

// The candidates that are the same recording as a track in `taken` (playing, queued, in the
// no-repeat window): copies of one recording among them (service/duplicates.h copies_among, the
// rule the playlist radio uses within a playlist), or the same MBID or ISRC (the identifiers the
// /api/sonic/ routes match). Only these tracks are compared, never the whole library: a fill
// with a window of 100 songs searched the library 200 times (seconds at 100,000 tracks).
std::set<int64_t> same_recordings(const LibrarySnapshot& snap, const std::set<int64_t>& taken,
                                  const std::vector<int64_t>& candidates) {
  std::set<std::string> mbids, isrcs;
  for (int64_t id : taken)
    if (const store::Track* t = snap.track(id)) {
      if (!t->mbid.empty()) mbids.insert(normalise_mbid(t->mbid));
      if (!t->isrc.empty()) isrcs.insert(normalise_isrc(t->isrc));
    }
  std::vector<int64_t> ids(taken.begin(), taken.end());
  ids.insert(ids.end(), candidates.begin(), candidates.end());
  const std::vector<std::vector<int64_t>> groups = copies_among(snap, ids);
  std::map<int64_t, size_t> group_of;
  for (size_t g = 0; g < groups.size(); ++g)
    for (int64_t id : groups[g]) group_of.emplace(id, g);
  std::set<size_t> taken_groups;
  for (int64_t id : taken)
    if (auto it = group_of.find(id); it != group_of.end()) taken_groups.insert(it->second);
  std::set<int64_t> out;
  for (int64_t id : candidates) {
    if (taken.count(id)) continue;
    const auto g = group_of.find(id);
    const store::Track* t = snap.track(id);
    if ((g != group_of.end() && taken_groups.count(g->second)) ||
        (t && !t->mbid.empty() && mbids.count(normalise_mbid(t->mbid))) ||
        (t && !t->isrc.empty() && isrcs.count(normalise_isrc(t->isrc))))
      out.insert(id);
  }
  return out;
}

}  // namespace

bool line_protocol_safe(const std::string& text) { return line_protocol_problem(text).empty(); }

std::string line_protocol_problem(const std::string& text) {
  const size_t at = text.find_first_of(std::string("\n\r\0", 3));
  if (at == std::string::npos) return "";
  return text[at] == '\n' ? "a line break" : text[at] == '\r' ? "a carriage return" : "a NUL byte";
}

MusicFolderMap::MusicFolderMap(const std::string& music_dir) {
  if (music_dir.empty()) throw InvalidArgument("the music folder is empty: give the player's music folder");
  std::error_code ec;
  if (!fs::is_directory(music_dir, ec))
    throw InvalidArgument(music_dir + ": not a folder (" + (ec ? ec.message() : std::string("no such folder")) + ")");
  folder_ = without_trailing_slash(fs::absolute(music_dir).lexically_normal().string());
  const fs::path canonical = fs::weakly_canonical(folder_, ec);
  resolved_ = ec ? folder_ : without_trailing_slash(canonical.string());
}

std::optional<std::string> MusicFolderMap::file_uri_path(const std::string& uri) {
  static const std::string kFileScheme = "file://";
  if (uri.compare(0, kFileScheme.size(), kFileScheme) == 0) return uri.substr(kFileScheme.size());
  return std::nullopt;
}

std::optional<std::string> MusicFolderMap::path_of(const std::string& uri) const {
  if (uri.empty()) return std::nullopt;
  if (auto file = file_uri_path(uri)) return file;
  if (uri.find("://") != std::string::npos || uri.front() == '/') return std::nullopt;  // a stream, or not MPD's form
  const fs::path joined = (fs::path(folder_) / uri).lexically_normal();
  if (!relative_inside(joined.string(), folder_)) return std::nullopt;  // "../x" leaves the folder
  return joined.string();
}

std::optional<std::string> MusicFolderMap::uri_of(const std::string& path) const {
  const std::string normal = fs::path(path).lexically_normal().string();
  if (auto rel = relative_inside(normal, folder_)) return rel;
  if (resolved_ != folder_)
    if (auto rel = relative_inside(normal, resolved_)) return rel;
  return std::nullopt;
}

RadioStation::RadioStation(Library& lib, std::optional<MusicFolderMap> folder, RadioStationOptions options)
    : lib_(&lib), folder_(std::move(folder)), options_(std::move(options)) {
  if (options_.min_queue < 1)
    throw InvalidArgument("--min-queue: must be at least 1 song, got " + std::to_string(options_.min_queue));
  if (options_.no_repeat < 0)
    throw InvalidArgument("--no-repeat: must be 0 or more songs, got " + std::to_string(options_.no_repeat));
  if (!(options_.diversity >= 0 && options_.diversity <= 1))
    check_diversity(options_.diversity);
}

void RadioStation::remember(int64_t track_id) {
  if (options_.no_repeat == 0) return;
  // Heard again (the same song still playing at the next event): it moves to the newest end
  // instead of taking a second place in the window.
  recent_.erase(std::remove(recent_.begin(), recent_.end(), track_id), recent_.end());
  recent_.push_back(track_id);
  while (static_cast<int64_t>(recent_.size()) > options_.no_repeat) recent_.pop_front();
}

void RadioStation::find_folder(const LibrarySnapshot& snap, const std::string& uri) {
  if (folder_ || uri.empty() || uri.front() == '/' || uri.find("://") != std::string::npos) return;
  const std::string normal = fs::path(uri).lexically_normal().string();
  std::string suffix(1, '/');  // built by appending: GCC 12 warns falsely (-Wrestrict) on "/" + string
  suffix += normal;
  if (suffix.find("/../") != std::string::npos) return;
  std::vector<std::string> matches;
  for (const store::Track& t : snap.tracks())
    if (t.path.size() > suffix.size() && t.path.compare(t.path.size() - suffix.size(), suffix.size(), suffix) == 0)
      matches.push_back(t.path);
  if (matches.size() > 1) {
    std::string list;
    for (size_t i = 0; i < matches.size() && i < 5; ++i) list += (i ? ", " : "") + matches[i];
    if (matches.size() > 5) list += " and " + std::to_string(matches.size() - 5) + " more";
    throw InvalidArgument("cannot tell the player's music folder: " + std::to_string(matches.size()) +
                          " indexed files end with its song '" + uri + "' (" + list +
                          "): give the folder (clapsearch radio --music-dir DIR)");
  }
  if (matches.size() == 1) folder_.emplace(matches[0].substr(0, matches[0].size() - suffix.size() + 1));
}

const store::Track* RadioStation::track_of(const LibrarySnapshot& snap, const std::string& uri, std::string* path) const {
  if (!folder_) {  // only a file:// URI names a file without the folder
    const std::optional<std::string> file = MusicFolderMap::file_uri_path(uri);
    if (path) *path = file.value_or("");
    return file ? snap.find_track(*file) : nullptr;
  }
  const std::optional<std::string> file = folder_->path_of(uri);
  if (path) *path = file.value_or("");
  return file ? snap.find_track(*file) : nullptr;
}

void RadioStation::skip(int64_t track_id) {
  if (std::find(skipped_.begin(), skipped_.end(), track_id) == skipped_.end()) skipped_.push_back(track_id);
}

RadioFill RadioStation::fill(const QueueView& queue) {
  RadioFill out;
  if (!queue.current_uri) return out;  // stopped: nothing to continue from
  lib_->refresh();  // a long-running radio sees tracks indexed since it started
  const auto snap = lib_->snapshot();

  find_folder(*snap, *queue.current_uri);
  std::string seed_path;
  const store::Track* seed = track_of(*snap, *queue.current_uri, &seed_path);
  if (!seed) {
    if (!folder_ && seed_path.empty())
      throw Error("the song playing, '" + *queue.current_uri + "', is not in the index " + snap->db_path() +
                  ": no indexed file's path ends with it (a stream, a file not indexed yet?)");
    if (seed_path.empty())
      throw Error("the song playing, '" + *queue.current_uri + "', is not a file in the music folder " + folder_->folder() +
                  " (a stream, or a URI outside it): nothing to continue from");
    throw Error("the song playing, '" + *queue.current_uri + "', is " + seed_path +
                ", which is not in the index " + snap->db_path() + " (is --music-dir the folder MPD plays from? is it indexed?)");
  }
  // The radio for you: the song before this one was skipped when this one started too soon.
  if (options_.taste && queue.clock_s > 0 && seed->id != playing_) {
    if (const store::Track* before = playing_ >= 0 ? snap->track(playing_) : nullptr) {
      if (is_skip(queue.clock_s - playing_since_, before->duration_s)) skip(before->id);
    }
    playing_ = seed->id;
    playing_since_ = queue.clock_s;
  }
  const size_t played = queue.played_uris.size();
  const size_t recent_played = std::min(played, static_cast<size_t>(options_.no_repeat));
  for (size_t i = played - recent_played; i < played; ++i)
    if (const store::Track* t = track_of(*snap, queue.played_uris[i], nullptr)) remember(t->id);
  remember(seed->id);
  const int64_t upcoming = static_cast<int64_t>(queue.upcoming_uris.size());
  if (upcoming >= options_.min_queue) return out;

  out.seed_uri = *queue.current_uri;
  out.seed_path = seed->path;
  out.wanted = options_.min_queue - upcoming;
  std::set<int64_t> excluded(recent_.begin(), recent_.end());
  excluded.insert(seed->id);
  for (const std::string& uri : queue.upcoming_uris)
    if (const store::Track* t = track_of(*snap, uri, nullptr)) excluded.insert(t->id);

  RadioRequest request;
  request.seeds = {std::to_string(seed->id)};
  request.texts = options_.texts;
  request.diversity = options_.diversity;
  request.rules = excluding_tracks(options_.rules, snap->tracks_matching(options_.exclude));  // tracks indexed since: their tags decide
  if (options_.taste) {
    int64_t centre = -1;
    const std::vector<float> seed_vector = snap->track_embedding(seed->id);
    for_me_query(*options_.taste, seed_vector.data(), static_cast<int64_t>(seed_vector.size()), {}, &centre);
    if (centre >= 0) request.toward = options_.taste->centres[static_cast<size_t>(centre)].vector;
    for (int64_t id : skipped_)
      if (id != seed->id && snap->track(id))
        request.negatives.push_back({TermKind::Audio, std::to_string(id) + ":" + std::to_string(kSkipPush), true, "--for-me"});
  }
  // The MMR radio is greedy, so a longer one extends a shorter one: asking for the excluded
  // tracks' worth more always leaves `wanted` new ones when the library has them. Tracks outside
  // the music folder cannot be queued, so when some were chosen the radio is asked again, longer.
  request.length = 1 + out.wanted + static_cast<int64_t>(excluded.size());
  const int64_t library_size = static_cast<int64_t>(snap->tracks().size());
  RecordingPrints prints(*snap);  // kept while the request grows: no pair compared twice
  for (;;) {
    Playlist playlist;
    try {
      playlist = radio(*lib_, *snap, request);
    } catch (const Error& e) {
      // The seed named as the player names it (radio() names it by its track id).
      throw Error("the song playing, '" + *queue.current_uri + "' (" + seed->path + "): " + e.what());
    }
    std::vector<int64_t> candidates;
    for (size_t i = static_cast<size_t>(playlist.seeds); i < playlist.tracks.size(); ++i)
      if (!excluded.count(playlist.tracks[i].id)) candidates.push_back(playlist.tracks[i].id);
    const std::set<int64_t> copies = same_recordings(*snap, excluded, candidates);
    out.picks.clear();
    out.outside_folder = 0;
    out.unsendable.clear();
    out.missing.clear();
    // Copies of one recording among the picks themselves (H11P-4: two files of one MBID, both
    // new to the queue, were both appended; copies12: an untagged FLAC and MP3 of one recording,
    // told by their fingerprints): the first taken, the others left out.
    Recordings picked(&prints);
    for (size_t i = static_cast<size_t>(playlist.seeds); i < playlist.tracks.size(); ++i) {
      if (static_cast<int64_t>(out.picks.size()) == out.wanted) break;
      const search::Hit& hit = playlist.tracks[i];
      if (excluded.count(hit.id)) continue;
      const store::Track* t = snap->track(hit.id);
      if (!t) continue;
      if (copies.count(hit.id)) continue;  // its recording is playing, queued or in the window
      const std::optional<std::string> uri = folder_ ? folder_->uri_of(t->path) : std::nullopt;
      if (!uri) {
        ++out.outside_folder;
        continue;
      }
      if (!line_protocol_safe(*uri)) {  // never sent: the radio chooses another track instead
        if (unsendable_reported_.insert(t->id).second) out.unsendable.push_back(*uri);  // said once per track
        continue;
      }
      if (gone_from_folder(*folder_, *uri)) {  // the folder is here (MusicFolderMap checked it), the file not
        if (missing_reported_.insert(t->id).second) out.missing.push_back(*uri);
        continue;
      }
      if (picked.held(*t)) continue;
      picked.hold(*t);
      out.picks.push_back({*uri, t->path, t->id, hit.score});
    }
    const bool library_exhausted = static_cast<int64_t>(playlist.tracks.size()) < request.length;
    if (static_cast<int64_t>(out.picks.size()) == out.wanted || library_exhausted || request.length > library_size) break;
    request.length *= 2;
  }
  for (const RadioPick& p : out.picks) remember(p.track_id);
  return out;
}

}  // namespace clap::service
