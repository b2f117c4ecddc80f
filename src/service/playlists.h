// The playlist queries every front end runs: a radio from seed tracks and/or texts, and a path
// from one track to another (the algorithms: search/playlist.h). Tracks are named as `similar`
// names them (an id, or a path: LibrarySnapshot::find_track); only tracks with status ok and a
// track embedding take part. No model runs, except for a text not yet in the index's text cache.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "search/topk.h"
#include "service/filters.h"
#include "service/library.h"
#include "service/seeds.h"

namespace clap::service {

struct RadioRequest {
  std::vector<std::string> seeds;  // track ids or paths, in play order
  std::vector<std::string> texts;  // descriptions ("warm lo-fi guitar"), through the text cache
  int64_t length = 25;             // tracks in the playlist, seeds included
  double diversity = 0.3;          // λ of search::mmr_playlist, in [0, 1]
  // Tracks after the seeds come from the allowed tracks only (the radio is made over them), and
  // at most per_artist / per_album per artist / album, seeds counted (service/filters.h).
  ResultRules rules;
  // --not TEXT / --not-like TRACK (negative terms, service/seeds.h): the query becomes
  // normalise(Σ seeds + Σ texts − Σ w·negatives); tracks named here never play.
  std::vector<QueryTerm> negatives;
  // Directions (unit rows of the library's dimension) averaged into the query with the seeds and
  // the texts: the taste centre the radio for you follows (service/for_you.h).
  std::vector<float> toward;
};

struct Playlist {
  // In play order. score = cosine to the query (radio) or to the step's target (path).
  std::vector<search::Hit> tracks;
  int64_t seeds = 0;      // the first `seeds` tracks are the seeds (radio)
  int64_t requested = 0;  // the length asked for; more than tracks.size() when the library is smaller
  // Tracks left out as copies of one already in the playlist (a seed, FROM or TO included):
  // copies of one recording play once.
  int64_t copies_left_out = 0;
};

// The query is the normalised mean of the seeds' track embeddings and the texts' embeddings
// (search::mean_direction). Throws clap::Error naming the input: a seed that is not in the index
// or has no embedding, neither seeds nor texts, more seeds than `length`, a diversity outside [0, 1].
Playlist radio(Library& lib, const LibrarySnapshot& snap, const RadioRequest& request);

// `length` tracks moving from FROM to TO (search::path_between), the steps between them taken from
// the tracks `rules` allow (its filter and exclusions; FROM and TO are always the ends). Throws
// clap::Error naming the input: FROM or TO not in the index or without an embedding, FROM and TO
// the same track, length < 2; InvalidArgument for caps (a path has no use for them). The messages
// call the ends `from_name` and `to_name`, as the front end calls them (the CLI's FROM and TO,
// Python's start and end).
Playlist track_path(const LibrarySnapshot& snap, const std::string& from, const std::string& to, int64_t length,
                    const ResultRules& rules = {}, const std::string& from_name = "FROM", const std::string& to_name = "TO");

}  // namespace clap::service
