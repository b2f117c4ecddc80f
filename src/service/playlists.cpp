#include "service/playlists.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <unordered_set>

#include "core/deadline.h"

#include "core/error.h"
#include "search/playlist.h"
#include "service/duplicates.h"
#include "service/queries.h"

namespace clap::service {
namespace {

// The track a user named (`role` is how the message calls it: "seed", "FROM"), which must have a
// track embedding; throws naming the input and the reason otherwise.
const store::Track& usable_track(const LibrarySnapshot& snap, const std::string& role, const std::string& given) {
  const store::Track* t = snap.find_track(given);
  if (!t) {
    // "1:nan" (a weight, as `similar --seed` takes one) was said to be no track of the index: the
    // text is tried as a path first, as a path may hold ':'. When the part before the last ':' is
    // a track, the tail is what is wrong, and said so.
    const size_t colon = given.rfind(':');
    if (colon != std::string::npos && colon > 0 && snap.find_track(given.substr(0, colon))) {
      const std::string tail = given.substr(colon + 1);
      char* end = nullptr;
      const double w = std::strtod(tail.c_str(), &end);
      const bool number = !tail.empty() && end == tail.c_str() + tail.size();
      const std::string no_weight = (role == "seed" ? "a seed" : role) + " takes no weight (the track's id or path alone)";
      if (number && !std::isfinite(w))
        throw InvalidArgument(role + " '" + given + "': the weight '" + tail + "' after ':' is not a finite number, and " + no_weight);
      throw InvalidArgument(role + " '" + given + "': " + no_weight + (number ? "" : "; '" + tail + "' after ':' is no weight either"));
    }
    throw Error(role + " '" + given + "': no track with that id or path in the index");
  }
  if (snap.track_embeddings().find(t->id) < 0) {
    try {
      snap.track_embedding(t->id);  // throws the reason it has none
    } catch (const Error& e) {
      throw Error(role + " '" + given + "': " + e.what());
    }
  }
  return *t;
}

// The members of `groups` other than the tracks in `keep` (copies of tracks already chosen).
std::set<int64_t> other_members(const std::vector<DuplicateGroup>& groups, const std::map<int64_t, size_t>& group_of,
                                const std::vector<int64_t>& keep) {
  std::set<size_t> chosen;
  for (int64_t id : keep)
    if (auto it = group_of.find(id); it != group_of.end()) chosen.insert(it->second);
  std::set<int64_t> out;
  for (size_t g : chosen)
    for (const DuplicateMember& m : groups[g].members) out.insert(m.track_id);
  for (int64_t id : keep) out.erase(id);
  return out;
}

// find_duplicates' groups of a path's tracks joined by the copies among those tracks themselves
// (copies_among): find_duplicates looks for a track's copies among its 16 nearest tracks in the
// library, which more than 16 files of its own encoding fill (a 64 kb/s MP3's nearest are the
// other 64 kb/s files), so a copy in another encoding was in another group, and a path listed its
// start song again as a step (H14S-3: 3 of 6 entries over 300 re-encodes of one song).
std::vector<DuplicateGroup> joined_with_copies_among(const LibrarySnapshot& snap, std::vector<DuplicateGroup> groups,
                                                     const std::vector<int64_t>& ids) {
  const std::vector<std::vector<int64_t>> among = copies_among(snap, ids);
  if (among.empty()) return groups;
  std::map<int64_t, size_t> group_of = group_index(groups);
  std::vector<size_t> parent(groups.size());
  for (size_t g = 0; g < parent.size(); ++g) parent[g] = g;
  const auto root = [&](size_t g) {
    while (parent[g] != g) g = parent[g] = parent[parent[g]];
    return g;
  };
  for (const std::vector<int64_t>& copies : among) {
    size_t first = 0;
    for (size_t i = 0; i < copies.size(); ++i) {
      auto it = group_of.find(copies[i]);
      if (it == group_of.end()) {  // a track in no group of find_duplicates': a group of its own
        DuplicateMember m;
        m.track_id = copies[i];
        groups.push_back(DuplicateGroup{{m}, {}});
        parent.push_back(groups.size() - 1);
        it = group_of.emplace(copies[i], groups.size() - 1).first;
      }
      if (i == 0) first = root(it->second);
      else parent[root(it->second)] = first;
    }
  }
  std::map<size_t, DuplicateGroup> joined;  // by root, so in the order of the first groups
  for (size_t g = 0; g < groups.size(); ++g) {
    DuplicateGroup& to = joined[root(g)];
    for (DuplicateMember& m : groups[g].members) to.members.push_back(std::move(m));
    for (search::DuplicatePair& p : groups[g].pairs) to.pairs.push_back(std::move(p));
  }
  std::vector<DuplicateGroup> out;
  for (auto& [r, g] : joined) out.push_back(std::move(g));
  return out;
}

Embeddings without(const Embeddings& tracks, const std::set<int64_t>& left_out) {
  return subset_rows(tracks, [&](int64_t id) { return !left_out.count(id); });
}

// The MMR radio with copies of one recording played once: a track that copies one already in
// the playlist (copies_among over the radio's own tracks: service/duplicates.h) is left out, as is
// one beyond the per-artist/album caps, and the radio is asked for more until the playlist is full
// (the greedy MMR order makes a longer radio extend a shorter one). Seeds always stay. The copies
// of what is kept, and every file with the same bytes as a kept track, leave the candidates for
// the next round at once: a library with thousands of copies of one file needs one more round,
// not one per copy (issue 53, M9). `left_out` holds the tracks already out (the negative terms'):
// the candidates are never copied (a copy of 100,000 rows was 205 MB per round).
std::vector<search::Hit> radio_without_copies(const LibrarySnapshot& snap, const Embeddings& tracks, const float* query,
                                              const std::vector<int64_t>& seeds, search::RadioOptions options,
                                              const ResultRules& rules, std::unordered_set<int64_t> left_out,
                                              int64_t& copies_left_out) {
  const int64_t wanted = options.length;
  std::vector<search::Hit> kept;
  std::set<int64_t> copies_out;
  options.left_out = &left_out;
  for (int round = 0; round < 8; ++round) {
    check_deadline("playlist");
    const std::vector<search::Hit> all = search::mmr_playlist(tracks, query, seeds, options);
    std::vector<int64_t> ids;
    for (const auto& h : all) ids.push_back(h.id);
    const std::vector<std::vector<int64_t>> groups = copies_among(snap, ids);
    std::map<int64_t, size_t> group_of;
    for (size_t g = 0; g < groups.size(); ++g)
      for (int64_t id : groups[g]) group_of.emplace(id, g);
    std::set<size_t> played;
    ResultCaps caps(rules.per_artist, rules.per_album);
    kept.clear();
    for (size_t i = 0; i < all.size() && static_cast<int64_t>(kept.size()) < wanted; ++i) {
      auto it = group_of.find(all[i].id);
      const bool seed = i < seeds.size();
      if (it != group_of.end() && !played.insert(it->second).second && !seed) {
        copies_out.insert(all[i].id);
        continue;
      }
      const store::Track* t = rules.capped() ? snap.track(all[i].id) : nullptr;
      if (t && !caps.take(*t) && !seed) continue;
      kept.push_back(all[i]);
    }
    if (static_cast<int64_t>(kept.size()) >= wanted || static_cast<int64_t>(all.size()) < options.length) break;
    std::vector<int64_t> kept_ids;
    for (const auto& h : kept) kept_ids.push_back(h.id);
    std::vector<int64_t> recordings = kept_ids;  // the kept tracks and their groups' other members
    std::set<size_t> kept_groups;
    for (int64_t id : kept_ids)
      if (auto it = group_of.find(id); it != group_of.end()) kept_groups.insert(it->second);
    for (size_t g : kept_groups) recordings.insert(recordings.end(), groups[g].begin(), groups[g].end());
    for (int64_t id : identical_copies_of(snap, recordings))
      if (std::find(kept_ids.begin(), kept_ids.end(), id) == kept_ids.end() && left_out.insert(id).second)
        copies_out.insert(id);
    options.length += wanted - static_cast<int64_t>(kept.size()) + 4;
  }
  copies_left_out = static_cast<int64_t>(copies_out.size());
  return kept;
}

}  // namespace

Playlist radio(Library& lib, const LibrarySnapshot& snap, const RadioRequest& request) {
  if (request.seeds.empty() && request.texts.empty() && request.toward.empty())
    throw Error("playlist: give at least one seed track or one text");
  check_rules(request.rules);
  const Embeddings& library = snap.track_embeddings();  // throws when nothing is searchable
  // With a filter the radio is made over the allowed tracks and the seeds (which always play):
  // a few of them (under a quarter of the library) are copied out; otherwise the others are
  // left out of the pool where they are (the music-only rule leaves out a few podcasts: a copy
  // of the rest was 205 MB per fill at 100,000 tracks), and the pool is ranked by the library's
  // first pass (similar_all). Either way the playlist is the one over the allowed tracks alone.
  Embeddings allowed_only;
  std::unordered_set<int64_t> negative_tracks;  // never play (the seeds excepted)
  bool copied = false;
  if (!request.rules.where.empty() || !request.rules.exclude.empty()) {  // exclude: the music-only rule
    const AllowedTracks allowed = allowed_tracks(snap.tracks(), request.rules);
    std::set<int64_t> seeds;
    for (const std::string& s : request.seeds) seeds.insert(usable_track(snap, "seed", s).id);
    if (static_cast<int64_t>(allowed.ids.size()) * 4 < library.size()) {
      allowed_only = subset_rows(library, [&](int64_t id) { return allowed.contains(id) || seeds.count(id) > 0; });
      copied = true;
    } else {
      for (int64_t id : library.ids)
        if (!allowed.contains(id) && !seeds.count(id)) negative_tracks.insert(id);
    }
  }
  const Embeddings& tracks = copied ? allowed_only : library;
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
  if (request.toward.size() % static_cast<size_t>(tracks.dim) != 0)
    throw Error("playlist: a direction of " + std::to_string(request.toward.size()) + " floats for dimension " +
                std::to_string(tracks.dim));
  parts.insert(parts.end(), request.toward.begin(), request.toward.end());
  const int64_t n_parts = static_cast<int64_t>(parts.size()) / tracks.dim;
  std::vector<float> query = search::mean_direction(n_parts, tracks.dim, parts.data());
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
    for (int64_t id : mq.seed_tracks)
      if (std::find(seed_ids.begin(), seed_ids.end(), id) == seed_ids.end()) negative_tracks.insert(id);
  }

