#include "service/diversity.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "core/deadline.h"
#include "core/error.h"
#include "core/vector_math.h"
#include "service/duplicates.h"

namespace clap::service {

int64_t results_before_diversity(int64_t k) { return k <= 0 ? 0 : std::max<int64_t>(4 * k, k + 40); }

void check_diversity(double d) {
  if (!(d >= 0 && d <= 1)) throw InvalidArgument("diversity: must be a number from 0 (pure relevance) to 1");
}

std::vector<size_t> diversify_order(const LibrarySnapshot& snap, const std::vector<int64_t>& ids,
                                    const std::vector<double>& relevance, int64_t k, double d) {
  check_diversity(d);
  const size_t n = ids.size();
  const size_t want = k > 0 ? std::min(n, static_cast<size_t>(k)) : n;
  // Copies of one recording among the candidates: the first listed stands for its group.
  const std::map<int64_t, size_t> group_of = group_index(find_duplicates(snap, {}, ids, {}, nullptr, /*measure_bands=*/false));
  // The candidates' track embeddings (memory: the snapshot's; compressed: read from the store).
  std::vector<std::vector<float>> rows(n);
  if (d > 0) {
    const Embeddings read = snap.compressed() ? snap.window_source().track_embeddings(ids) : Embeddings{};
    const Embeddings& emb = snap.compressed() ? read : snap.track_embeddings();
    for (size_t i = 0; i < n; ++i)
      if (const int64_t r = emb.find(ids[i]); r >= 0) rows[i].assign(emb.row(r), emb.row(r) + emb.dim);
  }
  std::vector<size_t> out;
  std::vector<bool> taken(n, false);
  std::set<size_t> groups;
  std::vector<double> closest(n, -std::numeric_limits<double>::infinity());  // max cos to a listed track
  while (out.size() < want) {
    check_deadline("diversity");
    size_t best = n;
    double best_value = 0;
    for (size_t i = 0; i < n; ++i) {
      if (taken[i]) continue;
      if (auto g = group_of.find(ids[i]); g != group_of.end() && groups.count(g->second)) {
        taken[i] = true;  // a copy of a recording already listed
        continue;
      }
      const double penalty = out.empty() || rows[i].empty() ? 0.0 : closest[i];
      const double value = (1 - d) * relevance[i] - d * penalty;
      if (best == n || value > best_value) {  // strictly greater: ties keep the earlier rank
        best = i;
        best_value = value;
      }
    }
    if (best == n) break;
    taken[best] = true;
    out.push_back(best);
    if (auto g = group_of.find(ids[best]); g != group_of.end()) groups.insert(g->second);
    if (d > 0 && !rows[best].empty())
      for (size_t i = 0; i < n; ++i)
        if (!taken[i] && !rows[i].empty())
          closest[i] = std::max(closest[i], static_cast<double>(dot(rows[best].data(), rows[i].data(), rows[i].size())));
  }
  return out;
}

}  // namespace clap::service
