// Taste, not an average (issue 55): a user's listening history as several taste centres, each a
// direction in the library's track-embedding space (the vectors `similar` ranks by).
//
// Every track the user played, starred or rated gets a weight:
//   + 0.5^(age / half-life) per play that was not a skip (recent plays count more),
//   − 0.5 · 0.5^(age / half-life) per skip,
//   + kStarWeight when starred, + (rating − 3) per rating step (5 → +2, 1 → −2).
// Tracks of positive weight are clustered by a weighted spherical k-means (cosine, centroids the
// normalised weighted sums), seeded by a deterministic weighted farthest-first choice, for
// k = 1..max_centres; the number of centres is the largest k whose weighted simplified silhouette
// is within kSilhouetteSlack of the best k ≥ 2, when that best is at least kMinSilhouette (else one
// centre), and no centre holds less than kMinCentreShare of the weight or fewer than
// kMinCentreTracks tracks, and a k ≥ 2 counts only when its spread (the weighted mean of
// 1 − cos(track, its centre)) is at most kMinSplitGain of one centre's. Tracks of negative weight (skipped, rated low) then push the centre
// nearest them away: centre = normalise(Σ w·x over its tracks − Σ |w|·x over its negatives).
//
// Deterministic bit for bit: one thread, fixed orders (ties by track id), fixed-order dot
// (core/vector_math.h); the same history gives the same centres on every run and thread count.
// Only the kMaxClusterTracks heaviest tracks are clustered (100,000 plays cost what 4,000 do);
// every weighted track is then assigned to its nearest centre.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "service/filters.h"
#include "service/library.h"

namespace clap::service {

class RecordingPrints;  // service/recordings.h

inline constexpr double kStarWeight = 2.0;
inline constexpr double kSkipWeight = 0.5;
inline constexpr double kMinSilhouette = 0.1;
inline constexpr double kSilhouetteSlack = 0.9;
inline constexpr double kMinSplitGain = 0.7;
inline constexpr double kMinCentreShare = 0.03;
inline constexpr int64_t kMinCentreTracks = 3;
inline constexpr int64_t kMaxClusterTracks = 4000;

// One play of a track of the library (a store::PlayRecord resolved to a track id).
struct TastePlay {
  int64_t track_id = 0;
  int64_t at = 0;  // unix seconds
  bool skipped = false;
};

// A user's history as the taste reads it: plays, starred songs (track id -> when), song ratings.
struct TasteHistory {
  std::vector<TastePlay> plays;
  std::map<int64_t, int64_t> starred;
  std::map<int64_t, int> ratings;
  std::map<int64_t, int64_t> rated_at;  // when known (an evaluation leaves later ratings out)
};

// What the user did with one track.
struct TrackTaste {
  int64_t plays = 0, skips = 0, last_played = 0;  // plays: not skipped
  bool starred = false;
  int rating = 0;
  double weight = 0;
};

// The half-lives taken (--half-life, the API's half_life): from a day to a century. Shorter, a
// play's weight 0.5^(age / half-life) is 0 in doubles for any play not of the last moments
// (1e-300 days: every play weighed 0 and `mix` said "no plays", hostile pass 5 H5-9).
inline constexpr double kMinHalfLifeDays = 1;
inline constexpr double kMaxHalfLifeDays = 36500;

struct TasteOptions {
  double half_life_days = 90;  // a play this old counts half (kMinHalfLifeDays .. kMaxHalfLifeDays)
  int64_t max_centres = 8;
  int64_t nearest = 10;        // songs listed nearest each centre
  int64_t now = 0;             // unix seconds the ages are measured from (0: the newest play)
  // The tracks nearest a centre are taken from those the rules allow (the default exclusions).
  ResultRules rules;
};

struct TasteCentre {
  std::vector<float> vector;     // unit
  double weight = 0;             // share of the positive weight, in (0, 1]
  std::vector<int64_t> members;  // the weighted tracks nearest this centre, heaviest first
  std::vector<int64_t> pushed;   // the negative tracks pushing it away
  std::vector<std::pair<int64_t, double>> nearest;  // library tracks nearest, with their cosine
  std::vector<std::pair<std::string, double>> top_artists, top_genres;  // by members' weight
  std::string label;             // label_centres(); else the top genre or artist
};

struct Taste {
  std::vector<TasteCentre> centres;  // heaviest first
  std::map<int64_t, TrackTaste> tracks;  // every track the history names that the library has
  int64_t now = 0;
  int64_t unknown_tracks = 0;  // history entries naming tracks without an embedding here
  std::vector<double> silhouettes;  // per k = 1..: the model selection's scores (k = 1: 0)
};

// Throws InvalidArgument on a half-life not above 0, max_centres < 1, nearest < 0.
void check_taste_options(const TasteOptions& options);

// The taste of `history` over the snapshot's track embeddings. No centre when nothing weighs.
Taste build_taste(const LibrarySnapshot& snap, const TasteHistory& history, const TasteOptions& options);

// The tags a centre's label is chosen from (zero-shot, as `classify` tags): a mood and a sound.
const std::vector<std::string>& taste_moods();
const std::vector<std::string>& taste_sounds();

// Labels each centre with its best mood and sound ("late-night piano") by zero-shot tagging of
// the centre vector (service::classify over the text tower, through the text cache). When the
// model cannot be loaded the label stays the top genre/artist one and `why` (when given) says so.
void label_centres(Library& lib, Taste& taste, std::string* why = nullptr);

// For each query vector (dim floats each), the k rows of `emb` nearest by cosine among the ids
// `keep` accepts: (id, cosine), best first, ties to the lower id. One pass over the rows.
std::vector<std::vector<std::pair<int64_t, double>>> nearest_rows(const Embeddings& emb,
                                                                  const std::vector<const float*>& queries, int64_t k,
                                                                  const std::function<bool(int64_t)>& keep);

// nearest_rows with each recording once (service/recordings.h: content hash, MBID, ISRC, then the
// stored fingerprints of the rows listed nearest it, with the request's `prints`), the best-ranked
// file standing for it: the k nearest recordings, or fewer when the rows run out. A taste
// centre's nearest songs and a mix's new songs (H12S-2): 2,000 copies of one song filled the k
// nearest rows, and the list held one song; untagged re-encodes were told by their fingerprints
// in a mix's picks only, so they filled its pool of new songs (copies15). The rows are read again
// with 4 times the limit while a list is short of k recordings and its rows were not all read.
// Work: a row is measured against the rows listed before it (one dot product each), and
// fingerprints are compared for its 16 nearest of them that share items (recordings.h).
std::vector<std::vector<std::pair<int64_t, double>>> nearest_recordings(const LibrarySnapshot& snap, const Embeddings& emb,
                                                                        const std::vector<const float*>& queries, int64_t k,
                                                                        const std::function<bool(int64_t)>& keep,
                                                                        RecordingPrints& prints);

// Cosine of two unit vectors of `dim` floats (fixed-order dot).
double cosine(const float* a, const float* b, int64_t dim);

}  // namespace clap::service