  search::RadioOptions options;
  options.length = request.length;
  options.diversity = request.diversity;
  // The pool from the 8-bit first pass over the library: the float32 scan's ranking, bit for bit
  // (similar_all), for a quarter of its bytes.
  if (!copied) options.nearest = [&snap, &query](int64_t k) { return similar_all(snap, query.data(), -1, k); };
  Playlist out;
  if (request.rules.capped() && options.candidates == 0)  // room for the tracks the caps drop
    options.candidates = std::max<int64_t>(200, 20 * request.length) * 4;
  out.tracks = radio_without_copies(snap, tracks, query.data(), seed_ids, options, request.rules, std::move(negative_tracks),
                                    out.copies_left_out);
  out.seeds = static_cast<int64_t>(seed_ids.size());
  out.requested = request.length;
  return out;
}

Playlist track_path(const LibrarySnapshot& snap, const std::string& from, const std::string& to, int64_t length,
                    const ResultRules& rules, const std::string& from_name, const std::string& to_name) {
  if (rules.capped()) throw InvalidArgument("path: per-artist and per-album caps do not go with a path (use a filter)");
  const store::Track& a = usable_track(snap, from_name, from);
  const store::Track& b = usable_track(snap, to_name, to);
  if (a.id == b.id)
    throw InvalidArgument("path: " + from_name + " '" + from + "' and " + to_name + " '" + to + "' are the same track (" + a.path + ")");
  // The snapshot's embeddings are read in place until a filter or a copy leaves tracks out (a
  // copy of 100,000 rows was 205 MB per request).
  const Embeddings* tracks = &snap.track_embeddings();
  Embeddings subset;
  const AllowedTracks allowed = allowed_tracks(snap.tracks(), rules);
  if (!allowed.all) {
    subset = subset_rows(*tracks, [&](int64_t id) { return id == a.id || id == b.id || allowed.contains(id); });
    tracks = &subset;
  }
  // Copies of one recording (service/duplicates.h) take one step at most: a step that copies
  // an earlier one, FROM or TO is taken out of the tracks with every other member of its group,
  // and the path is drawn again (a group leaves at once: thousands of copies of one file cost one
  // more round, not one per copy; issue 53, M9).
  Playlist out;
  std::set<int64_t> left_out;
  for (int round = 0;; ++round) {
    check_deadline("path");
    out.tracks = search::path_between(*tracks, a.id, b.id, length);
    std::vector<int64_t> ids;
    for (const auto& h : out.tracks) ids.push_back(h.id);
    const std::vector<DuplicateGroup> groups =
        joined_with_copies_among(snap, find_duplicates(snap, {}, ids, {}, nullptr, /*measure_bands=*/false), ids);
    const std::map<int64_t, size_t> group_of = group_index(groups);
    std::set<size_t> taken;
    for (int64_t end : {a.id, b.id})
      if (auto it = group_of.find(end); it != group_of.end()) taken.insert(it->second);
    std::vector<int64_t> kept_ids{a.id, b.id};
    std::set<int64_t> copies;
    for (size_t i = 1; i + 1 < out.tracks.size(); ++i) {
      const auto it = group_of.find(out.tracks[i].id);
      if (it == group_of.end() || taken.insert(it->second).second) kept_ids.push_back(out.tracks[i].id);
      else copies.insert(out.tracks[i].id);
    }
    if (copies.empty()) break;
    if (round == 7) {  // still copies after eight draws: leave them out (a shorter path)
      std::erase_if(out.tracks, [&](const search::Hit& h) { return copies.count(h.id) > 0; });
      left_out.insert(copies.begin(), copies.end());
      break;
    }
    const std::set<int64_t> others = other_members(groups, group_of, kept_ids);
    left_out.insert(others.begin(), others.end());
    subset = without(*tracks, others);
    tracks = &subset;
  }
  out.copies_left_out = static_cast<int64_t>(left_out.size());
  out.requested = length;
  return out;
}

}  // namespace clap::service
