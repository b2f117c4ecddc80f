#include "service/playlists.h"

#include <algorithm>

#include "core/error.h"
#include "search/playlist.h"

namespace clap::service {
namespace {

// The track a user named (`role` is how the message calls it: "seed", "FROM"), which must have a
// track embedding; throws naming the input and the reason otherwise.
const store::Track& usable_track(const LibrarySnapshot& snap, const std::string& role, const std::string& given) {
  const store::Track* t = snap.find_track(given);
  if (!t) throw Error(role + " '" + given + "': no track with that id or path in the index");
  if (snap.track_embeddings().find(t->id) < 0) {
    try {
      snap.track_embedding(t->id);  // throws the reason it has none
    } catch (const Error& e) {
      throw Error(role + " '" + given + "': " + e.what());
    }
  }
  return *t;
}

}  // namespace

Playlist radio(Library& lib, const LibrarySnapshot& snap, const RadioRequest& request) {
  if (request.seeds.empty() && request.texts.empty())
    throw Error("playlist: give at least one seed track or one text");
  const Embeddings& tracks = snap.track_embeddings();  // throws when nothing is searchable
  std::vector<int64_t> seed_ids;
  std::vector<float> parts;  // the query's parts, one row each: seeds, then texts
  for (const std::string& s : request.seeds) {
    const store::Track& t = usable_track(snap, "seed", s);
    // A track named twice (by id and by path, say) plays once and weighs once in the query.
    if (std::find(seed_ids.begin(), seed_ids.end(), t.id) != seed_ids.end()) continue;
    seed_ids.push_back(t.id);
    const float* row = tracks.row(tracks.find(t.id));
    parts.insert(parts.end(), row, row + tracks.dim);
  }
  if (!request.texts.empty()) {
    const std::vector<float> text = lib.embed_texts(request.texts);
    parts.insert(parts.end(), text.begin(), text.end());
  }
  const int64_t n_parts = static_cast<int64_t>(parts.size()) / tracks.dim;
  const std::vector<float> query = search::mean_direction(n_parts, tracks.dim, parts.data());

  search::RadioOptions options;
  options.length = request.length;
  options.diversity = request.diversity;
  Playlist out;
  out.tracks = search::mmr_playlist(tracks, query.data(), seed_ids, options);
  out.seeds = static_cast<int64_t>(seed_ids.size());
  out.requested = request.length;
  return out;
}

Playlist track_path(const LibrarySnapshot& snap, const std::string& from, const std::string& to, int64_t length) {
  const store::Track& a = usable_track(snap, "FROM", from);
  const store::Track& b = usable_track(snap, "TO", to);
  if (a.id == b.id) throw Error("path: FROM '" + from + "' and TO '" + to + "' are the same track (" + a.path + ")");
  Playlist out;
  out.tracks = search::path_between(snap.track_embeddings(), a.id, b.id, length);
  out.requested = length;
  return out;
}

}  // namespace clap::service
