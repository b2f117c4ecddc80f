#include "search/overlaps.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>

#include "core/error.h"
#include "core/vector_math.h"
#include "search/duplicates.h"

namespace clap::search {
namespace {

constexpr double kNone = std::numeric_limits<double>::infinity();

struct Match {
  int64_t slot_a = 0, row_a = 0, row_b = 0;
  double score = 0;
};

int64_t slot_of(const Catalog& c, int64_t row, double hop_s) {
  return static_cast<int64_t>(std::llround(c.table().starts[row] / hop_s));
}

// Chains of matches with consecutive slots of a (one missing slot bridged inside a chain); the
// matches are sorted by slot and hold at most one per slot.
std::vector<std::vector<Match>> chains_of(const std::vector<Match>& matches) {
  std::vector<std::vector<Match>> chains;
  for (const Match& m : matches) {
    if (chains.empty() || m.slot_a - chains.back().back().slot_a > 2) chains.emplace_back();
    chains.back().push_back(m);
  }
  // A bridged gap must be inside a chain: a lone match beyond a gap at either end is more
  // likely chance than the passage going on.
  for (auto& c : chains) {
    while (c.size() >= 2 && c[c.size() - 1].slot_a - c[c.size() - 2].slot_a > 1) c.pop_back();
    while (c.size() >= 2 && c[1].slot_a - c[0].slot_a > 1) c.erase(c.begin());
  }
  return chains;
}

}  // namespace

std::vector<Overlap> find_overlaps(const Catalog& catalog, const VectorIndex& index, double hop_s, double window_s,
                                   const OverlapOptions& options, const std::vector<int64_t>& of,
                                   const std::function<void(int64_t, int64_t)>& progress) {
  if (!(hop_s > 0) || !(window_s > 0)) throw Error("overlaps: the window and hop must be positive");
  if (options.neighbours < 1) throw Error("overlaps: at least one neighbour per window");
  const bool every_track = of.empty();
  std::vector<int64_t> queries = every_track ? catalog.track_ids() : of;
  std::sort(queries.begin(), queries.end());
  queries.erase(std::unique(queries.begin(), queries.end()), queries.end());
  const int dim = catalog.dim();
  std::vector<Overlap> out;
  int64_t done = 0;
  for (int64_t a : queries) {
    if (progress) progress(done, static_cast<int64_t>(queries.size()));
    ++done;
    const int64_t ta = catalog.track_index(a);
    if (ta < 0) continue;
    // a's usable windows by slot, and each one's reference: the song itself one hop on.
    std::map<int64_t, int64_t> row_at;
    for (int64_t row : catalog.rows(ta))
      if (!catalog.silent(row)) row_at.emplace(slot_of(catalog, row, hop_s), row);
    std::vector<int64_t> rows;
    std::vector<double> ref;
    for (const auto& [slot, row] : row_at) {
      double r = kNone;
      for (int64_t next : {slot - 1, slot + 1})
        if (auto it = row_at.find(next); it != row_at.end())
          r = std::min(r, 1.0 - dot(catalog.embedding(row), catalog.embedding(it->second), dim));
      if (r == kNone) continue;  // a window with no neighbour cannot be calibrated
      rows.push_back(row);
      ref.push_back(r);
    }
    if (rows.empty()) continue;
    std::vector<float> q(rows.size() * static_cast<size_t>(dim));
    for (size_t i = 0; i < rows.size(); ++i) std::copy_n(catalog.embedding(rows[i]), dim, q.data() + i * dim);
    const SearchResult found =
        index.search(static_cast<int64_t>(rows.size()), q.data(), options.neighbours, options.search);

    // Matches per (other track, offset in hops).
    std::map<std::pair<int64_t, int64_t>, std::vector<Match>> by_offset;
    for (size_t i = 0; i < rows.size(); ++i) {
      const int64_t slot_a = slot_of(catalog, rows[i], hop_s);
      for (int64_t n = 0; n < found.k; ++n) {
        const int64_t window_id = found.ids_row(static_cast<int64_t>(i))[n];
        if (window_id < 0) break;
        const int64_t row_b = catalog.row_of_window(window_id);
        if (row_b < 0) continue;
        const int64_t b = catalog.track_ids()[catalog.track_index_of_row(row_b)];
        if (b == a || (every_track && b < a)) continue;
        const double score = found.scores_row(static_cast<int64_t>(i))[n];
        if (!(1.0 - score < kAlignMargin * ref[i])) continue;
        by_offset[{b, slot_of(catalog, row_b, hop_s) - slot_a}].push_back({slot_a, rows[i], row_b, score});
      }
    }
    // Chains along each offset, bracketed with the next one (a copy that sits between two grid
    // points matches the two alternately): the best match per slot of a.
    std::vector<Overlap> mine;
    for (const auto& [key, matches] : by_offset) {
      const auto& [b, k] = key;
      std::map<int64_t, Match> best;
      auto take = [&](const std::vector<Match>& ms) {
        for (const Match& m : ms) {
          auto [it, fresh] = best.emplace(m.slot_a, m);
          if (!fresh && m.score > it->second.score) it->second = m;
        }
      };
      take(matches);
      if (auto next = by_offset.find({b, k + 1}); next != by_offset.end()) take(next->second);
      std::vector<Match> sorted;
      for (auto& [slot, m] : best) sorted.push_back(m);
      for (const auto& chain : chains_of(sorted)) {
        const auto& t = catalog.table();
        const double a_start = t.starts[chain.front().row_a], a_end = t.ends[chain.back().row_a];
        if (a_end - a_start + 1e-9 < options.min_length_s) continue;
        // Enough evidence: at least three matched windows, and most of the stretch matched
        // (chance matches between unrelated windows come one or two at a time).
        const int64_t span = chain.back().slot_a - chain.front().slot_a + 1;
        if (chain.size() < 3 || static_cast<double>(chain.size()) < 0.75 * static_cast<double>(span)) continue;
        Overlap o;
        o.track_a = a;
        o.track_b = b;
        o.a_start = a_start;
        o.a_end = a_end;
        o.b_start = t.starts[chain.front().row_b];
        o.b_end = t.ends[chain.back().row_b];
        double sum = 0;
        for (const Match& m : chain) sum += m.score;
        o.windows = static_cast<int>(chain.size());
        o.score = sum / o.windows;
        mine.push_back(o);
      }
    }
    // One passage per stretch: a chain that mostly overlaps a better-matching one of the same
    // pair is the same passage seen from a neighbouring offset (a bracketed view that picked
    // up a chance match at an end scores lower than the clean one).
    std::sort(mine.begin(), mine.end(), [](const Overlap& x, const Overlap& y) {
      return std::make_tuple(-x.score, -(x.a_end - x.a_start), x.track_b, x.a_start) <
             std::make_tuple(-y.score, -(y.a_end - y.a_start), y.track_b, y.a_start);
    });
    std::vector<Overlap> kept;
    for (const Overlap& o : mine) {
      bool inside = false;
      for (const Overlap& k : kept) {
        if (k.track_b != o.track_b) continue;
        const double common = std::min(k.a_end, o.a_end) - std::max(k.a_start, o.a_start);
        if (common > 0.5 * (o.a_end - o.a_start)) inside = true;
      }
      if (!inside) kept.push_back(o);
    }
    std::sort(kept.begin(), kept.end(), [](const Overlap& x, const Overlap& y) {
      return std::make_tuple(-x.score, x.track_b, x.a_start) < std::make_tuple(-y.score, y.track_b, y.a_start);
    });
    out.insert(out.end(), kept.begin(), kept.end());
  }
  if (progress) progress(done, static_cast<int64_t>(queries.size()));
  return out;
}

}  // namespace clap::search
