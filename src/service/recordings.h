// Copies of one recording in a list that must hold each recording once (the /api/sonic/ matches,
// Subsonic's similar songs and instant mixes, the picks of one radio fill). A list asks `held`
// before it takes a track and `hold`s the track it took. Two files are one recording when:
//   - the identities a media server or a player matches a song by say so: the content hash (the
//     same bytes), the MusicBrainz recording id, the ISRC, normalised as service/song_resolver.h
//     compares them: a set lookup per track;
//   - else (with a RecordingPrints) their acoustic fingerprints, stored by the indexer, say so by
//     the rule `duplicates` applies (search/duplicates.h: at most kSameRecordingBitErrorRate of
//     the bits differ at the best offset), so that a FLAC and an MP3 of one untagged recording
//     are one match. A track is compared only with the listed tracks of a similar length
//     (DuplicateOptions::min_duration_ratio) nearest it by track embedding, at most
//     DuplicateOptions::neighbours of them, as `duplicates` takes candidates: the work per track
//     is bounded whatever the list's length, and every pair is compared once per request.
//     Aligning two fingerprints is slow (every offset: ~8 ms for two 3-minute songs on the build
//     machine without POPCNT, ~1 ms with it, 0.1 ms with AVX-512: search/fingerprint_match.h), so it runs only for pairs whose fingerprints share a few exact items first (an
//     offset-free test, a merge of two sorted lists): copies of the fingerprint tests' 45 s songs
//     (MP3, AAC, Opus, 22 kHz mono, trimmed, faded, silence in front) share 14 or more distinct
//     items, different songs 2 at most.
// Tracks without a fingerprint long and varied enough to compare (under ~5 s, a steady tone, an
// index made before fingerprints were stored and not indexed since) are told by their
// identities alone; the window rule of `duplicates` is not run per request.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "service/library.h"
#include "store/store.h"

namespace clap::service {

// What the fingerprint rule did for one request (the tests hold it linear in the tracks examined).
struct RecordingWork {
  int64_t items_compared = 0;       // pairs whose fingerprints' item sets were intersected (cheap)
  int64_t fingerprint_matches = 0;  // pairs whose fingerprints were aligned (match_fingerprints)
  int64_t tracks_read = 0;          // tracks whose embedding was read
  int64_t prints_read = 0;          // tracks whose fingerprint was read (those compared: a group's
                                    // tracks held first are read only when a candidate is near one)
};

// One request's fingerprints, track embeddings and compared pairs, read from the snapshot on
// first use and kept while the request asks again with a wider pool.
class RecordingPrints {
 public:
  explicit RecordingPrints(const LibrarySnapshot& snap, RecordingWork* work = nullptr) : snap_(snap), work_(work) {}
  // Whether `a` and `b` are one recording by their fingerprints (false when either has none or
  // they cannot be compared).
  bool same(int64_t a, int64_t b);
  // The track's float32 embedding scaled to unit length (a cosine is one SIMD dot product: a
  // pool of thousands of rows compares each with the rows held before it), or nullptr when it has
  // none or it has no length (zero, not finite).
  const std::vector<float>* embedding(int64_t id);

 private:
  struct Read {
    std::vector<float> embedding;
    bool printed = false;  // fingerprint and items read
    std::vector<uint32_t> fingerprint;
    std::vector<uint32_t> items;  // the fingerprint's distinct items, ascending
  };
  Read& read(int64_t id);         // the embedding
  const Read& read_print(int64_t id);  // and the fingerprint
  bool shares_items(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b);
  const LibrarySnapshot& snap_;
  RecordingWork* work_;
  std::map<int64_t, Read> read_;
  std::map<std::pair<int64_t, int64_t>, bool> compared_;
};

class Recordings {
 public:
  // Without `prints`: the identities alone.
  explicit Recordings(RecordingPrints* prints = nullptr) : prints_(prints) {}
  // Whether `t` is a copy of a recording held already.
  bool held(const store::Track& t) { return copy_of(t) >= 0; }
  // The held track `t` is a copy of (the first held with one of its identities, else the one
  // its fingerprint matched), or -1: for a caller that joins the two files' groups
  // (service/diversity.h RequestCopies::join).
  int64_t copy_of(const store::Track& t);
  void hold(const store::Track& t);

 private:
  // Each identity with a letter naming its kind: "h…", "m…", "i…".
  static std::vector<std::string> keys(const store::Track& t);
  int64_t same_by_fingerprint(const store::Track& t);  // the held track, or -1
  RecordingPrints* prints_;
  std::map<std::string, int64_t> held_;  // identity -> the first held track that has it
  std::vector<std::pair<int64_t, double>> tracks_;  // the tracks held: id, duration
};

}  // namespace clap::service
