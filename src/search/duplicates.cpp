#include "search/duplicates.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

#include "core/deadline.h"
#include "core/error.h"
#include "search/kernels.h"
#include "search/similar.h"

namespace clap::search {
namespace {

constexpr double kNone = std::numeric_limits<double>::infinity();
// The margin (kAlignMargin) keeps music whose windows are unrelated to each other (a sound-
// effects reel) from aligning by chance (measured: without it, random windows aligned 55-80 %).

// A track's windows on the hop grid: slot s holds the catalog row of the window starting at
// s·hop, or -1 (no window there, or a silent one: it has nothing to compare).
struct Grid {
  std::vector<int64_t> slots;
  int usable = 0;
};

Grid grid_of(const Catalog& catalog, int64_t track_index, double hop_s) {
  Grid g;
  for (int64_t row : catalog.rows(track_index)) {
    const auto slot = static_cast<int64_t>(std::llround(catalog.table().starts[row] / hop_s));
    if (slot < 0 || slot > 1'000'000) continue;  // not on a sane grid: ignore rather than allocate
    if (static_cast<int64_t>(g.slots.size()) <= slot) g.slots.resize(slot + 1, -1);
    if (!catalog.silent(row) && g.slots[slot] < 0) {
      g.slots[slot] = row;
      ++g.usable;
    }
  }
  return g;
}

// Cosine distances between the usable windows of two grids: d[i * nb + j] (kNone where a slot
// is empty).
std::vector<double> distances(const Catalog& catalog, const Grid& a, const Grid& b) {
  const size_t na = a.slots.size(), nb = b.slots.size();
  std::vector<int64_t> rows_b;
  for (int64_t r : b.slots) rows_b.push_back(r < 0 ? 0 : r);
  std::vector<float> dots(nb);
  std::vector<double> d(na * nb, kNone);
  for (size_t i = 0; i < na; ++i) {
    if (a.slots[i] < 0 || nb == 0) continue;
    score_rows(1, catalog.embedding(a.slots[i]), catalog.table().embeddings.data(), rows_b.data(),
               static_cast<int64_t>(nb), catalog.dim(), dots.data());
    for (size_t j = 0; j < nb; ++j)
      if (b.slots[j] >= 0) d[i * nb + j] = 1.0 - dots[j];
  }
  return d;
}

struct Direction {
  double aligned = -1;
  int64_t k = 0;
  double mean_distance = kNone;
  double bracket = kNone;      // mean of the distances at k and k+1 hops (rows with both)
  double offset_fraction = 0;  // where between k and k+1 hops the content sits
  int windows = 0;
};

// The best constant offset for a's windows in b (see the header for the rule).
Direction best_offset(const Grid& a, const Grid& b, const std::vector<double>& ab, const std::vector<double>& aa,
                      double min_coverage) {
  const auto na = static_cast<int64_t>(a.slots.size()), nb = static_cast<int64_t>(b.slots.size());
  auto at = [&](int64_t i, int64_t j) { return j >= 0 && j < nb ? ab[i * nb + j] : kNone; };
  // Each window's own reference: its distance to the song one hop earlier or later.
  std::vector<double> ref(static_cast<size_t>(na), kNone);
  for (int64_t i = 0; i < na; ++i) {
    if (a.slots[i] < 0) continue;
    if (i > 0) ref[i] = std::min(ref[i], aa[i * na + i - 1]);
    if (i + 1 < na) ref[i] = std::min(ref[i], aa[i * na + i + 1]);
  }
  const int needed = std::max(2, static_cast<int>(std::ceil(min_coverage * std::min(a.usable, b.usable) - 1e-9)));
  Direction best;
  for (int64_t k = -(na - 1); k < nb; ++k) {
    int compared = 0, aligned = 0, both = 0;
    double sum = 0, sum0 = 0, sum1 = 0;
    for (int64_t i = 0; i < na; ++i) {
      if (a.slots[i] < 0 || ref[i] == kNone) continue;
      const double d0 = at(i, i + k), d1 = at(i, i + k + 1);
      if (d0 == kNone && d1 == kNone) continue;
      const double d = std::min(d0, d1);
      ++compared;
      sum += d;
      if (d < kAlignMargin * ref[i]) ++aligned;
      if (d0 != kNone && d1 != kNone) {
        ++both;
        sum0 += d0;
        sum1 += d1;
      }
    }
    if (compared < needed) continue;
    const double share = static_cast<double>(aligned) / compared, mean = sum / compared;
    const double bracket = both > 0 ? (sum0 + sum1) / both : kNone;
    // Ties in the share go to the pair of offsets (k, k+1) that brackets the content best: the
    // true offset lies between the grid points whose windows are both near.
    if (std::tie(share, best.bracket, best.mean_distance) > std::tie(best.aligned, bracket, mean)) {
      best.aligned = share;
      best.k = k;
      best.mean_distance = mean;
      best.bracket = bracket;
      best.windows = compared;
      best.offset_fraction = both > 0 && sum0 + sum1 > 0 ? sum0 / (sum0 + sum1) : 0.0;
    }
  }
  return best;
}

}  // namespace

Alignment align_tracks(const Catalog& catalog, int64_t track_index_a, int64_t track_index_b, double hop_s,
                       double min_coverage) {
  if (!(hop_s > 0)) throw Error("align_tracks: the hop must be positive");
  const Grid a = grid_of(catalog, track_index_a, hop_s), b = grid_of(catalog, track_index_b, hop_s);
  Alignment out;
  if (a.usable < 2 || b.usable < 2) return out;
  const std::vector<double> ab = distances(catalog, a, b), ba = distances(catalog, b, a);
  const std::vector<double> aa = distances(catalog, a, a), bb = distances(catalog, b, b);
  const Direction forward = best_offset(a, b, ab, aa, min_coverage);
  const Direction backward = best_offset(b, a, ba, bb, min_coverage);
  if (forward.aligned < 0 || backward.aligned < 0) return out;
  out.measurable = true;
  out.aligned = std::min(forward.aligned, backward.aligned);
  out.windows = forward.windows;
  out.offset_s = hop_s * (static_cast<double>(forward.k) + forward.offset_fraction);
  return out;
}

const char* rule_name(DuplicateRule rule) {
  switch (rule) {
    case DuplicateRule::Identical: return "identical";
    case DuplicateRule::Fingerprint: return "fingerprint";
    case DuplicateRule::Windows: return "windows";
    case DuplicateRule::Threshold: return "threshold";
  }
  return "windows";
}

namespace {

// The groups of the pairs found so far (union-find over track ids): a track's copies that a
// query walks past without comparing them again.
class Links {
 public:
  int64_t root(int64_t x) {
    auto it = parent_.find(x);
    if (it == parent_.end()) return x;
    while (it->second != x) {
      const auto up = parent_.find(it->second);
      it->second = up->second;  // path halving
      x = it->second;
      it = parent_.find(x);
    }
    return x;
  }
  bool same(int64_t a, int64_t b) { return a == b || root(a) == root(b); }
  void join(int64_t a, int64_t b) {
    parent_.try_emplace(a, a);
    parent_.try_emplace(b, b);
    const int64_t ra = root(a), rb = root(b);
    if (ra == rb) return;
    const int64_t small = std::min(ra, rb), big = std::max(ra, rb);
    parent_[big] = small;
    size_[small] = size(small) + size(big);
    size_.erase(big);
  }
  int64_t size(int64_t x) {
    const auto it = size_.find(root(x));
    return it == size_.end() ? 1 : it->second;
  }

