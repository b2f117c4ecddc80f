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
};

// Throws clap::Error when there is no index at `db` (empty = the default library).
// `exclude`: the music-only rule whose matching tracks are counted (service/filters.h).
LibraryStatus library_status(const std::string& db, const search::Filter& exclude = {});

}  // namespace clap::service
