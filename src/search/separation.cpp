#include "search/separation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "core/vector_math.h"
#include "search/kernels.h"

namespace clap::search {

namespace {

constexpr double kUndefined = std::numeric_limits<double>::quiet_NaN();

// The items with a class, in item order.
std::vector<int64_t> classified(const std::vector<int>& classes, int64_t n) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < n && i < static_cast<int64_t>(classes.size()); ++i)
    if (classes[static_cast<size_t>(i)] >= 0) rows.push_back(i);
  return rows;
}

// The vote of the neighbours' classes (nearest first): most votes, a tie to the class met first.
int vote(const std::vector<int>& neighbour_classes) {
  std::map<int, int> votes;
  for (int c : neighbour_classes) ++votes[c];
  int best = -1, best_votes = 0;
  for (int c : neighbour_classes)  // nearest first: the first class reaching the top count wins a tie
    if (votes[c] > best_votes) best = c, best_votes = votes[c];
  return best;
}

// Whether query q's k nearest other items vote for its own class. keys[j]: the distance of
// item j from q (smaller = nearer; equal keys in item order).
bool knn_hit(const std::vector<double>& keys, int64_t q, const std::vector<int64_t>& items, const std::vector<int>& classes,
             int64_t k, std::vector<int64_t>& order, std::vector<int>& neighbour_classes) {
  const int64_t m = static_cast<int64_t>(items.size());
  order.clear();
  for (int64_t j = 0; j < m; ++j)
    if (j != q) order.push_back(j);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
    return keys[static_cast<size_t>(a)] != keys[static_cast<size_t>(b)] ? keys[static_cast<size_t>(a)] < keys[static_cast<size_t>(b)]
                                                                       : a < b;
  });
  neighbour_classes.clear();
  for (int64_t r = 0; r < k; ++r) neighbour_classes.push_back(classes[static_cast<size_t>(items[order[r]])]);
  return vote(neighbour_classes) == classes[static_cast<size_t>(items[q])];
}

}  // namespace

double knn_accuracy_cosine(const float* rows, int64_t n, int dim, const std::vector<int>& classes, int k) {
  const std::vector<int64_t> items = classified(classes, n);
  const int64_t m = static_cast<int64_t>(items.size());
  if (m < 2 || k < 1) return kUndefined;
  const int64_t kk = std::min<int64_t>(k, m - 1);
  std::vector<float> gathered(static_cast<size_t>(m) * dim);
  for (int64_t i = 0; i < m; ++i)
    std::copy(rows + items[i] * dim, rows + (items[i] + 1) * dim, gathered.begin() + i * dim);
  // Cosines one block of queries at a time (memory stays block × m), each one clap::dot
  // (score_rows: the same bits whatever the threads).
  constexpr int64_t kBlock = 256;
  std::vector<float> sims(static_cast<size_t>(std::min(kBlock, m) * m));
  std::vector<double> keys(static_cast<size_t>(m));
  std::vector<int64_t> order;
  std::vector<int> neighbour_classes;
  int64_t correct = 0;
  for (int64_t b = 0; b < m; b += kBlock) {
    const int64_t nb = std::min(kBlock, m - b);
    score_rows(nb, gathered.data() + b * dim, gathered.data(), nullptr, m, dim, sims.data());
    for (int64_t q = b; q < b + nb; ++q) {
      for (int64_t j = 0; j < m; ++j) keys[static_cast<size_t>(j)] = -static_cast<double>(sims[static_cast<size_t>((q - b) * m + j)]);
      if (knn_hit(keys, q, items, classes, kk, order, neighbour_classes)) ++correct;
    }
  }
  return static_cast<double>(correct) / static_cast<double>(m);
}

double knn_accuracy_2d(const double* x, const double* y, int64_t n, const std::vector<int>& classes, int k) {
  const std::vector<int64_t> items = classified(classes, n);
  const int64_t m = static_cast<int64_t>(items.size());
  if (m < 2 || k < 1) return kUndefined;
  const int64_t kk = std::min<int64_t>(k, m - 1);
  std::vector<double> keys(static_cast<size_t>(m));
  std::vector<int64_t> order;
  std::vector<int> neighbour_classes;
  int64_t correct = 0;
  for (int64_t q = 0; q < m; ++q) {
    for (int64_t j = 0; j < m; ++j) {
      const double dx = x[items[j]] - x[items[q]], dy = y[items[j]] - y[items[q]];
      keys[static_cast<size_t>(j)] = dx * dx + dy * dy;
    }
    if (knn_hit(keys, q, items, classes, kk, order, neighbour_classes)) ++correct;
  }
  return static_cast<double>(correct) / static_cast<double>(m);
}

double nearest_anchor_accuracy(const float* rows, int64_t n, int dim, const std::vector<int>& classes,
                               const float* anchors, int n_classes) {
  const std::vector<int64_t> items = classified(classes, n);
  if (items.empty() || n_classes < 1) return kUndefined;
  int64_t correct = 0;
  for (int64_t i : items) {
    int best = 0;
    float best_sim = dot(rows + i * dim, anchors, dim);
    for (int c = 1; c < n_classes; ++c) {
      const float s = dot(rows + i * dim, anchors + static_cast<int64_t>(c) * dim, dim);
      if (s > best_sim) best = c, best_sim = s;
    }
    if (best == classes[static_cast<size_t>(i)]) ++correct;
  }
  return static_cast<double>(correct) / static_cast<double>(items.size());
}

double majority_share(const std::vector<int>& classes) {
  std::map<int, int64_t> counts;
  int64_t m = 0, top = 0;
  for (int c : classes)
    if (c >= 0) top = std::max(top, ++counts[c]), ++m;
  return m == 0 ? kUndefined : static_cast<double>(top) / static_cast<double>(m);
}

}  // namespace clap::search
