#include "service/diversity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "core/deadline.h"
#include "core/embedding_rows.h"
#include "core/error.h"
#include "core/vector_math.h"
#include "service/duplicates.h"

namespace clap::service {

int64_t results_before_diversity(int64_t k) { return k <= 0 ? 0 : std::max<int64_t>(4 * k, k + 40); }

std::string short_list_note(size_t listed, int64_t k) {
  if (k <= 0 || static_cast<int64_t>(listed) >= k) return {};
  return std::to_string(listed) + " of the " + std::to_string(k) +
         " tracks asked for: the index has no more different recordings that match (copies of one recording are "
         "listed once, and copies of the query's own tracks not at all)";
}

void check_diversity(double d) {
  if (!(d >= 0 && d <= 1)) {
    char got[32];
    std::snprintf(got, sizeof got, "%g", d);
    throw InvalidArgument(std::string("--diversity: must be between 0 (pure relevance) and 1, got ") + got);
  }
}

// RequestCopies::cover is in duplicates.cpp (beside pairs_around).

int64_t RequestCopies::group(int64_t id) const {
  const auto g = group_of_.find(id);
  return g == group_of_.end() ? -1 : g->second;
}

std::vector<int64_t> RequestCopies::copies_of(int64_t id) const {
  const int64_t g = group(id);
  return g < 0 ? std::vector<int64_t>{id} : members_.at(g);
}

int64_t RequestCopies::join(int64_t a, int64_t b) {
  int64_t into = group(b);
  if (into < 0) {
    into = next_group_++;
    members_[into] = {b};
    group_of_[b] = into;
  }
  const int64_t from = group(a);
  if (from == into) return into;
  std::vector<int64_t> moved{a};
  if (from >= 0) {
    moved = std::move(members_.at(from));
    members_.erase(from);
  }
  std::vector<int64_t>& members = members_.at(into);
  for (int64_t id : moved) {
    group_of_[id] = into;
    members.push_back(id);
  }
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  return into;
}

RecordingPrints& RequestCopies::prints(const LibrarySnapshot& snap) {
  if (!prints_) prints_ = std::make_unique<RecordingPrints>(snap, recording_work_);
  return *prints_;
}

std::vector<size_t> diversify_order(const LibrarySnapshot& snap, const std::vector<int64_t>& ids,
                                    const std::vector<double>& relevance, int64_t k, double d,
                                    const std::vector<int64_t>& listed, RequestCopies* request_copies) {
  check_diversity(d);
  const size_t n = ids.size();
  const size_t want = k > 0 ? std::min(n, static_cast<size_t>(k)) : n;
  // Copies of one recording among the candidates (and the query's own tracks): the first listed
  // stands for its group, and a group of the query's tracks is listed already. Only the groups
  // are used: no copy's band is measured (duplicates.h).
  std::vector<int64_t> scanned = ids;
  scanned.insert(scanned.end(), listed.begin(), listed.end());
  RequestCopies own;
  RequestCopies& copies = request_copies ? *request_copies : own;
  copies.cover(snap, scanned);
  // The candidates' track embeddings (memory: the snapshot's; compressed: read from the store).
  std::vector<std::vector<float>> rows(n);
  if (d > 0) {
    const Embeddings read = snap.compressed() ? snap.window_source().track_embeddings(ids) : Embeddings{};
    const Embeddings& emb = snap.compressed() ? read : snap.track_embeddings();
    for (size_t i = 0; i < n; ++i)
      if (const int64_t r = find_row(emb, ids[i]); r >= 0) rows[i].assign(emb.row(r), emb.row(r) + emb.dim);
  }
  std::vector<size_t> out;
  std::vector<bool> taken(n, false);
  std::set<int64_t> groups;
  for (const int64_t id : listed)
    if (const int64_t g = copies.group(id); g >= 0) groups.insert(g);
  // The recordings listed (the query's own tracks first): a taken candidate that is a copy of one
  // by identity or fingerprint, though in another group (H14S-4), joins that one's group.
  Recordings held(&copies.prints(snap));
  for (const int64_t id : listed)
    if (const store::Track* t = snap.track(id)) held.hold(*t);
  std::vector<double> closest(n, -std::numeric_limits<double>::infinity());  // max cos to a listed track
  while (out.size() < want) {
    check_deadline("diversity");
    size_t best = n;
    double best_value = 0;
    for (size_t i = 0; i < n; ++i) {
      if (taken[i]) continue;
      if (const int64_t g = copies.group(ids[i]); g >= 0 && groups.count(g)) {
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
    if (const store::Track* t = snap.track(ids[best])) {
      if (const int64_t same = held.copy_of(*t); same >= 0) {
        groups.insert(copies.join(ids[best], same));  // the rest of its group is skipped by number
        continue;
      }
      held.hold(*t);
    }
    out.push_back(best);
    if (const int64_t g = copies.group(ids[best]); g >= 0) groups.insert(g);
    if (d > 0 && !rows[best].empty())
      for (size_t i = 0; i < n; ++i)
        if (!taken[i] && !rows[i].empty())
          closest[i] = std::max(closest[i], static_cast<double>(dot(rows[best].data(), rows[i].data(), rows[i].size())));
  }
  return out;
}

}  // namespace clap::service
