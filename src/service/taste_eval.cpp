#include "service/taste_eval.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "service/diversity.h"
#include "service/for_you.h"

namespace clap::service {
namespace {

HistoryEvalRow score(const LibrarySnapshot& snap, const std::string& name, const std::vector<std::vector<int64_t>>& lists,
                     const std::set<int64_t>& heldout, const std::set<int64_t>& known) {
  HistoryEvalRow r;
  r.name = name;
  std::set<int64_t> listed;
  int64_t novel = 0;
  double artists_sum = 0;
  for (const auto& list : lists) {
    std::set<std::string> artists;
    int64_t anonymous = 0;
    for (int64_t id : list) {
      if (!listed.insert(id).second) continue;
      if (!known.count(id)) ++novel;
      const store::Track* t = snap.track(id);
      if (t && !t->artist.empty()) artists.insert(t->artist);
      else ++anonymous;
    }
    artists_sum += static_cast<double>(artists.size() + anonymous);
  }
  r.listed = static_cast<int64_t>(listed.size());
  for (int64_t id : heldout) r.hits += listed.count(id);
  r.hit_rate = heldout.empty() ? 0 : static_cast<double>(r.hits) / static_cast<double>(heldout.size());
  r.novelty = listed.empty() ? 0 : static_cast<double>(novel) / static_cast<double>(listed.size());
  r.diversity = lists.empty() ? 0 : artists_sum / static_cast<double>(lists.size());
  return r;
}

// `ids` cut into lists of `size`.
std::vector<std::vector<int64_t>> chunks(const std::vector<int64_t>& ids, int64_t size) {
  std::vector<std::vector<int64_t>> out;
  for (size_t i = 0; i < ids.size(); i += static_cast<size_t>(size))
    out.emplace_back(ids.begin() + static_cast<std::ptrdiff_t>(i),
                     ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + static_cast<size_t>(size))));
  return out;
}

}  // namespace

