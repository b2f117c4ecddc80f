#include "service/status.h"

#include "service/filters.h"

namespace clap::service {

LibraryStatus library_status(const std::string& db, const search::Filter& exclude) {
  LibraryStatus s;
  const std::string location = store::resolve_location(db);
  s.db_path = store::display_location(location);
  const std::unique_ptr<store::Store> store = store::open_store(location, store::OpenMode::ReadOnly);
  s.db_bytes = store->file_bytes();
  s.schema_version = store->schema_version();
  s.generation = store->generation();
  s.counts = store->counts();
  s.model = store->model();
  s.roots = store->roots();
  s.errors = store->errors();
  s.sets = store->embedding_sets();
  if (store->has_job_queue()) s.jobs = store->job_counts();
  const std::vector<store::Track> tracks = store->tracks();
  if (!exclude.empty()) s.excluded = static_cast<int64_t>(matching_tracks(exclude, tracks).size());
  for (const store::Track& t : tracks)
    if (t.status == store::TrackStatus::Ok && t.has_speech()) {
      ++s.speech_scored;
      s.speech_above_half += t.speech > 0.5;
    }
  return s;
}

}  // namespace clap::service
