// How well a set of points keeps its classes apart: the figures `clapsearch map` prints under
// each panel. Every figure is over the items with a class only (class index >= 0) and is NaN
// when it is not defined (fewer than two such items, or no anchors); each is deterministic
// (ties broken by a fixed rule, no random numbers).
#pragma once
#include <cstdint>
#include <vector>

namespace clap::search {

// Leave-one-out k-nearest-neighbour class accuracy: each item's k nearest other items (k is
// cut to the number of other items) vote, one vote each; the class with the most votes wins,
// and a tie goes to the tied class whose member is nearest. The share of items whose winner is
// their own class. Neighbours at equal distance are taken in item order.
//   knn_accuracy_cosine: n unit vectors (n × dim, row-major), nearest = largest clap::dot.
//   knn_accuracy_2d:     n points (x[i], y[i]), nearest = smallest euclidean distance.
double knn_accuracy_cosine(const float* rows, int64_t n, int dim, const std::vector<int>& classes, int k);
double knn_accuracy_2d(const double* x, const double* y, int64_t n, const std::vector<int>& classes, int k);

// Zero-shot accuracy against class anchors (one unit vector per class, n_classes × dim, row c
// for class c): the share of items whose most similar anchor (largest clap::dot; a tie goes to
// the lower class index) is their own class.
double nearest_anchor_accuracy(const float* rows, int64_t n, int dim, const std::vector<int>& classes,
                               const float* anchors, int n_classes);

// Chance: the share of the most frequent class (what always guessing it scores).
double majority_share(const std::vector<int>& classes);

}  // namespace clap::search