HistoryEval evaluate_history(const LibrarySnapshot& snap, const TasteHistory& history, const HistoryEvalOptions& o) {
  // At most 100 years: days · 86400 past int64 wrapped round (hostile pass 8).
  if (o.holdout_days < 1 || o.holdout_days > 36500)
    throw InvalidArgument("--holdout-days: must be 1 to 36500 days, got " + std::to_string(o.holdout_days));
  MixOptions mix_options = o.mix;
  mix_options.not_played_days = 0;
  check_mix_options(mix_options);
  check_taste_options(o.taste);
  HistoryEval ev;
  if (history.plays.empty()) throw Error("the history holds no plays of songs of this library");
  int64_t last = 0;
  for (const TastePlay& l : history.plays) last = std::max(last, l.at);
  ev.cutoff = last - o.holdout_days * 86400;

  TasteHistory train;
  std::set<int64_t> heldout;
  std::vector<TastePlay> before;
  for (const TastePlay& l : history.plays) {
    if (l.at < ev.cutoff) {
      train.plays.push_back(l);
      before.push_back(l);
    } else if (!l.skipped) {
      ++ev.heldout_plays;
      heldout.insert(l.track_id);
    }
  }
  for (const auto& [id, at] : history.starred)
    if (at < ev.cutoff) train.starred.emplace(id, at);
  for (const auto& [id, rating] : history.ratings) {
    const auto at = history.rated_at.find(id);
    if (at == history.rated_at.end() || at->second < ev.cutoff) train.ratings.emplace(id, rating);
  }
  ev.train_plays = static_cast<int64_t>(train.plays.size());
  ev.heldout_songs = static_cast<int64_t>(heldout.size());
  if (train.plays.empty())
    throw Error("the history has no plays before the " + std::to_string(o.holdout_days) + " held-out days: nothing to learn from");
  if (heldout.empty())
    throw Error("the history has no plays (not skipped) in the last " + std::to_string(o.holdout_days) + " days: nothing to score");

  TasteOptions taste_options = o.taste;
  taste_options.now = ev.cutoff;
  taste_options.nearest = 0;
  taste_options.rules = mix_options.rules;
  const Taste taste = build_taste(snap, train, taste_options);
  ev.centres = static_cast<int64_t>(taste.centres.size());
  std::set<int64_t> known;
  for (const auto& [id, t] : taste.tracks)
    if (t.plays > 0 || t.starred) known.insert(id);

  const std::vector<Mix> mixes = make_mixes(snap, taste, mix_options);
  std::vector<std::vector<int64_t>> mix_lists;
  int64_t budget = 0;
  for (const Mix& m : mixes) {
    mix_lists.emplace_back();
    for (const MixPick& p : m.tracks) mix_lists.back().push_back(p.track_id);
    budget += static_cast<int64_t>(m.tracks.size());
  }
  if (budget == 0) budget = mix_options.size;
  ev.rows.push_back(score(snap, "mixes", mix_lists, heldout, known));

  const Embeddings& emb = snap.track_embeddings();
  std::unordered_map<int64_t, int64_t> row_of;
  for (int64_t r = 0; r < emb.size(); ++r) row_of.emplace(emb.ids[r], r);
  const AllowedTracks allowed = allowed_tracks(snap.tracks(), mix_options.rules);
  auto keep_allowed = [&](int64_t id) { return allowed.contains(id); };
  // The last song played before the cut (ties: the later in the history), with an embedding.
  int64_t last_song = -1, last_at = INT64_MIN;
  for (const TastePlay& l : before)
    if (!l.skipped && l.at >= last_at && row_of.count(l.track_id)) last_song = l.track_id, last_at = l.at;

  // The radio for you: from the last song, `size` songs nearest the query, diversified as the radio is.
  std::vector<int64_t> radio_list;
  if (last_song >= 0) {
    const std::vector<float> q = for_me_query(taste, emb.row(row_of.at(last_song)), emb.dim, {});
    const auto near = nearest_rows(emb, {q.data()}, results_before_diversity(mix_options.size),
                                   [&](int64_t id) { return id != last_song && allowed.contains(id); });
    std::vector<int64_t> ids;
    std::vector<double> rel;
    for (const auto& [id, s] : near[0]) ids.push_back(id), rel.push_back(s);
    for (size_t i : diversify_order(snap, ids, rel, mix_options.size, mix_options.diversity, {last_song})) radio_list.push_back(ids[i]);
  }
  ev.rows.push_back(score(snap, "radio", {radio_list}, heldout, known));

  // Baselines, each as many songs as the mixes list.
  std::vector<int64_t> pool;
  for (int64_t id : emb.ids)
    if (allowed.contains(id)) pool.push_back(id);
  std::sort(pool.begin(), pool.end());
  std::vector<int64_t> random_list = pool;
  std::mt19937_64 rng(o.random_seed);
  for (size_t i = 0; i < random_list.size() && static_cast<int64_t>(i) < budget; ++i) {
    // A partial Fisher-Yates shuffle with the generator's raw output: the same on every platform
    // (std::uniform_int_distribution is not).
    const size_t j = i + static_cast<size_t>(rng() % (random_list.size() - i));
    std::swap(random_list[i], random_list[j]);
  }
  if (static_cast<int64_t>(random_list.size()) > budget) random_list.resize(budget);
  ev.rows.push_back(score(snap, "random", chunks(random_list, mix_options.size), heldout, known));

  std::map<int64_t, int64_t> counts;
  for (const TastePlay& l : before)
    if (!l.skipped && allowed.contains(l.track_id)) ++counts[l.track_id];
  std::vector<std::pair<int64_t, int64_t>> most(counts.begin(), counts.end());
  std::stable_sort(most.begin(), most.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<int64_t> most_list;
  for (const auto& [id, n] : most)
    if (static_cast<int64_t>(most_list.size()) < budget) most_list.push_back(id);
  ev.rows.push_back(score(snap, "most played", chunks(most_list, mix_options.size), heldout, known));

  std::vector<int64_t> similar_list;
  if (last_song >= 0) {
    const auto near = nearest_rows(emb, {emb.row(row_of.at(last_song))}, budget,
                                   [&](int64_t id) { return id != last_song && keep_allowed(id); });
    for (const auto& [id, s] : near[0]) similar_list.push_back(id);
  }
  ev.rows.push_back(score(snap, "similar to last played", chunks(similar_list, mix_options.size), heldout, known));
  return ev;
}

}  // namespace clap::service
