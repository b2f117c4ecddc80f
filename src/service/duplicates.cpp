#include "service/duplicates.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include "audio/fingerprint.h"
#include "core/deadline.h"
#include "core/embedding_rows.h"
#include "core/error.h"
#include "core/vector_math.h"
#include "service/diversity.h"
#include "store/rows.h"

namespace clap::service {
namespace {

double cosine_of(const Embeddings& tracks, int64_t a, int64_t b) {
  const int64_t ra = find_row(tracks, a), rb = find_row(tracks, b);
  if (ra < 0 || rb < 0) return 0;
  return dot(tracks.row(ra), tracks.row(rb), tracks.dim);  // the kernel every printed score comes from
}

// Indexed tracks with the same bytes, by content hash (groups of two or more, ids ascending).
// Identical content is always a duplicate, however short: the window rule needs two windows.
std::map<std::string, std::vector<int64_t>> identical_content(const LibrarySnapshot& snap) {
  std::map<std::string, std::vector<int64_t>> by_hash;
  for (const store::Track& t : snap.tracks())
    if (t.status == store::TrackStatus::Ok && !t.content_hash.empty()) by_hash[t.content_hash].push_back(t.id);
  std::erase_if(by_hash, [](const auto& entry) { return entry.second.size() < 2; });
  for (auto& [hash, ids] : by_hash) std::sort(ids.begin(), ids.end());
  return by_hash;
}

// Files with the same bytes have the same embeddings, windows and fingerprints, so one of them
// (the smallest id, the "representative") stands for all in every comparison with other tracks:
// the work of a scan grows with the number of different recordings, not with the number of
// copies (issue 53, M9: 2,306 copies of one file made `path` take minutes, as every copy was
// compared with every other). The copies join their representative's group afterwards.
struct IdenticalCopies {
  std::map<std::string, std::vector<int64_t>> by_hash;
  std::map<int64_t, const std::vector<int64_t>*> group_of;  // every member -> its group

  explicit IdenticalCopies(const LibrarySnapshot& snap) : by_hash(identical_content(snap)) {
    for (const auto& [hash, ids] : by_hash)
      for (int64_t id : ids) group_of.emplace(id, &ids);
  }
  int64_t representative(int64_t id) const {
    const auto it = group_of.find(id);
    return it == group_of.end() ? id : it->second->front();
  }
  // The track embeddings without the copies that are not representatives (the snapshot's own
  // matrix when there are none): a representative's nearest tracks are then other recordings,
  // not its own copies (with more than DuplicateOptions::neighbours copies, they used to fill
  // every neighbour list, and a re-encode of the file was never found).
  const Embeddings& searched(const Embeddings& tracks) {
    if (group_of.empty()) return tracks;
    if (reduced_.dim == 0) {
      reduced_.dim = tracks.dim;
      for (int64_t r = 0; r < tracks.size(); ++r)
        if (representative(tracks.ids[r]) == tracks.ids[r]) {
          reduced_.ids.push_back(tracks.ids[r]);
          reduced_.data.insert(reduced_.data.end(), tracks.row(r), tracks.row(r) + tracks.dim);
        }
    }
    return reduced_;
  }

 private:
  Embeddings reduced_;
};

// The tracks' fingerprints, read from the store the first time each is asked for.
class FingerprintCache {
 public:
  explicit FingerprintCache(const LibrarySnapshot& snap) : snap_(snap) {}
  const std::vector<uint32_t>* get(int64_t id) {
    auto it = cache_.find(id);
    if (it == cache_.end()) {
      auto read = snap_.fingerprints({id});
      it = cache_.emplace(id, read.count(id) ? std::move(read[id]) : std::vector<uint32_t>{}).first;
    }
    return it->second.empty() ? nullptr : &it->second;
  }
  search::FingerprintLookup lookup() {
    return [this](int64_t id) { return get(id); };
  }

