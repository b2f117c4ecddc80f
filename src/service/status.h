// `clapsearch status`: what an index holds, read without loading any model.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "search/filter.h"
#include "store/store.h"

namespace clap::service {

struct LibraryStatus {
  std::string db_path;
  std::optional<store::JobCounts> jobs;  // a store with a job queue (distributed indexing)
  int64_t db_bytes = 0;
  int schema_version = 0;
  int64_t generation = 0;
  store::Counts counts;
  std::optional<store::ModelIdentity> model;
  std::vector<std::string> roots;
  std::vector<store::TrackError> errors;
  std::vector<store::EmbeddingSet> sets;  // every embedding set with its coverage (the active one included)
  int64_t excluded = 0;  // ok tracks the music-only rule leaves out (when one was given)
  // Speech/music scores (index/speech.h): the ok tracks that have one, and of them those above 0.5
  // (nearer the speech prompts than the music ones).
  int64_t speech_scored = 0, speech_above_half = 0;
  // "" when every stored track embedding reads back whole; else what is damaged, named as a
  // query reading it would name it (the track, what its column holds, `index --rebuild`).
  // Window embeddings are not read (millions of rows): a query that reads one names it.
  std::string damaged;
};

// How much of the library is embedded (progressive indexing, index/passes.h): of the ok tracks,
// the windows embedded of those planned, the tracks that hold every window, and those that hold
// only their first pass's (the pass after the first completes a track).
struct Coverage {
  int64_t windows = 0, window_total = 0, complete_tracks = 0, first_pass_tracks = 0;
  double fraction = 1;  // windows / window_total (1 for an empty library)
  bool complete() const { return windows >= window_total; }
};
Coverage library_coverage(const store::Counts& counts);
// "120 of 480 windows embedded (25.0%); 4 tracks complete, 36 first pass only", or, once every
// window is: "every window embedded (480 of 480); 40 tracks complete".
std::string coverage_text(const Coverage& coverage);

// Throws clap::Error when there is no index at `db` (empty = the default library).
// `exclude`: the music-only rule whose matching tracks are counted (service/filters.h).
// `read_embeddings`: read every track embedding back to find a damaged one (LibraryStatus::damaged),
// a pass over the store's largest table of tracks; the server, whose snapshot already read them
// all (a damaged one fails its load: the routes answer 503), asks without.
LibraryStatus library_status(const std::string& db, const search::Filter& exclude = {}, bool read_embeddings = true);

}  // namespace clap::service
