// What an index holds, read for comparison: every track by path with its windows (as stored,
// embeddings bit for bit), its track embedding and fingerprint. Window and track ids are left
// out: they follow the order rows were written in, which progressive indexing changes.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "store/store.h"

namespace clap::test {

struct TrackState {
  store::Track track;  // as read (window_count, window_total filled)
  std::vector<store::WindowRecord> windows;  // by idx
  std::vector<float> embedding;              // the track embedding (empty = none)
  std::vector<uint32_t> fingerprint;
};

std::map<std::string, TrackState> index_state(const std::string& db);

// "" when `a` and `b` hold the same tracks with the same windows, embeddings (bit for bit),
// fingerprints, status and window totals; else the first differences, one a line.
std::string index_state_diff(const std::map<std::string, TrackState>& a, const std::map<std::string, TrackState>& b);

}  // namespace clap::test
