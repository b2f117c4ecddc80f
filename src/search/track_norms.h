// The per-track "centroid norms" of a compressed window index (service/compressed_windows.h)
// as a file: |mean of a track's windows| for every track, which the Mean aggregate's candidate
// selection needs and which only a scan of every window can measure, so a search node keeps it
// beside its compressed index instead of measuring it again at every start.
//
// File: a magic ("CLAPNRM1"), a little-endian uint32 header length, a JSON header (format,
// library generation, identity, trained windows, track count), the track ids (int64 LE,
// strictly ascending), the norms (float32 LE) and a checksum of ids and norms. Written beside
// the path and renamed over it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace clap::search {

struct TrackNorms {
  int64_t generation = 0;       // the library generation the norms hold
  std::string identity;         // what made the embeddings (the reader compares it)
  int64_t trained_windows = 0;  // windows of the library the compressed index was trained on
  std::vector<int64_t> ids;     // strictly ascending track ids
  std::vector<float> norms;     // one per id
};

// Throws clap::Error naming the file and the reason.
void save_track_norms(const std::string& path, const TrackNorms& norms);
// Throws clap::Error naming the file and the reason (missing, not a norms file, damaged).
TrackNorms load_track_norms(const std::string& path);

}  // namespace clap::search