 private:
  std::map<int64_t, int64_t> parent_;
  std::map<int64_t, int64_t> size_;  // root -> members
};

}  // namespace

std::vector<DuplicatePair> find_duplicate_pairs(const Catalog& catalog, const Embeddings& tracks,
                                                const std::function<double(int64_t)>& duration_of, double hop_s,
                                                const DuplicateOptions& options, const FingerprintLookup& fingerprint_of,
                                                const std::vector<int64_t>& of,
                                                const std::function<void(int64_t, int64_t)>& progress,
                                                const std::vector<std::pair<int64_t, int64_t>>& known) {
  tracks.check("duplicates");
  if (!(options.min_duration_ratio >= 0 && options.min_duration_ratio <= 1))
    throw Error("duplicates: the duration ratio must be between 0 and 1");
  std::vector<int64_t> queries = of.empty() ? tracks.ids : of;
  std::sort(queries.begin(), queries.end());
  queries.erase(std::unique(queries.begin(), queries.end()), queries.end());

  std::map<std::pair<int64_t, int64_t>, DuplicatePair> found;
  std::map<std::pair<int64_t, int64_t>, bool> examined;  // pair -> a duplicate
  Links links;
  for (const auto& [a, b] : known) links.join(a, b);
  std::map<int64_t, int64_t> row_of;
  for (int64_t i = 0; i < tracks.size(); ++i) row_of.emplace(tracks.ids[i], i);
  std::vector<int64_t> usable;
  for (int64_t a : queries)
    if (row_of.count(a)) usable.push_back(a);  // no embedding (an error or silent track): nothing to compare
  int64_t done = 0;
  // Whether the pair (a, b) is a duplicate by the rule (the header's order of evidence).
  const auto decide = [&](int64_t a, const Hit& h) {
    const auto key = std::minmax(a, h.id);
    const double db = duration_of(h.id), da = duration_of(a);
    const double longer = std::max(da, db), shorter = std::min(da, db);
    if (!(longer > 0) || shorter / longer < options.min_duration_ratio) return false;
    const int64_t ta = catalog.track_index(key.first), tb = catalog.track_index(key.second);
    if (ta < 0 || tb < 0) return false;
    DuplicatePair p;
    p.a = key.first;
    p.b = key.second;
    p.score = h.score;
    const std::vector<uint32_t>* fa = fingerprint_of ? fingerprint_of(p.a) : nullptr;
    const std::vector<uint32_t>* fb = fa ? fingerprint_of(p.b) : nullptr;
    if (fa && fb) p.fingerprint = match_fingerprints(*fa, *fb, options.min_coverage);
    bool duplicate;
    if (options.threshold > 0) {
      p.rule = DuplicateRule::Threshold;
      duplicate = h.score >= options.threshold;
    } else if (p.fingerprint.measurable) {
      p.rule = DuplicateRule::Fingerprint;
      duplicate = p.fingerprint.bit_error_rate <= kSameRecordingBitErrorRate;
    } else {
      p.rule = DuplicateRule::Windows;
      p.alignment = align_tracks(catalog, ta, tb, hop_s, options.min_coverage);
      duplicate = p.alignment.measurable && p.alignment.aligned >= options.min_aligned;
    }
    if (duplicate) found.emplace(key, p);
    return duplicate;
  };
  // A track's candidates are its `neighbours` nearest tracks that are not copies of it found
  // already (H14S-3): its copies do not use up the bound. With more than `neighbours` files of
  // one recording of one kind (300 MP3 re-encodes of a song in three bit-rate classes), each
  // file's nearest were files of its own kind, and the recording came out as one group per
  // kind. A track's walk goes down its ranking past the copies it finds, until `neighbours`
  // tracks that are not copies have been seen (or the library ends): for a track without copies
  // the candidates are the same as before. Each pair is decided once a call, and a copy found
  // before is walked past without a comparison.
  //
  // The rankings are asked for in blocks (one scan of the track matrix per block, on every
  // core; a query's list does not depend on its block): first `2 · neighbours` for every query
  // (a track with a few copies walks past them there), then, for the queries whose list held
  // too many copies, again with room for their copies found so far, doubled each round (at most
  // log2 of the library's size rounds; in practice one: the copies are known by then).
  const int64_t first_list = 2 * static_cast<int64_t>(std::max(options.neighbours, 0));
  constexpr int64_t kBlock = 256;
  constexpr int64_t kHitsABlock = int64_t{1} << 22;  // hits held at once (64 MiB)
  std::vector<int64_t> pending = usable;
  std::vector<float> block;
  for (int64_t asked = first_list, round = 0; !pending.empty(); ++round) {
    if (round > 0) {
      int64_t copies = 0;
      for (int64_t a : pending) copies = std::max(copies, links.size(a));
      asked = std::max(2 * asked, options.neighbours + copies);
    }
    const int64_t per_block = std::clamp<int64_t>(kHitsABlock / std::max<int64_t>(asked, 1), 1, kBlock);
    std::vector<int64_t> unfinished;
    for (size_t q = 0; q < pending.size(); q += static_cast<size_t>(per_block)) {
      if (round == 0 && progress) progress(done, static_cast<int64_t>(usable.size()));
      const size_t n = std::min(static_cast<size_t>(per_block), pending.size() - q);
      block.resize(n * static_cast<size_t>(tracks.dim));
      for (size_t i = 0; i < n; ++i)
        std::copy_n(tracks.row(row_of[pending[q + i]]), tracks.dim, block.data() + i * tracks.dim);
      const std::vector<std::vector<Hit>> lists =
          similar(tracks, static_cast<int64_t>(n), block.data(), pending.data() + q, asked);
      for (size_t i = 0; i < n; ++i) {
        if (round == 0) ++done;
        check_deadline("duplicates");
        const int64_t a = pending[q + i];
        int others = 0;
        for (const Hit& h : lists[i]) {
          if (others >= options.neighbours) break;
          if (links.same(a, h.id)) continue;  // a copy found before
          const auto key = std::minmax(a, h.id);
          auto decided = examined.find(key);
          if (decided == examined.end()) decided = examined.emplace(key, decide(a, h)).first;
          if (decided->second) links.join(a, h.id);
          else ++others;
        }
        // Not `neighbours` other recordings yet, and the ranking has more tracks: further down.
        if (others < options.neighbours && static_cast<int64_t>(lists[i].size()) >= asked) unfinished.push_back(a);
      }
    }
    pending = std::move(unfinished);
  }
  if (progress) progress(done, static_cast<int64_t>(usable.size()));
  std::vector<DuplicatePair> out;
  for (auto& [key, p] : found) out.push_back(p);
  return out;
}

std::vector<std::vector<int64_t>> group_pairs(const std::vector<DuplicatePair>& pairs) {
  std::map<int64_t, int64_t> parent;
  auto root = [&](int64_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (const auto& p : pairs) {
    parent.try_emplace(p.a, p.a);
    parent.try_emplace(p.b, p.b);
    const int64_t ra = root(p.a), rb = root(p.b);
    if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
  }
  std::map<int64_t, std::vector<int64_t>> groups;
  for (auto& [id, unused] : parent) groups[root(id)].push_back(id);
  std::vector<std::vector<int64_t>> out;
  for (auto& [r, members] : groups) out.push_back(members);  // members ascending: map order
  return out;
}

}  // namespace clap::search
