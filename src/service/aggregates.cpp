#include "service/aggregates.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "core/one_line_text.h"
#include "service/song_resolver.h"

namespace clap::service {

namespace {

// The group key of a track ("" = in no group): as ResultCaps counts artists and albums.
std::string key_of(const store::Track& t, GroupKind kind) {
  const std::string artist = normalise_name(t.artist);
  if (kind == GroupKind::Artist) return artist;
  const std::string album = normalise_name(t.album);
  if (album.empty()) return "";
  return album + '\x1f' + normalise_name(t.album_artist.empty() ? t.artist : t.album_artist);
}

// Levenshtein distance (bytes), for suggestions.
size_t distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// Names longer than this (normalised) get no suggestions: no typo of a name is that long, and
// the edit distance of a 2,000-byte name to each of 10,000 artists took 0.4 s (the server takes
// names of up to 2,000 bytes).
constexpr size_t kMaxSuggestedKey = 200;
// A name in a message: whole up to this many bytes, then cut (at a character boundary) with its length.
constexpr size_t kMaxShownName = 120;

std::string quoted(const std::string& s) {
  std::string out(1, '"');
  if (s.size() <= kMaxShownName) return out.append(control_escaped(s)).append(1, '"');
  size_t cut = kMaxShownName;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  return out.append(control_escaped(std::string_view(s).substr(0, cut))).append("\u2026\" (").append(std::to_string(s.size())).append(" bytes)");
}

std::string label_of(const Group& g, GroupKind kind) {
  return kind == GroupKind::Album && !g.artist.empty() ? quoted(g.name) + " by " + g.artist : quoted(g.name);
}

// Up to three names close to `key` (within a third of its length, at least 2 edits), nearest first.
std::string suggestions(const std::vector<std::pair<std::string, std::string>>& names, const std::string& key) {
  if (key.size() > kMaxSuggestedKey) return "";
  std::vector<std::pair<size_t, std::string>> close;
  const size_t limit = std::max<size_t>(2, key.size() / 3);
  for (const auto& [k, label] : names) {
    const std::string name_key = k.substr(0, k.find('\x1f'));
    size_t d = 1;  // a name containing the key
    if (name_key.find(key) == std::string::npos) {
      // The lengths' difference is a lower bound of the distance: a name that cannot be close is
      // not compared (the same suggestions, without the quadratic cost for them).
      if (name_key.size() > key.size() + limit || key.size() > name_key.size() + limit) continue;
      d = distance(name_key, key);
    }
    if (d <= limit) close.emplace_back(d, label);
  }
  std::sort(close.begin(), close.end());
  close.erase(std::unique(close.begin(), close.end()), close.end());
  if (close.empty()) return "";
  std::string out = "; did you mean ";
  for (size_t i = 0; i < close.size() && i < 3; ++i) out += (i ? ", " : "") + close[i].second;
  return out + "?";
}

}  // namespace

const char* group_kind_name(GroupKind kind) { return kind == GroupKind::Artist ? "artist" : "album"; }

std::vector<Group> groups(const LibrarySnapshot& snap, GroupKind kind, const ResultRules& rules) {
  ResultRules filter = rules;  // the filter and the exclusions (the music-only rule); caps do not apply
  filter.per_artist = filter.per_album = 0;
  const AllowedTracks allowed = allowed_tracks(snap.tracks(), filter);
  std::map<std::string, Group> by_key;
  for (const store::Track& t : snap.tracks()) {
    if (t.status != store::TrackStatus::Ok || !allowed.contains(t.id)) continue;
    const std::string key = key_of(t, kind);
    if (key.empty()) continue;
    Group& g = by_key[key];
    if (g.key.empty() || t.id < g.tracks.front()) {
      g.key = key;
      g.name = kind == GroupKind::Artist ? t.artist : t.album;
      g.artist = kind == GroupKind::Artist ? "" : (t.album_artist.empty() ? t.artist : t.album_artist);
    }
    g.tracks.push_back(t.id);
  }
  if (by_key.empty()) return {};
  const Embeddings& emb = snap.track_embeddings();
  std::map<int64_t, int64_t> row_of;
  for (int64_t r = 0; r < emb.size(); ++r) row_of[emb.ids[r]] = r;
  std::vector<Group> out;
  for (auto& [key, g] : by_key) {
    std::sort(g.tracks.begin(), g.tracks.end());
    std::vector<double> sum(static_cast<size_t>(emb.dim), 0.0);
    std::vector<int64_t> kept;
    for (int64_t id : g.tracks) {  // id order: the sum is the same on every run
      const auto it = row_of.find(id);
      if (it == row_of.end()) continue;  // silent throughout: no track embedding
      const float* v = emb.row(it->second);
      double n2 = 0;
      for (int d = 0; d < emb.dim; ++d) n2 += double(v[d]) * v[d];
      if (n2 <= 0) continue;
      const double inv = 1.0 / std::sqrt(n2);
      for (int d = 0; d < emb.dim; ++d) sum[static_cast<size_t>(d)] += v[d] * inv;
      kept.push_back(id);
    }
    double n2 = 0;
    for (double x : sum) n2 += x * x;
    if (kept.empty() || n2 <= 0) continue;
    g.tracks = std::move(kept);
    g.embedding.resize(sum.size());
    const double inv = 1.0 / std::sqrt(n2);
    for (size_t d = 0; d < sum.size(); ++d) g.embedding[d] = static_cast<float>(sum[d] * inv);
    out.push_back(std::move(g));
  }
  return out;
}

const Group& find_group(const LibrarySnapshot& snap, const std::vector<Group>& all, GroupKind kind, const std::string& name,
                        const std::string& artist, const ResultRules& rules) {
  const std::string what = group_kind_name(kind);
  const std::string key = normalise_name(name), by = normalise_name(artist);
  if (key.empty()) throw InvalidArgument(what + " " + quoted(name) + ": no letters or digits");
  auto matches = [&](const std::string& k) {
    if (kind == GroupKind::Artist) return k == key;
    const size_t sep = k.find('\x1f');
    return k.substr(0, sep) == key && (by.empty() || k.substr(sep + 1) == by);
  };
  std::vector<const Group*> found;
  for (const Group& g : all)
    if (matches(g.key)) found.push_back(&g);
  if (found.size() == 1) return *found.front();
  if (found.size() > 1) {
    std::string list;
    for (const Group* g : found) list += (list.empty() ? "" : ", ") + (g->artist.empty() ? "(no artist)" : g->artist);
    throw InvalidArgument(what + " " + quoted(name) + ": several albums have this name (by " + list +
                          "); name the album artist too (--artist, REST artist=)");
  }
  // Not among the aggregates: tagged but without indexed tracks (or none left by the filter), or unknown.
  int64_t tagged = 0, ok = 0;
  std::vector<std::pair<std::string, std::string>> names;
  for (const store::Track& t : snap.tracks()) {
    const std::string k = key_of(t, kind);
    if (k.empty()) continue;
    if (matches(k)) {
      ++tagged;
      ok += t.status == store::TrackStatus::Ok;
    }
  }
  const std::string shown = what + " " + quoted(name) + (by.empty() ? "" : " by " + artist);
  if (tagged > 0 && ok == 0)
    throw Error(shown + ": none of its " + std::to_string(tagged) + " tracks could be indexed (clapsearch status lists why)");
  if (tagged > 0 && !rules.where.empty())
    throw Error(shown + ": none of its " + std::to_string(ok) + " indexed tracks matches the filter");
  if (tagged > 0 && !rules.exclude.empty())
    throw Error(shown + ": its " + std::to_string(ok) + " indexed tracks are excluded (the music-only rule; --include-excluded, REST exclude=false)");
  if (tagged > 0) throw Error(shown + ": its tracks have no track embedding (silent throughout)");
  for (const Group& g : all) names.emplace_back(g.key, label_of(g, kind));
  throw Error(shown + ": no track in the index is tagged with this " + what + suggestions(names, key));
}

std::vector<GroupHit> rank_groups(const std::vector<Group>& all, const float* query, int64_t k, const std::string& leave_out) {
  struct Scored {
    double score;
    const Group* g;
  };
  std::vector<Scored> scored;
  for (const Group& g : all) {
    if (g.key == leave_out) continue;
    double s = 0;
    for (size_t d = 0; d < g.embedding.size(); ++d) s += double(g.embedding[d]) * query[d];
    scored.push_back({s, &g});
  }
  std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    return a.score != b.score ? a.score > b.score : a.g->key < b.g->key;
  });
  if (k > 0 && static_cast<int64_t>(scored.size()) > k) scored.resize(static_cast<size_t>(k));
  std::vector<GroupHit> out;
  for (const Scored& s : scored) out.push_back({s.g->name, s.g->artist, static_cast<int64_t>(s.g->tracks.size()), s.score});
  return out;
}

std::vector<GroupHit> similar_groups(const LibrarySnapshot& snap, GroupKind kind, const std::string& name,
                                     const std::string& artist, int64_t k, const ResultRules& rules) {
  check_rules(rules);
  if (!snap.searchable()) throw Error("the index has no searchable tracks yet (run clapsearch index)");
  const std::vector<Group> all = groups(snap, kind, rules);
  const Group& query = find_group(snap, all, kind, name, artist, rules);
  return rank_groups(all, query.embedding.data(), k, query.key);
}

std::vector<std::vector<GroupHit>> search_groups(Library& lib, const LibrarySnapshot& snap, GroupKind kind,
                                                 const std::vector<std::string>& texts, int64_t k, const ResultRules& rules) {
  check_rules(rules);
  if (!snap.searchable()) return std::vector<std::vector<GroupHit>>(texts.size());
  const std::vector<Group> all = groups(snap, kind, rules);
  const std::vector<float> emb = lib.embed_texts(texts);
  std::vector<std::vector<GroupHit>> out;
  for (size_t q = 0; q < texts.size(); ++q) out.push_back(rank_groups(all, emb.data() + q * static_cast<size_t>(lib.dim()), k));
  return out;
}

}  // namespace clap::service
