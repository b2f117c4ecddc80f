// A library whose answer is known, for the taste, mix, radio-for-me and history-evaluation tests
// (issue 55): tracks with synthetic embeddings written straight into an index (no model run):
// kClusterSize around one direction ("A": artists "Alpha 0..3", genre jazz), kClusterSize around
// another ("B": "Beta 0..3", metal), and kClusterSize scattered over other directions. The model's
// rankings mean nothing with random weights; these vectors are what the tests control.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "store/store.h"

namespace clap::test {

inline constexpr int kClusterSize = 20;

struct TasteLibrary {
  std::vector<int64_t> a, b, scattered;  // track ids, in the order written
  std::string path_of(int64_t id) const;  // ROOT/alpha/3.flac ... (no such file: only the index holds them)
  std::vector<std::string> paths;         // by position a, then b, then scattered
};

// Writes the tracks into the index at `location` (whose model identity is set, or set to
// `identity` when it has none), dim = the identity's. Deterministic (a fixed seed).
// The tracks' paths are `root`/alpha/N.flac, `root`/beta/N.flac, `root`/other/N.flac (no file).
TasteLibrary write_taste_library(const std::string& location, const store::ModelIdentity& identity,
                                 const std::string& root = "/synthetic");

// A user with plays: `plays` times each of `tracks`, the first at `last_at` (unix seconds), the
// others an hour apart backwards; returns the user's id (added when absent).
int64_t add_user_plays(store::Store& store, const std::string& user, const std::vector<int64_t>& tracks, int plays,
                       int64_t last_at, bool skipped = false, const std::string& source = "test");

}  // namespace clap::test
