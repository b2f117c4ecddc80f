#include "service/duplicates.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include "core/error.h"
#include "core/vector_math.h"

namespace clap::service {
namespace {

double cosine_of(const Embeddings& tracks, int64_t a, int64_t b) {
  const int64_t ra = tracks.find(a), rb = tracks.find(b);
  if (ra < 0 || rb < 0) return 0;
  return dot(tracks.row(ra), tracks.row(rb), tracks.dim);  // the kernel every printed score comes from
}

// The confirmed pairs around `seeds`: their pairs, then their new partners' pairs, until the
// groups stop growing (copies of copies belong to the same group).
std::vector<search::DuplicatePair> pairs_around(const LibrarySnapshot& snap, const search::DuplicateOptions& options,
                                                std::vector<int64_t> seeds,
                                                const std::function<void(int64_t, int64_t)>& progress) {
  const auto duration_of = [&snap](int64_t id) {
    const store::Track* t = snap.track(id);
    return t ? t->duration_s : 0.0;
  };
  const double hop = snap.identity().hop_s;
  if (seeds.empty())
    return search::find_duplicate_pairs(snap.catalog(), snap.track_embeddings(), duration_of, hop, options, {}, progress);
  std::set<int64_t> seen(seeds.begin(), seeds.end());
  std::map<std::pair<int64_t, int64_t>, search::DuplicatePair> all;
  while (!seeds.empty()) {
    std::vector<int64_t> next;
    for (const auto& p : search::find_duplicate_pairs(snap.catalog(), snap.track_embeddings(), duration_of, hop, options,
                                                      seeds)) {
      all.emplace(std::make_pair(p.a, p.b), p);
      for (int64_t id : {p.a, p.b})
        if (seen.insert(id).second) next.push_back(id);
    }
    seeds = std::move(next);
  }
  std::vector<search::DuplicatePair> out;
  for (auto& [key, p] : all) out.push_back(p);
  return out;
}

// Sort key of a copy's quality (greater is better), for better_copy.
auto quality(const DuplicateMember& m) {
  const audio::StreamFormat& f = m.format;
  const bool lossless = m.format_known && f.lossless;
  const int64_t primary = !m.format_known ? -1 : lossless ? int64_t{f.sample_rate} : f.bit_rate;
  const int64_t secondary = lossless ? int64_t{f.bits_per_sample} : int64_t{f.sample_rate};
  return std::make_tuple(m.format_known, lossless, primary, secondary, f.channels, m.duration_s);
}

std::string khz(int rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", rate / 1000.0);  // 44.1, 22.05, 48
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s + " kHz";
}

}  // namespace

bool better_copy(const DuplicateMember& a, const DuplicateMember& b) {
  const auto qa = quality(a), qb = quality(b);
  if (qa != qb) return qa > qb;
  return a.track_id < b.track_id;
}

std::string format_text(const DuplicateMember& m) {
  if (!m.format_known) return "unknown (" + m.format_error + ")";
  const audio::StreamFormat& f = m.format;
  std::string s = f.codec;
  if (!f.lossless && f.bit_rate > 0) s += " " + std::to_string((f.bit_rate + 500) / 1000) + " kb/s";
  if (f.sample_rate > 0) s += " " + khz(f.sample_rate);
  if (f.lossless && f.bits_per_sample > 0) s += " " + std::to_string(f.bits_per_sample) + "-bit";
  if (f.channels == 1) s += " mono";
  else if (f.channels == 2) s += " stereo";
  else if (f.channels > 2) s += " " + std::to_string(f.channels) + " ch";
  return s;
}

std::vector<DuplicateGroup> find_duplicates(const LibrarySnapshot& snap, const search::DuplicateOptions& options,
                                            const std::vector<int64_t>& of,
                                            const std::function<void(int64_t, int64_t)>& progress) {
  if (!snap.searchable()) return {};
  const std::vector<search::DuplicatePair> pairs = pairs_around(snap, options, of, progress);
  const Embeddings& tracks = snap.track_embeddings();
  std::vector<DuplicateGroup> groups;
  for (const std::vector<int64_t>& ids : search::group_pairs(pairs)) {
    DuplicateGroup g;
    for (int64_t id : ids) {
      DuplicateMember m;
      m.track_id = id;
      const store::Track* t = snap.track(id);
      m.duration_s = t ? t->duration_s : 0;
      try {
        if (!t) throw Error("track " + std::to_string(id) + " is no longer in the index");
        m.format = audio::read_format(t->path);
        m.format_known = true;
      } catch (const Error& e) {
        m.format_error = e.what();
      }
      g.members.push_back(std::move(m));
    }
    std::sort(g.members.begin(), g.members.end(), better_copy);
    g.members.front().keeper = true;
    std::sort(g.members.begin() + 1, g.members.end(),
              [](const DuplicateMember& a, const DuplicateMember& b) { return a.track_id < b.track_id; });
    const int64_t keeper = g.members.front().track_id;
    const search::Catalog& catalog = snap.catalog();
    for (size_t i = 1; i < g.members.size(); ++i) {
      DuplicateMember& m = g.members[i];
      m.score = cosine_of(tracks, keeper, m.track_id);
      const search::Alignment a =
          search::align_tracks(catalog, catalog.track_index(keeper), catalog.track_index(m.track_id), snap.identity().hop_s);
      m.aligned = a.measurable ? a.aligned : -1;
      m.offset_s = a.measurable ? a.offset_s : 0;
    }
    for (const auto& p : pairs)
      if (std::binary_search(ids.begin(), ids.end(), p.a)) g.pairs.push_back(p);
    groups.push_back(std::move(g));
  }
  return groups;
}

std::map<int64_t, size_t> group_index(const std::vector<DuplicateGroup>& groups) {
  std::map<int64_t, size_t> index;
  for (size_t g = 0; g < groups.size(); ++g)
    for (const auto& m : groups[g].members) index[m.track_id] = g;
  return index;
}

int64_t results_before_collapse(int64_t k) { return k <= 0 ? 0 : k * 4 + 16; }

std::vector<CollapsedEntry> collapse_duplicates(const LibrarySnapshot& snap, const std::vector<int64_t>& ranked,
                                                size_t limit, const search::DuplicateOptions& options) {
  // Groups of the tracks that could be shown (limit entries need at most the whole list).
  const std::vector<DuplicateGroup> groups = find_duplicates(snap, options, ranked);
  const std::map<int64_t, size_t> group_of = group_index(groups);
  std::map<int64_t, size_t> position;
  for (size_t i = 0; i < ranked.size(); ++i) position.emplace(ranked[i], i);

  std::vector<CollapsedEntry> out;
  std::set<const DuplicateGroup*> shown;
  for (size_t i = 0; i < ranked.size() && (limit == 0 || out.size() < limit); ++i) {
    auto it = group_of.find(ranked[i]);
    if (it == group_of.end()) {
      out.push_back({i, {}});
      continue;
    }
    const DuplicateGroup* g = &groups[it->second];
    if (!shown.insert(g).second) continue;
    const auto keeper = position.find(g->members.front().track_id);
    CollapsedEntry e;
    e.position = keeper != position.end() ? keeper->second : i;
    for (const auto& m : g->members)
      if (m.track_id != ranked[e.position]) e.copies.push_back(m.track_id);
    std::sort(e.copies.begin(), e.copies.end());
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace clap::service
