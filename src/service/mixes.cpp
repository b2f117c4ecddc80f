#include "service/mixes.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "core/one_line_text.h"
#include "service/diversity.h"
#include "service/recordings.h"
#include "service/user_data.h"
#include "store/playlist_reads.h"

namespace clap::service {

void check_mix_options(const MixOptions& o) {
  if (o.mixes < 1) throw InvalidArgument("--mixes: must be at least 1, got " + std::to_string(o.mixes));
  if (o.size < 1) throw InvalidArgument("--size: must be at least 1, got " + std::to_string(o.size));
  if (!(o.discovery >= 0 && o.discovery <= 1))
    throw InvalidArgument("--discovery: must be between 0 and 1, got " + std::to_string(o.discovery));
  // At most 100 years (as --half-life): days · 86400 past int64 wrapped round, and the rule let
  // every song through (--not-played-days 9223372036854775807 gave full mixes; hostile pass 8).
  if (o.not_played_days < 0 || o.not_played_days > 36500)
    throw InvalidArgument("--not-played-days: must be 0 to 36500 days, got " + std::to_string(o.not_played_days));
  if (o.per_artist < 0) throw InvalidArgument("--per-artist: must be 0 or more, got " + std::to_string(o.per_artist));
  check_diversity(o.diversity);
  check_rules(o.rules);
}

// One line of at most 200 bytes: it is quoted in a reason and a playlist's comment, one line a song.
std::string song_name(const store::Track& t) {
  return one_line_text(!t.title.empty() ? t.title : std::filesystem::path(t.path).stem().string(), 200);
}

namespace {

std::string times(int64_t n) { return n == 1 ? "once" : n == 2 ? "twice" : std::to_string(n) + " times"; }

std::string album_key(const store::Track& t) {
  if (t.album.empty()) return "";
  return t.album + "\x1f" + (t.album_artist.empty() ? t.artist : t.album_artist);
}

std::string favourite_reason(const TrackTaste& t) {
  std::string r;
  if (t.plays > 0) r = "you played it " + times(t.plays);
  if (t.starred) r += r.empty() ? "you starred it" : " and starred it";
  if (t.rating >= 4) r += (r.empty() ? "you rated it " : ", rated ") + std::to_string(t.rating) + " stars";
  return r.empty() ? "one of your songs" : r;
}

std::string anchor_phrase(const store::Track& t, const TrackTaste& h) {
  std::string what;
  if (h.plays > 0) what = "you played " + times(h.plays);
  else if (h.starred) what = "you starred";
  else what = "you rated " + std::to_string(h.rating) + " stars";
  return "near '" + song_name(t) + "', which " + what;
}

// Maximal marginal relevance over the candidates' track embeddings (as service/diversity.h
// orders a result list): next = argmax (1 − d)·relevance − d·max cos(listed, candidate), ties to
// the earlier candidate, at most k. A copy of a recording already listed is skipped: the
// identity the radio and /api/sonic/ use (service/recordings.h: content hash, MBID, ISRC, else
// the stored fingerprints of the listed tracks nearest it), with the request's `prints`. Not
// diversify_order: its duplicate search looks for every candidate's neighbours in the whole
// library (seconds at 100,000 tracks for 400 candidates), where a mix compares a candidate with
// the few listed tracks nearest it.
std::vector<size_t> mmr_order(const LibrarySnapshot& snap, RecordingPrints& prints, const Embeddings& emb,
                              const std::unordered_map<int64_t, int64_t>& row_of, const std::vector<int64_t>& ids,
                              const std::vector<double>& relevance, size_t k, double d) {
  const size_t n = ids.size();
  std::vector<double> nearest(n, -1);  // max cos to a listed track
  std::vector<bool> taken(n, false);
  Recordings listed(&prints);
  std::vector<size_t> order;
  while (order.size() < k) {
    size_t best = n;
    double best_score = 0;
    for (size_t i = 0; i < n; ++i) {
      if (taken[i]) continue;
      const double score = (1 - d) * relevance[i] - d * (order.empty() ? 0.0 : nearest[i]);
      if (best == n || score > best_score) best = i, best_score = score;
    }
    if (best == n) break;
    taken[best] = true;
    if (const store::Track* t = snap.track(ids[best])) {
      if (listed.held(*t)) continue;  // a copy of a recording listed
      listed.hold(*t);
    }
    order.push_back(best);
    const float* x = emb.row(row_of.at(ids[best]));
    for (size_t i = 0; i < n; ++i)
      if (!taken[i]) nearest[i] = std::max(nearest[i], cosine(x, emb.row(row_of.at(ids[i])), emb.dim));
  }
  return order;
}

}  // namespace

std::vector<Mix> make_mixes(const LibrarySnapshot& snap, const Taste& taste, const MixOptions& o) {
  check_mix_options(o);
  std::vector<Mix> out;
  if (taste.centres.empty() || !snap.searchable()) return out;
  const Embeddings& emb = snap.track_embeddings();
  std::unordered_map<int64_t, int64_t> row_of;
  row_of.reserve(emb.ids.size() * 2);
  for (int64_t r = 0; r < emb.size(); ++r) row_of.emplace(emb.ids[r], r);
  const AllowedTracks allowed = allowed_tracks(snap.tracks(), o.rules);

  const int64_t recent_after = o.not_played_days > 0 ? taste.now - o.not_played_days * 86400 : INT64_MAX;
  std::set<int64_t> used;
  auto unwanted = [&](const TrackTaste& t) {
    return t.weight <= 0 || t.skips > t.plays || (t.rating > 0 && t.rating <= 2) ||
           (t.plays > 0 && t.last_played >= recent_after);
  };
  // Albums with starred songs: how many.
  std::map<std::string, int64_t> starred_on_album;
  for (const auto& [id, t] : taste.tracks)
    if (t.starred)
      if (const store::Track* tr = snap.track(id); tr && !album_key(*tr).empty()) ++starred_on_album[album_key(*tr)];

  const size_t n_mixes = std::min(taste.centres.size(), static_cast<size_t>(o.mixes));
  const int64_t pool = results_before_diversity(o.size) * 2;
  std::vector<const float*> queries;
  for (size_t j = 0; j < n_mixes; ++j) queries.push_back(taste.centres[j].vector.data());
  // One recording, one place (as the radio and /api/sonic/ tell copies): two encodings of one
  // song, untagged, are told apart only by their stored fingerprints, and sat in one mix, or one
  // in each. Every pair is compared once for all the mixes, and for the pools they are made from.
  RecordingPrints prints(snap);
  Recordings placed(&prints);  // the recordings of the mixes made so far
  // Unplayed candidates of every centre in one pass: never played, starred nor rated. A mix takes
  // the first `pool` of them that no earlier mix holds (`used`: at most o.size a mix) and that are
  // not a copy of one of its favourites (at most `pool`: one row a recording), so that many rows
  // give the same mixes as pool · mixes did: each row of a list is compared with the rows listed
  // before it, and 2,400 rows a centre (6 mixes of 50) cost 6 · 2,400²/2 dot products, 1,050 a
  // fifth of that.
  const int64_t unplayed_rows =
      std::min(pool * static_cast<int64_t>(n_mixes), 2 * pool + o.size * static_cast<int64_t>(n_mixes - 1));
  const auto unplayed = nearest_recordings(snap, emb, queries, unplayed_rows, [&](int64_t id) {
    return allowed.contains(id) && !taste.tracks.count(id);
  }, prints);

  for (size_t j = 0; j < n_mixes; ++j) {
    const TasteCentre& c = taste.centres[j];
    Mix mix;
    mix.centre = j;
    mix.label = c.label;
    mix.name = "Mix " + std::to_string(j + 1) + " \u00b7 " + c.label;

    // Favourites of this centre.
    std::vector<int64_t> known_ids;
    std::vector<double> known_rel;
    // The pool holds each recording once (H12S-2: the copies of one starred song filled it, and
    // the mix listed that song alone).
    Recordings pooled(&prints);
    int64_t left_recent = 0, left_disliked = 0, left_used = 0, left_filtered = 0;  // for empty_reason
    {
      std::vector<std::pair<int64_t, double>> ranked;
      for (int64_t id : c.members) {
        const TrackTaste& t = taste.tracks.at(id);
        if (used.count(id) || !allowed.contains(id) || unwanted(t)) {
          if (used.count(id)) ++left_used;
          else if (!allowed.contains(id)) ++left_filtered;
          else if (t.plays > 0 && t.last_played >= recent_after) ++left_recent;
          else ++left_disliked;
          continue;
        }
        const double cos = cosine(emb.row(row_of.at(id)), c.vector.data(), emb.dim);
        ranked.emplace_back(id, cos * std::log2(2 + t.weight));
      }
      std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
      for (const auto& [id, s] : ranked) {
        if (static_cast<int64_t>(known_ids.size()) == pool) break;
        if (const store::Track* t = snap.track(id)) {
          if (pooled.held(*t)) continue;
          pooled.hold(*t);
        }
        known_ids.push_back(id), known_rel.push_back(s);
      }
    }
    std::vector<int64_t> new_ids;
    std::vector<double> new_rel;
    for (const auto& [id, cos] : unplayed[j]) {
      if (used.count(id) || static_cast<int64_t>(new_ids.size()) == pool) continue;
      // A copy of one of the centre's favourites is that favourite, not a song never played.
      if (const store::Track* t = snap.track(id); t && pooled.held(*t)) continue;
      new_ids.push_back(id), new_rel.push_back(cos);
    }

    // Twice the mix's length of each: the caps and the other list's picks leave some out.
    const auto twice = static_cast<size_t>(2 * o.size);
    const std::vector<size_t> known_order = mmr_order(snap, prints, emb, row_of, known_ids, known_rel, twice, o.diversity);
    const std::vector<size_t> new_order = mmr_order(snap, prints, emb, row_of, new_ids, new_rel, twice, o.diversity);
    // Interleaved evenly: after i picks, round(i · discovery) should be new.
    ResultCaps caps(o.per_artist, 0);
    size_t ki = 0, ni = 0;
    int64_t new_taken = 0;
    std::set<int64_t> in_mix;
    auto take = [&](bool from_new) {
      const std::vector<size_t>& order = from_new ? new_order : known_order;
      size_t& i = from_new ? ni : ki;
      const std::vector<int64_t>& ids = from_new ? new_ids : known_ids;
      for (; i < order.size(); ++i) {
        const int64_t id = ids[order[i]];
        const store::Track* t = snap.track(id);
        if (!t || in_mix.count(id) || used.count(id) || placed.held(*t) || !caps.take(*t)) continue;
        placed.hold(*t);
        MixPick p;
        p.track_id = id;
        p.known = !from_new;
        p.score = cosine(emb.row(row_of.at(id)), c.vector.data(), emb.dim);
        mix.tracks.push_back(std::move(p));
        in_mix.insert(id);
        ++i;
        return true;
      }
      return false;
    };
    while (static_cast<int64_t>(mix.tracks.size()) < o.size) {
      const auto listed = static_cast<int64_t>(mix.tracks.size());
      const bool want_new = static_cast<double>(new_taken) < std::round(static_cast<double>(listed + 1) * o.discovery);
      if (take(want_new)) {
        new_taken += want_new;
      } else if (take(!want_new)) {
        new_taken += !want_new;
      } else {
        break;  // both lists ran out
      }
    }

    if (mix.tracks.empty()) {
      std::string why;
      const auto part = [&](int64_t n, const std::string& what) {
        if (n > 0) why += (why.empty() ? "" : ", ") + std::to_string(n) + " " + what;
      };
      part(left_recent, "played in the last " + std::to_string(o.not_played_days) + " days (--not-played-days)");
      part(left_disliked, "skipped more than played, rated 1-2 or pushed away");
      part(left_used, "in an earlier mix");
      part(left_filtered, "left out by --where or the music-only rule");
      const size_t n = c.members.size();
      mix.empty_reason = "of this taste centre's " + std::to_string(n) + (n == 1 ? " song, " : " songs, ") +
                         (why.empty() ? std::string("none is usable") : why) + "; no song you never played is left for it";
    }

    // Reasons.
    std::vector<int64_t> anchors;  // the centre's heaviest tracks
    for (int64_t id : c.members)
      if (anchors.size() < 100) anchors.push_back(id);
    for (MixPick& p : mix.tracks) {
      used.insert(p.track_id);
      const store::Track* t = snap.track(p.track_id);
      if (p.known) {
        p.reason = favourite_reason(taste.tracks.at(p.track_id));
        continue;
      }
      if (auto it = starred_on_album.find(album_key(*t)); !album_key(*t).empty() && it != starred_on_album.end()) {
        p.reason = it->second == 1 ? "like the song you starred on this album"
                                   : "like the " + std::to_string(it->second) + " songs you starred on this album";
        continue;
      }
      int64_t best = -1;
      double best_cos = -2;
      for (int64_t a : anchors) {
        const double s = cosine(emb.row(row_of.at(a)), emb.row(row_of.at(p.track_id)), emb.dim);
        if (s > best_cos) best_cos = s, best = a;
      }
      const store::Track* anchor = best >= 0 ? snap.track(best) : nullptr;
      p.reason = anchor ? anchor_phrase(*anchor, taste.tracks.at(best)) : "near your taste '" + c.label + "'";
    }
    out.push_back(std::move(mix));
  }
  return out;
}

std::vector<int64_t> save_mix_playlists(store::Store& store, int64_t user_id, const LibrarySnapshot& snap,
                                        const std::vector<Mix>& mixes, int64_t now) {
  // The bound on a user's playlists (kMaxPlaylistsPerUser) counts the mixes saved in place of the
  // old ones: checked before any old one is removed, so a refusal leaves the old mixes there.
  std::vector<int64_t> old_mixes;
  int64_t others = 0;
  // The user's own playlists only (Store::playlists lists every public one too).
  for (const store::PlaylistRecord& p : store::playlist_headers(store, store::PlaylistsOf(user_id, true))) {
    if (p.comment.rfind(kMixPlaylistMark, 0) == 0) old_mixes.push_back(p.id);
    else ++others;
  }
  const auto saved = std::count_if(mixes.begin(), mixes.end(), [](const Mix& m) { return !m.tracks.empty(); });
  if (saved > 0 && others + saved > kMaxPlaylistsPerUser)
    throw Error("cannot save " + std::to_string(saved) + " mix playlists: " + too_many_playlists_message() + "; the user owns " +
                std::to_string(others) + " other playlists");
  for (const int64_t id : old_mixes) store.remove_playlist(id);
  char day[32] = "";
  const std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(day, sizeof day, "%Y-%m-%d", &tm);
  std::vector<int64_t> ids;
  for (const Mix& m : mixes) {
    if (m.tracks.empty()) {
      ids.push_back(0);
      continue;
    }
    store::PlaylistRecord p;
    p.owner = user_id;
    p.name = m.name;
    p.is_public = false;
    p.created_at = p.changed_at = now;
    p.comment = std::string(kMixPlaylistMark) + " of " + day + ": songs near your taste '" + m.label + "'";
    int n = 0;
    for (const MixPick& pick : m.tracks) {
      const store::Track* tr = snap.track(pick.track_id);
      if (!tr) continue;
      p.entries.push_back(song_ref(*tr));
      // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "\n" + std::string.
      p.comment += '\n';
      p.comment += std::to_string(++n);
      p.comment += ". ";
      p.comment += song_name(*tr);
      p.comment += ": ";
      p.comment += pick.reason;
    }
    ids.push_back(store.put_playlist(p));
  }
  return ids;
}

}  // namespace clap::service
