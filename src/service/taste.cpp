#include "service/taste.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "core/one_line_text.h"
#include "core/vector_math.h"
#include "service/queries.h"
#include "service/recordings.h"

namespace clap::service {

double cosine(const float* a, const float* b, int64_t dim) { return static_cast<double>(dot(a, b, dim)); }

void check_taste_options(const TasteOptions& o) {
  if (!(o.half_life_days >= kMinHalfLifeDays && o.half_life_days <= kMaxHalfLifeDays)) {
    char got[32];
    std::snprintf(got, sizeof got, "%g", o.half_life_days);
    throw InvalidArgument("--half-life: must be between " + std::to_string(static_cast<int>(kMinHalfLifeDays)) + " and " +
                          std::to_string(static_cast<int>(kMaxHalfLifeDays)) + " days, got " + got);
  }
  if (o.max_centres < 1) throw InvalidArgument("--max-centres: must be at least 1, got " + std::to_string(o.max_centres));
  if (o.nearest < 0) throw InvalidArgument("--nearest: must be 0 or more, got " + std::to_string(o.nearest));
}

namespace {

constexpr double kLeastPlayWeight = 1e-100;

// The clustering of weighted unit vectors (rows of `x`, dim each).
struct Points {
  int64_t dim = 0;
  std::vector<const float*> x;
  std::vector<double> w;
  std::vector<int64_t> ids;
  size_t size() const { return x.size(); }
};

std::vector<float> normalised(std::vector<double> sum) {
  std::vector<float> v(sum.begin(), sum.end());
  l2_normalize_rows(v.data(), 1, static_cast<int64_t>(v.size()));
  return v;
}

// Weighted spherical k-means, k centres: deterministic farthest-first seeds (the heaviest point,
// then each time the point of largest w·(1 − nearest cosine), ties to the earlier point), then
// assignment / update rounds until nothing moves (at most kRounds).
struct Clustering {
  std::vector<std::vector<float>> centres;
  std::vector<int> assign;
  double silhouette = 0;
  double spread = 0;       // the weighted mean of 1 − cos(own centre)
  bool acceptable = true;  // every centre holds enough tracks and weight
};

Clustering kmeans(const Points& p, int k) {
  constexpr int kRounds = 25;
  const size_t n = p.size();
  Clustering c;
  std::vector<double> best(n, -2);
  size_t first = 0;
  for (size_t i = 1; i < n; ++i)
    if (p.w[i] > p.w[first]) first = i;
  c.centres.emplace_back(p.x[first], p.x[first] + p.dim);
  while (static_cast<int>(c.centres.size()) < k) {
    const std::vector<float>& last = c.centres.back();
    size_t far = 0;
    double far_score = -1;
    for (size_t i = 0; i < n; ++i) {
      best[i] = std::max(best[i], cosine(p.x[i], last.data(), p.dim));
      const double s = p.w[i] * (1 - best[i]);
      if (s > far_score) far_score = s, far = i;
    }
    c.centres.emplace_back(p.x[far], p.x[far] + p.dim);
  }
  c.assign.assign(n, -1);
  for (int round = 0; round < kRounds; ++round) {
    bool moved = false;
    for (size_t i = 0; i < n; ++i) {
      int arg = 0;
      double top = -2;
      for (int j = 0; j < k; ++j) {
        const double s = cosine(p.x[i], c.centres[j].data(), p.dim);
        if (s > top) top = s, arg = j;
      }
      if (arg != c.assign[i]) moved = true, c.assign[i] = arg;
    }
    if (!moved) break;
    std::vector<std::vector<double>> sums(k, std::vector<double>(p.dim, 0.0));
    std::vector<double> mass(k, 0.0);
    for (size_t i = 0; i < n; ++i) {
      std::vector<double>& s = sums[c.assign[i]];
      for (int64_t d = 0; d < p.dim; ++d) s[d] += p.w[i] * p.x[i][d];
      mass[c.assign[i]] += p.w[i];
    }
    for (int j = 0; j < k; ++j)
      if (mass[j] > 0) c.centres[j] = normalised(std::move(sums[j]));  // an emptied centre stays where it was
  }
  // Weighted simplified silhouette: a = 1 − cos(own centre), b = 1 − cos(nearest other centre).
  std::vector<double> mass(k, 0.0);
  std::vector<int64_t> count(k, 0);
  double total = 0, sil = 0, spread = 0;
  for (size_t i = 0; i < n; ++i) {
    mass[c.assign[i]] += p.w[i];
    ++count[c.assign[i]];
    total += p.w[i];
    const double a = 1 - cosine(p.x[i], c.centres[c.assign[i]].data(), p.dim);
    spread += p.w[i] * a;
    if (k == 1) continue;
    double b = 4;
    for (int j = 0; j < k; ++j)
      if (j != c.assign[i]) b = std::min(b, 1 - cosine(p.x[i], c.centres[j].data(), p.dim));
    const double m = std::max(a, b);
    sil += p.w[i] * (m > 0 ? (b - a) / m : 0);
  }
  c.silhouette = total > 0 ? sil / total : 0;
  c.spread = total > 0 ? spread / total : 0;
  for (int j = 0; j < k; ++j)
    if (count[j] < kMinCentreTracks || mass[j] < kMinCentreShare * total) c.acceptable = false;
  return c;
}

std::vector<std::pair<std::string, double>> top_counts(const std::map<std::string, double>& m, size_t n) {
  std::vector<std::pair<std::string, double>> v(m.begin(), m.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (v.size() > n) v.resize(n);
  return v;
}

}  // namespace

Taste build_taste(const LibrarySnapshot& snap, const TasteHistory& history, const TasteOptions& o) {
  check_taste_options(o);
  Taste taste;
  if (!snap.searchable()) return taste;
  const Embeddings& emb = snap.track_embeddings();
  std::unordered_map<int64_t, int64_t> row_of;
  row_of.reserve(emb.ids.size() * 2);
  for (int64_t r = 0; r < emb.size(); ++r) row_of.emplace(emb.ids[r], r);

  taste.now = o.now;
  if (taste.now == 0)
    for (const TastePlay& l : history.plays) taste.now = std::max(taste.now, l.at);
  const double half_life_s = o.half_life_days * 86400.0;
  // Never below 1e-100 (332 half-lives): 2^-1075 is 0 in doubles, and a history of plays that old
  // alone made no centre at all ("no plays") where it should make centres of what was played.
  // Beside a star (2) or any play within 300 half-lives such a weight is nothing either way, and
  // the clustering's products of weights stay inside doubles.
  auto recency = [&](int64_t at) {
    if (at >= taste.now) return 1.0;
    return std::max(std::exp2(-static_cast<double>(taste.now - at) / half_life_s), kLeastPlayWeight);
  };
  std::map<int64_t, TrackTaste>& tracks = taste.tracks;
  std::set<int64_t> unknown;
  auto known = [&](int64_t id) {
    if (row_of.count(id)) return true;
    unknown.insert(id);
    return false;
  };
  for (const TastePlay& l : history.plays) {
    if (!known(l.track_id)) continue;
    TrackTaste& t = tracks[l.track_id];
    if (l.skipped) {
      ++t.skips;
      t.weight -= kSkipWeight * recency(l.at);
    } else {
      ++t.plays;
      t.last_played = std::max(t.last_played, l.at);
      t.weight += recency(l.at);
    }
  }
  for (const auto& [id, at] : history.starred) {
    if (!known(id)) continue;
    TrackTaste& t = tracks[id];
    t.starred = true;
    t.weight += kStarWeight;
  }
  for (const auto& [id, rating] : history.ratings) {
    if (!known(id) || rating < 1) continue;
    TrackTaste& t = tracks[id];
    t.rating = rating;
    t.weight += rating - 3;
  }
  taste.unknown_tracks = static_cast<int64_t>(unknown.size());

  // The points: the heaviest positive tracks (ties by id, as the map orders them).
  std::vector<int64_t> positive, negative;
  for (const auto& [id, t] : tracks) (t.weight > 0 ? positive : negative).push_back(id);
  negative.erase(std::remove_if(negative.begin(), negative.end(), [&](int64_t id) { return !(tracks[id].weight < 0); }),
                 negative.end());
  if (positive.empty()) return taste;
  std::stable_sort(positive.begin(), positive.end(), [&](int64_t a, int64_t b) { return tracks[a].weight > tracks[b].weight; });
  Points pts;
  pts.dim = emb.dim;
  for (size_t i = 0; i < positive.size() && static_cast<int64_t>(i) < kMaxClusterTracks; ++i) {
    pts.ids.push_back(positive[i]);
    pts.x.push_back(emb.row(row_of[positive[i]]));
    pts.w.push_back(tracks[positive[i]].weight);
  }

  // Model selection: k = 1 unless some k ≥ 2 separates the points well.
  const int64_t k_cap = std::min<int64_t>(o.max_centres, static_cast<int64_t>(pts.size()) / kMinCentreTracks);
  std::vector<Clustering> tried;
  tried.push_back(kmeans(pts, 1));
  taste.silhouettes.push_back(0);
  double best = -1;
  for (int k = 2; k <= k_cap; ++k) {
    tried.push_back(kmeans(pts, k));
    taste.silhouettes.push_back(tried.back().silhouette);
    // A split must also gather the songs clearly closer than one centre does: one tight cluster
    // cut in two scores a fair silhouette in many dimensions, but hardly tightens.
    Clustering& c = tried.back();
    c.acceptable = c.acceptable && c.spread <= kMinSplitGain * tried[0].spread;
    if (c.acceptable) best = std::max(best, c.silhouette);
  }
  size_t chosen = 0;
  if (best >= kMinSilhouette)
    for (size_t i = 1; i < tried.size(); ++i)
      if (tried[i].acceptable && tried[i].silhouette >= kSilhouetteSlack * best) chosen = i;
  const std::vector<std::vector<float>>& seeds = tried[chosen].centres;
  const size_t k = seeds.size();

  // Every weighted track to its nearest centre; the centres made again from all of them, pushed
  // away from their negatives.
  auto nearest_seed = [&](int64_t id) {
    const float* x = emb.row(row_of[id]);
    size_t arg = 0;
    double top = -2;
    for (size_t j = 0; j < k; ++j) {
      const double s = cosine(x, seeds[j].data(), emb.dim);
      if (s > top) top = s, arg = j;
    }
    return arg;
  };
  std::vector<std::vector<double>> sums(k, std::vector<double>(emb.dim, 0.0));
  std::vector<double> mass(k, 0.0);
  taste.centres.resize(k);
  double total = 0;
  for (int64_t id : positive) {
    const size_t j = nearest_seed(id);
    const double w = tracks[id].weight;
    const float* x = emb.row(row_of[id]);
    for (int64_t d = 0; d < emb.dim; ++d) sums[j][d] += w * x[d];
    mass[j] += w;
    total += w;
    taste.centres[j].members.push_back(id);  // heaviest first: `positive` is in that order
  }
  for (int64_t id : negative) {
    const size_t j = nearest_seed(id);
    const double w = -tracks[id].weight;
    const float* x = emb.row(row_of[id]);
    for (int64_t d = 0; d < emb.dim; ++d) sums[j][d] -= w * x[d];
    taste.centres[j].pushed.push_back(id);
  }
  for (size_t j = 0; j < k; ++j) {
    TasteCentre& c = taste.centres[j];
    double norm = 0;
    for (double v : sums[j]) norm += v * v;
    // Negatives that outweigh a centre's tracks would turn it inside out: the seed stays then.
    c.vector = norm > 0 ? normalised(std::move(sums[j])) : seeds[j];
    c.weight = total > 0 ? mass[j] / total : 0;
    std::map<std::string, double> artists, genres;
    for (int64_t id : c.members)
      if (const store::Track* t = snap.track(id)) {
        if (!t->artist.empty()) artists[t->artist] += tracks[id].weight;
        if (!t->genre.empty()) genres[t->genre] += tracks[id].weight;
      }
    c.top_artists = top_counts(artists, 5);
    c.top_genres = top_counts(genres, 5);
    // A tag is whatever a file carries (line breaks, control characters, 300 bytes): the label
    // names a mix, its playlist and its M3U file, so it is one line of at most 80 bytes.
    c.label = one_line_text(!c.top_genres.empty() ? c.top_genres[0].first : !c.top_artists.empty() ? c.top_artists[0].first : "", 80);
    if (c.label.empty()) c.label = "mixed";
  }
  std::stable_sort(taste.centres.begin(), taste.centres.end(),
                   [](const TasteCentre& a, const TasteCentre& b) { return a.weight > b.weight; });

  // The library's songs nearest each centre, among those the rules allow.
  if (o.nearest > 0) {
    const AllowedTracks allowed = allowed_tracks(snap.tracks(), o.rules);
    std::vector<const float*> queries;
    for (const TasteCentre& c : taste.centres) queries.push_back(c.vector.data());
    RecordingPrints prints(snap);
    const auto lists = nearest_recordings(snap, emb, queries, o.nearest, [&](int64_t id) { return allowed.contains(id); }, prints);
    for (size_t j = 0; j < k; ++j) taste.centres[j].nearest = lists[j];
  }
  return taste;
}

std::vector<std::vector<std::pair<int64_t, double>>> nearest_rows(const Embeddings& emb,
                                                                  const std::vector<const float*>& queries, int64_t k,
                                                                  const std::function<bool(int64_t)>& keep) {
  const size_t q = queries.size();
  std::vector<std::vector<std::pair<int64_t, double>>> out(q);
  if (k <= 0) return out;
  // Per query a min-heap of the best k (worst on top): a better one is a higher cosine, then a lower id.
  auto better = [](const std::pair<int64_t, double>& a, const std::pair<int64_t, double>& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  for (int64_t r = 0; r < emb.size(); ++r) {
    const int64_t id = emb.ids[r];
    if (!keep(id)) continue;
    for (size_t j = 0; j < q; ++j) {
      const std::pair<int64_t, double> e{id, cosine(emb.row(r), queries[j], emb.dim)};
      auto& h = out[j];
      if (static_cast<int64_t>(h.size()) < k) {
        h.push_back(e);
        std::push_heap(h.begin(), h.end(), better);
      } else if (better(e, h.front())) {
        std::pop_heap(h.begin(), h.end(), better);
        h.back() = e;
        std::push_heap(h.begin(), h.end(), better);
      }
    }
  }
  for (auto& h : out) std::sort(h.begin(), h.end(), better);
  return out;
}

std::vector<std::vector<std::pair<int64_t, double>>> nearest_recordings(const LibrarySnapshot& snap, const Embeddings& emb,
                                                                        const std::vector<const float*>& queries, int64_t k,
                                                                        const std::function<bool(int64_t)>& keep,
                                                                        RecordingPrints& prints) {
  std::vector<std::vector<std::pair<int64_t, double>>> out(queries.size());
  if (k <= 0) return out;
  for (int64_t limit = k;; limit = std::min(emb.size(), limit * 4)) {
    const auto rows = nearest_rows(emb, queries, limit, keep);
    bool short_of_rows = false;
    for (size_t j = 0; j < rows.size(); ++j) {
      Recordings listed(&prints);
      out[j].clear();
      for (const auto& row : rows[j]) {
        if (static_cast<int64_t>(out[j].size()) == k) break;
        if (const store::Track* t = snap.track(row.first)) {
          if (listed.held(*t)) continue;
          listed.hold(*t);
        }
        out[j].push_back(row);
      }
      // Short, and a longer read could reach more rows.
      if (static_cast<int64_t>(out[j].size()) < k && static_cast<int64_t>(rows[j].size()) == limit) short_of_rows = true;
    }
    if (!short_of_rows || limit >= emb.size()) return out;
  }
}

const std::vector<std::string>& taste_moods() {
  static const std::vector<std::string> moods = {
      "late-night", "calm", "melancholic", "upbeat", "energetic", "dreamy", "dark", "warm",
      "aggressive", "romantic", "playful", "epic", "laid-back", "groovy", "sunny", "hypnotic"};
  return moods;
}

const std::vector<std::string>& taste_sounds() {
  static const std::vector<std::string> sounds = {
      "piano", "jazz", "rock", "metal", "electronic", "hip hop", "classical", "folk", "ambient",
      "pop", "soul", "blues", "techno", "house", "punk", "reggae", "country", "orchestral",
      "acoustic guitar", "singer-songwriter", "funk", "latin", "drum and bass", "lo-fi beats"};
  return sounds;
}

void label_centres(Library& lib, Taste& taste, std::string* why) {
  if (taste.centres.empty()) return;
  std::vector<float> vectors;
  for (const TasteCentre& c : taste.centres) vectors.insert(vectors.end(), c.vector.begin(), c.vector.end());
  const auto n = static_cast<int64_t>(taste.centres.size());
  std::vector<search::Classification> moods, sounds;
  try {
    moods = classify(lib, n, vectors.data(), taste_moods(), "This is {} music.", 1);
    sounds = classify(lib, n, vectors.data(), taste_sounds(), search::kDefaultLabelTemplate, 1);
  } catch (const Error& e) {
    if (why) *why = std::string("the taste centres are labelled by genre and artist: no zero-shot tags (") + e.what() + ")";
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    if (!moods[i].top.empty() && !sounds[i].top.empty())
      taste.centres[i].label = taste_moods()[moods[i].top[0].id] + " " + taste_sounds()[sounds[i].top[0].id];
}

}  // namespace clap::service
