#include "service/playlists.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "search/playlist.h"
#include "service/duplicates.h"

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

// The MMR radio with copies of one recording (service/duplicates.h) played once: a track whose
// duplicate group already has a track in the playlist is left out, as is one beyond the
// per-artist/album caps, and the radio is asked for more until the playlist is full (the
// greedy MMR order makes a longer radio extend a shorter one). Seeds always stay.
std::vector<search::Hit> radio_without_copies(const LibrarySnapshot& snap, const Embeddings& tracks, const float* query,
                                              const std::vector<int64_t>& seeds, search::RadioOptions options,
                                              const ResultRules& rules) {
  const int64_t wanted = options.length;
  std::vector<search::Hit> kept;
  for (int round = 0; round < 8; ++round) {
    const std::vector<search::Hit> all = search::mmr_playlist(tracks, query, seeds, options);
    std::vector<int64_t> ids;
    for (const auto& h : all) ids.push_back(h.id);
    const std::map<int64_t, size_t> group_of = group_index(find_duplicates(snap, {}, ids));
    std::set<size_t> played;
    ResultCaps caps(rules.per_artist, rules.per_album);
    kept.clear();
    for (size_t i = 0; i < all.size() && static_cast<int64_t>(kept.size()) < wanted; ++i) {
      auto it = group_of.find(all[i].id);
      const bool seed = i < seeds.size();
      if (it != group_of.end() && !played.insert(it->second).second && !seed) continue;
      const store::Track* t = rules.capped() ? snap.track(all[i].id) : nullptr;
      if (t && !caps.take(*t) && !seed) continue;
      kept.push_back(all[i]);
    }
    if (static_cast<int64_t>(kept.size()) >= wanted || static_cast<int64_t>(all.size()) < options.length) break;
    options.length += wanted - static_cast<int64_t>(kept.size()) + 4;
  }
  return kept;
}

}  // namespace

Playlist radio(Library& lib, const LibrarySnapshot& snap, const RadioRequest& request) {
  if (request.seeds.empty() && request.texts.empty())
    throw Error("playlist: give at least one seed track or one text");
  check_rules(request.rules);
  const Embeddings& library = snap.track_embeddings();  // throws when nothing is searchable
  // With a filter the radio is made over the allowed tracks and the seeds (which always play).
  Embeddings allowed_only;
  const bool filtered = !request.rules.where.empty() || !request.rules.exclude.empty();  // exclude: the music-only rule
  if (filtered) {
    const AllowedTracks allowed = allowed_tracks(snap.tracks(), request.rules);
    std::set<int64_t> seeds;
    for (const std::string& s : request.seeds) seeds.insert(usable_track(snap, "seed", s).id);
    allowed_only = subset_rows(library, [&](int64_t id) { return allowed.contains(id) || seeds.count(id) > 0; });
  }
  const Embeddings& tracks = filtered ? allowed_only : library;
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
  std::vector<float> query = search::mean_direction(n_parts, tracks.dim, parts.data());
  Embeddings without_negatives;
  if (!request.negatives.empty()) {
    for (const QueryTerm& t : request.negatives)
      if (!t.negative) throw Error("playlist: a negative term that is not negative (" + t.spec + ")");
    MixedQuery mq = resolve_query(lib, snap, request.negatives, /*allow_files=*/true, /*need_positive=*/false);
    for (int64_t p = 0; p < n_parts; ++p) {  // the radio's own parts, each of weight 1
      ResolvedTerm r;
      r.unit.assign(parts.begin() + p * tracks.dim, parts.begin() + (p + 1) * tracks.dim);
      mq.terms.push_back(std::move(r));
    }
    query = combine_terms(mq.terms, tracks.dim);
    without_negatives = subset_rows(tracks, [&](int64_t id) {
      return std::find(seed_ids.begin(), seed_ids.end(), id) != seed_ids.end() ||
             !std::binary_search(mq.seed_tracks.begin(), mq.seed_tracks.end(), id);
    });
  }
  const Embeddings& ranked = request.negatives.empty() ? tracks : without_negatives;

  search::RadioOptions options;
  options.length = request.length;
  options.diversity = request.diversity;
  Playlist out;
  if (request.rules.capped() && options.candidates == 0)  // room for the tracks the caps drop
    options.candidates = std::max<int64_t>(200, 20 * request.length) * 4;
  out.tracks = radio_without_copies(snap, ranked, query.data(), seed_ids, options, request.rules);
  out.seeds = static_cast<int64_t>(seed_ids.size());
  out.requested = request.length;
  return out;
}

Playlist track_path(const LibrarySnapshot& snap, const std::string& from, const std::string& to, int64_t length,
                    const ResultRules& rules) {
  if (rules.capped()) throw InvalidArgument("path: per-artist and per-album caps do not go with a path (use a filter)");
  const store::Track& a = usable_track(snap, "FROM", from);
  const store::Track& b = usable_track(snap, "TO", to);
  if (a.id == b.id) throw Error("path: FROM '" + from + "' and TO '" + to + "' are the same track (" + a.path + ")");
  Embeddings tracks = snap.track_embeddings();
  const AllowedTracks allowed = allowed_tracks(snap.tracks(), rules);
  if (!allowed.all)
    tracks = subset_rows(tracks, [&](int64_t id) { return id == a.id || id == b.id || allowed.contains(id); });
  // Copies of one recording (service/duplicates.h) take one step at most: a step that copies
  // an earlier one, FROM or TO is taken out of the tracks and the path is drawn again.
  Playlist out;
  for (int round = 0; round < 8; ++round) {
    out.tracks = search::path_between(tracks, a.id, b.id, length);
    std::vector<int64_t> ids;
    for (const auto& h : out.tracks) ids.push_back(h.id);
    const std::map<int64_t, size_t> group_of = group_index(find_duplicates(snap, {}, ids));
    std::set<size_t> taken;
    for (int64_t end : {a.id, b.id})
      if (auto it = group_of.find(end); it != group_of.end()) taken.insert(it->second);
    std::set<int64_t> copies;
    for (size_t i = 1; i + 1 < out.tracks.size(); ++i)
      if (auto it = group_of.find(out.tracks[i].id); it != group_of.end() && !taken.insert(it->second).second)
        copies.insert(out.tracks[i].id);
    if (copies.empty()) break;
    Embeddings kept;
    kept.dim = tracks.dim;
    for (int64_t r = 0; r < tracks.size(); ++r)
      if (!copies.count(tracks.ids[r])) {
        kept.ids.push_back(tracks.ids[r]);
        kept.data.insert(kept.data.end(), tracks.row(r), tracks.row(r) + tracks.dim);
      }
    tracks = std::move(kept);
  }
  out.requested = length;
  return out;
}

}  // namespace clap::service