 private:
  const LibrarySnapshot& snap_;
  std::map<int64_t, std::vector<uint32_t>> cache_;
};

// How `other` lines up with `first`: by their fingerprints when both have one, else by windows.
void measure(const LibrarySnapshot& snap, FingerprintCache& prints, search::DuplicatePair& p, double min_coverage,
             DuplicateWork* work) {
  check_deadline("duplicates");
  if (work) ++work->pairs_measured;
  const std::vector<uint32_t>* fa = prints.get(p.a);
  const std::vector<uint32_t>* fb = fa ? prints.get(p.b) : nullptr;
  if (fa && fb) p.fingerprint = search::match_fingerprints(*fa, *fb, min_coverage);
  if (p.fingerprint.measurable) return;
  const search::Catalog& catalog = snap.catalog();
  const int64_t ia = catalog.track_index(p.a), ib = catalog.track_index(p.b);
  // An identical copy may have no windows to align (a silent file).
  if (ia >= 0 && ib >= 0) p.alignment = search::align_tracks(catalog, ia, ib, snap.identity().hop_s);
}

// The pairs (first, other) of a group of identical files, scored like any other pair. The bytes
// are the same, so one measurement stands for every copy.
std::vector<search::DuplicatePair> identical_pairs(const LibrarySnapshot& snap, FingerprintCache& prints,
                                                   const std::vector<int64_t>& ids, DuplicateWork* work) {
  std::vector<search::DuplicatePair> out;
  if (ids.size() < 2) return out;
  search::DuplicatePair measured;
  measured.a = ids[0];
  measured.b = ids[1];
  measure(snap, prints, measured, search::DuplicateOptions{}.min_coverage, work);
  for (size_t i = 1; i < ids.size(); ++i) {
    search::DuplicatePair p = measured;
    p.b = ids[i];
    p.score = cosine_of(snap.track_embeddings(), ids[0], ids[i]);
    p.identical = true;
    p.rule = search::DuplicateRule::Identical;
    out.push_back(p);
  }
  return out;
}

// The confirmed pairs around `seeds` (every track when empty): their pairs by the window rule
// and by identical content, then their new partners' pairs, until the groups stop growing
// (copies of copies belong to the same group). Only representatives of identical files are
// compared with other tracks (IdenticalCopies).
std::vector<search::DuplicatePair> pairs_around(const LibrarySnapshot& snap, FingerprintCache& prints,
                                                const search::DuplicateOptions& options, std::vector<int64_t> seeds,
                                                const std::function<void(int64_t, int64_t)>& progress,
                                                DuplicateWork* work, const std::set<int64_t>* searched_before = nullptr,
                                                const std::vector<std::pair<int64_t, int64_t>>& known = {}) {
  const auto duration_of = [&snap](int64_t id) {
    const store::Track* t = snap.track(id);
    return t ? t->duration_s : 0.0;
  };
  const double hop = snap.identity().hop_s;
  IdenticalCopies identical(snap);
  const Embeddings& searched = identical.searched(snap.track_embeddings());
  std::map<std::pair<int64_t, int64_t>, search::DuplicatePair> all;
  // Each group of identical files joins (once) as its first id paired with every other.
  std::set<const std::vector<int64_t>*> joined;
  const auto add_identical = [&](const std::vector<int64_t>& ids) {
    if (!joined.insert(&ids).second) return;
    for (const search::DuplicatePair& p : identical_pairs(snap, prints, ids, work)) {
      auto& kept = all.try_emplace(std::make_pair(p.a, p.b), p).first->second;
      kept.identical = true;  // also when another rule found the pair first
      kept.rule = search::DuplicateRule::Identical;
    }
  };
  // A track's candidates lie outside the copies of it found so far (search/duplicates.h): the
  // pairs found before this call (`known`: an earlier request round's groups) and in its rounds.
  const auto find_pairs = [&](const std::vector<int64_t>& of, const std::function<void(int64_t, int64_t)>& report) {
    if (work) work->neighbour_queries += of.empty() ? searched.size() : static_cast<int64_t>(of.size());
    std::vector<std::pair<int64_t, int64_t>> links = known;
    for (const auto& [key, p] : all) links.push_back(key);
    return search::find_duplicate_pairs(snap.catalog(), searched, duration_of, hop, options, prints.lookup(), of, report,
                                        links);
  };
  if (seeds.empty()) {
    for (const auto& p : find_pairs({}, progress)) all.emplace(std::make_pair(p.a, p.b), p);
    for (const auto& [hash, ids] : identical.by_hash) add_identical(ids);
  }
  for (int64_t& id : seeds) id = identical.representative(id);
  std::sort(seeds.begin(), seeds.end());
  seeds.erase(std::unique(seeds.begin(), seeds.end()), seeds.end());
  std::set<int64_t> seen(seeds.begin(), seeds.end());
  // Tracks an earlier call searched (RequestCopies): their pairs are known; a pair with one of
  // them is found from the other side, and they are not searched again.
  if (searched_before)
    for (int64_t id : *searched_before) seen.insert(identical.representative(id));
  while (!seeds.empty()) {
    std::vector<int64_t> next;
    const auto reached = [&](int64_t id) {
      if (seen.insert(identical.representative(id)).second) next.push_back(identical.representative(id));
    };
    for (const auto& p : find_pairs(seeds, {})) {
      all.emplace(std::make_pair(p.a, p.b), p);
      reached(p.a);
      reached(p.b);
    }
    for (int64_t id : seeds)
      if (const auto group = identical.group_of.find(id); group != identical.group_of.end()) add_identical(*group->second);
    seeds = std::move(next);
  }
  std::vector<search::DuplicatePair> out;
  for (auto& [key, p] : all) out.push_back(p);
  return out;
}

// The sample rate from which a file holds the whole audible band (20 kHz): 44.1 and 48 kHz
// files count as equal in bandwidth, and then a lossless one is the better copy.
constexpr int kFullBandRate = 44100;

// Sort key of a copy's quality (greater is better), for better_copy. The bandwidth comes before
// the container: a FLAC made from a 22.05 kHz copy stops at 11 kHz and is worse than the
// 48 kHz AAC it was made from, and a FLAC made from a 128 kb/s MP3 stops where the MP3 does
// (about 16 kHz), below a full-band copy, and adds nothing to the MP3 it was made from (issue
// 53): the measured band (widest) first, then the header's.
auto quality(const DuplicateMember& m) {
  const audio::StreamFormat& f = m.format;
  const bool lossless = m.format_known && f.lossless;
  const int64_t band = m.format_known ? std::min<int64_t>(f.sample_rate, kFullBandRate) : -1;
  const int64_t primary = !m.format_known ? -1 : lossless ? int64_t{f.sample_rate} : f.bit_rate;
  const int64_t secondary = lossless ? int64_t{f.bits_per_sample} : int64_t{f.sample_rate};
  // The duration as audio can have it (store::known_duration_s): a stored 9e999 or 1e308 is hand
  // damage, which made that copy the "longer" keeper of identical files (hostile pass 17), and a
  // NaN in the key broke the sort's ordering.
  return std::make_tuple(m.format_known, m.widest, lossless && !m.lossy_source, !m.lossy_source, band, lossless, primary,
                         secondary, f.channels, store::known_duration_s(m.duration_s));
}

// A copy's band is "about the widest" within this share of the group's widest measured cut-off.
constexpr double kWidestShare = 0.9;

// DuplicateMember::widest and lossy_source from the measured bandwidths of a group's members.
void weigh_bandwidths(std::vector<DuplicateMember>& members) {
  double widest = 0;
  for (const DuplicateMember& m : members)
    if (m.format_known && m.bandwidth.measured) widest = std::max(widest, m.bandwidth.cutoff_hz);
  for (DuplicateMember& m : members) {
    if (!m.format_known || !m.bandwidth.measured) continue;
    m.widest = m.bandwidth.cutoff_hz >= kWidestShare * widest;
    // A lossy encoder's low-pass: an abrupt end well below what the file's rate holds.
    const double holds = std::min(m.bandwidth.nyquist_hz, 20000.0);
    m.lossy_source = m.format.lossless && m.bandwidth.cliff && m.bandwidth.cutoff_hz < kWidestShare * holds;
  }
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

double pair_offset_s(const search::DuplicatePair& p) {
  if (p.fingerprint.measurable) return p.fingerprint.offset_items * audio::fingerprint_item_seconds();
  return p.alignment.measurable ? p.alignment.offset_s : 0.0;
}

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
  if (m.lossy_source) s += ", made from a lossy copy (its audio stops at " + khz(static_cast<int>(m.bandwidth.cutoff_hz)) + ")";
  return s;
}

// service/diversity.h: here, beside pairs_around, which it calls with the tracks searched before.
void RequestCopies::cover(const LibrarySnapshot& snap, const std::vector<int64_t>& ids) {
  std::vector<int64_t> fresh;
  for (int64_t id : ids)
    if (!reached_.count(id)) fresh.push_back(id);
  std::sort(fresh.begin(), fresh.end());
  fresh.erase(std::unique(fresh.begin(), fresh.end()), fresh.end());
  if (fresh.empty() || !snap.searchable()) return;  // (pairs_around of no seed searches every track)
  FingerprintCache prints(snap);
  std::vector<std::pair<int64_t, int64_t>> known;  // the groups found before (and joined by diversity)
  for (const auto& [number, members] : members_)
    for (size_t i = 1; i < members.size(); ++i) known.emplace_back(members.front(), members[i]);
  const std::vector<search::DuplicatePair> pairs = pairs_around(snap, prints, {}, fresh, {}, work_, &reached_, known);
  reached_.insert(fresh.begin(), fresh.end());
  for (const std::vector<int64_t>& members : search::group_pairs(pairs)) {
    // A group reaching tracks of earlier groups (a pair with a track searched before) joins them.
    const int64_t number = next_group_++;
    std::vector<int64_t>& into = members_[number];
    for (int64_t id : members) {
      reached_.insert(id);
      const auto old = group_of_.find(id);
      if (old == group_of_.end()) {
        into.push_back(id);
        group_of_[id] = number;
      } else if (old->second != number) {
        const int64_t merged = old->second;
        for (int64_t m : members_[merged]) group_of_[m] = number, into.push_back(m);
        members_.erase(merged);
      }
    }
    std::sort(into.begin(), into.end());
    into.erase(std::unique(into.begin(), into.end()), into.end());
  }
}

std::vector<DuplicateGroup> find_duplicates(const LibrarySnapshot& snap, const search::DuplicateOptions& options,
                                            const std::vector<int64_t>& of,
                                            const std::function<void(int64_t, int64_t)>& progress, DuplicateWork* work,
                                            bool measure_bands) {
  if (!snap.searchable()) return {};
  FingerprintCache prints(snap);
  const std::vector<search::DuplicatePair> pairs = pairs_around(snap, prints, options, of, progress, work);
  const Embeddings& tracks = snap.track_embeddings();
  const std::vector<std::vector<int64_t>> grouped = search::group_pairs(pairs);
  std::map<int64_t, size_t> group_of_track;
  for (size_t g = 0; g < grouped.size(); ++g)
    for (int64_t id : grouped[g]) group_of_track.emplace(id, g);
  std::vector<DuplicateGroup> groups(grouped.size());
  for (const auto& p : pairs) groups[group_of_track.at(p.a)].pairs.push_back(p);
  for (size_t gi = 0; gi < grouped.size(); ++gi) {
    DuplicateGroup& g = groups[gi];
    // Files with the same bytes have the same header and line up with the keeper alike: each
    // is read and measured once per content (IdenticalCopies).
    struct Measured {
      audio::StreamFormat format;
      audio::Bandwidth bandwidth;
    };
    std::map<std::string, Measured> format_of_content;
    for (int64_t id : grouped[gi]) {
      check_deadline("duplicates");
      DuplicateMember m;
      m.track_id = id;
      const store::Track* t = snap.track(id);
      m.duration_s = t ? t->duration_s : 0;
      const auto known = t && !t->content_hash.empty() ? format_of_content.find(t->content_hash) : format_of_content.end();
      if (known != format_of_content.end()) {
        m.format = known->second.format;
        m.bandwidth = known->second.bandwidth;
        m.format_known = true;
      } else {
        try {
          if (!t) throw Error("track " + std::to_string(id) + " is no longer in the index");
          if (work) ++work->headers_read;
          m.format = audio::read_format(t->path);
          m.format_known = true;
          // A few seconds decoded (bounded work: once per content of a duplicate group).
          try {
            if (measure_bands) m.bandwidth = audio::measure_bandwidth(t->path);
          } catch (const Error&) {  // the header reads, the audio does not: the header decides
          }
          if (!t->content_hash.empty()) format_of_content[t->content_hash] = {m.format, m.bandwidth};
        } catch (const Error& e) {
          m.format_error = e.what();
        }
      }
      g.members.push_back(std::move(m));
    }
    weigh_bandwidths(g.members);
    std::sort(g.members.begin(), g.members.end(), better_copy);
    g.members.front().keeper = true;
    std::sort(g.members.begin() + 1, g.members.end(),
              [](const DuplicateMember& a, const DuplicateMember& b) { return a.track_id < b.track_id; });
    const int64_t keeper = g.members.front().track_id;
    std::map<std::string, search::DuplicatePair> measured_content;
    for (size_t i = 1; i < g.members.size(); ++i) {
      DuplicateMember& m = g.members[i];
      m.score = cosine_of(tracks, keeper, m.track_id);
      const store::Track* t = snap.track(m.track_id);
      const std::string content = t ? t->content_hash : std::string();
      auto done = content.empty() ? measured_content.end() : measured_content.find(content);
      if (done == measured_content.end()) {
        search::DuplicatePair p;
        p.a = keeper;
        p.b = m.track_id;
        measure(snap, prints, p, options.min_coverage, work);
        done = measured_content.emplace(content.empty() ? "#" + std::to_string(m.track_id) : content, p).first;
      }
      const search::DuplicatePair& p = done->second;
      m.offset_s = pair_offset_s(p);
      m.aligned = p.alignment.measurable ? p.alignment.aligned : -1;
      m.bit_error_rate = p.fingerprint.measurable ? p.fingerprint.bit_error_rate : -1;
    }
  }
  return groups;
}

std::vector<std::vector<int64_t>> copies_among(const LibrarySnapshot& snap, const std::vector<int64_t>& ids) {
  if (!snap.searchable() || ids.empty()) return {};
  std::vector<int64_t> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  const Embeddings& all = snap.track_embeddings();
  std::vector<search::DuplicatePair> pairs;
  // One file of each content is compared with the others (as IdenticalCopies does for the
  // library): its copies would otherwise fill its neighbour list; they join its group here.
  std::map<std::string, int64_t> first_of_content;
  Embeddings rows;
  rows.dim = all.dim;
  for (int64_t id : sorted) {
    const store::Track* t = snap.track(id);
    if (!t || t->status != store::TrackStatus::Ok) continue;
    if (!t->content_hash.empty()) {
      const auto [first, fresh] = first_of_content.emplace(t->content_hash, id);
      if (!fresh) {
        search::DuplicatePair p;
        p.a = first->second;
        p.b = id;
        p.identical = true;
        p.rule = search::DuplicateRule::Identical;
        pairs.push_back(p);
        continue;
      }
    }
    const int64_t r = find_row(all, id);
    if (r < 0) continue;  // no embedding (silent, an error): only identical bytes group it
    rows.ids.push_back(id);
    rows.data.insert(rows.data.end(), all.row(r), all.row(r) + all.dim);
  }
  if (rows.size() > 1) {
    FingerprintCache prints(snap);
    const auto duration_of = [&snap](int64_t id) {
      const store::Track* t = snap.track(id);
      return t ? t->duration_s : 0.0;
    };
    for (const search::DuplicatePair& p : search::find_duplicate_pairs(snap.catalog(), rows, duration_of, snap.identity().hop_s,
                                                                       {}, prints.lookup()))
      pairs.push_back(p);
  }
  return search::group_pairs(pairs);
}

std::vector<int64_t> identical_copies_of(const LibrarySnapshot& snap, const std::vector<int64_t>& ids) {
  std::set<std::string> contents;
  for (int64_t id : ids)
    if (const store::Track* t = snap.track(id); t && !t->content_hash.empty()) contents.insert(t->content_hash);
  std::vector<int64_t> out(ids.begin(), ids.end());
  if (!contents.empty())
    for (const store::Track& t : snap.tracks())
      if (t.status == store::TrackStatus::Ok && contents.count(t.content_hash)) out.push_back(t.id);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
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
