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
  // "" when no stored track embedding is found damaged (EmbeddingCheck says how they are looked
  // at) and no ok track's duration is impossible (not finite, negative, or decades long: its
  // totals would be nonsense); else what is damaged, named as a query reading it would name it (the track, what its
  // column holds, `index --rebuild`). Window embeddings are not read (millions of rows): a query
  // that reads one names it.
  std::string damaged;
  bool durations_damaged = false;  // `damaged` names a duration: the audio totals mean nothing
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

// How library_status looks for a damaged track embedding (LibraryStatus::damaged).
enum class EmbeddingCheck {
  None,   // not at all: the server, whose snapshot read them all (a damaged one fails its load)
  Sizes,  // each one's size, as the database keeps it (store/embedding_sizes.h): what
          // a read refuses, without reading them (`status`; 1.3 s rather than 6 s at 200,000 tracks)
  Values, // each one read back, its values checked as well (`status --check`): finite, and of
          // unit length as every track embedding is written (core/vector_math.h track_embedding),
          // so a blob of the right size holding NaN or garbage is found too
};

// A track's stored duration that no audio file has, as `status` names it ("DB: the index is damaged:
// track N (PATH) has a duration of inf s, which no audio file has; ... --rebuild ..."), or "" (an
// error track, or a length from 0 to 1e9 s). Also asked by `migrate` (hostile pass 16).
std::string track_duration_damage(const store::Track& track, const std::string& db_path);

// An index holding `tracks` tracks (> 0) that records no model: its meta rows were deleted by hand.
// "the index is empty (no model recorded yet)" was said of it (hostile pass 14, H14C-4).
std::string no_model_damage(const std::string& db_path, int64_t tracks);

// Throws clap::Error when there is no index at `db` (empty = the default library).
// `exclude`: the music-only rule whose matching tracks are counted (service/filters.h).
LibraryStatus library_status(const std::string& db, const search::Filter& exclude = {},
                             EmbeddingCheck check = EmbeddingCheck::Sizes);

}  // namespace clap::service
