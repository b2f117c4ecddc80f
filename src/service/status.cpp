#include "service/status.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "index/passes.h"
#include "service/filters.h"

namespace clap::service {

// Every pass after the first is the last one (index/passes.h kLastPass): a track that is not
// complete holds its first pass's windows alone. More passes would need the pass each track has
// reached, which the index does not record.
static_assert(index::kLastPass == 2, "a track short of its windows is no longer 'first pass only'");

Coverage library_coverage(const store::Counts& c) {
  Coverage out;
  out.windows = c.ok_windows;
  out.window_total = c.window_total;
  out.complete_tracks = c.complete_tracks;
  out.first_pass_tracks = std::max<int64_t>(0, c.ok - c.complete_tracks);
  out.fraction = c.window_total > 0 ? double(c.ok_windows) / double(c.window_total) : 1.0;
  return out;
}

std::string coverage_text(const Coverage& c) {
  char line[256];
  if (c.complete())
    std::snprintf(line, sizeof line, "every window embedded (%lld of %lld); %lld tracks complete",
                  static_cast<long long>(c.windows), static_cast<long long>(c.window_total),
                  static_cast<long long>(c.complete_tracks));
  else
    std::snprintf(line, sizeof line, "%lld of %lld windows embedded (%.1f%%); %lld tracks complete, %lld first pass only",
                  static_cast<long long>(c.windows), static_cast<long long>(c.window_total), 100.0 * c.fraction,
                  static_cast<long long>(c.complete_tracks), static_cast<long long>(c.first_pass_tracks));
  return line;
}

namespace {

// What is damaged among the stored track embeddings ("" when none is): each ok track's read back
// as a search reads them (R9C-1: a hand-damaged one left `status` saying all was well). A few
// thousand at a time, so memory stays bounded whatever the library's size; the rows are those
// tracks() read already. An index that cannot be read at all (a lost connection, an I/O error)
// is not called damaged: that error is thrown.
std::string damaged_track_embedding(const store::Store& store, const std::vector<store::Track>& tracks) {
  constexpr size_t kBatch = 4096;
  std::vector<int64_t> ids;
  for (size_t i = 0; i <= tracks.size(); ++i) {
    if (i < tracks.size() && tracks[i].status == store::TrackStatus::Ok && !tracks[i].silent) ids.push_back(tracks[i].id);
    if (ids.size() < kBatch && i < tracks.size()) continue;
    try {
      if (!ids.empty()) (void)store.track_embeddings(ids);
    } catch (const Error& e) {
      if (store::is_unavailable(e) && !store::is_damage(e)) throw;
      return e.what();
    }
    ids.clear();
  }
  return "";
}

}  // namespace

LibraryStatus library_status(const std::string& db, const search::Filter& exclude, bool read_embeddings) {
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
  if (read_embeddings) s.damaged = damaged_track_embedding(*store, tracks);
  return s;
}

}  // namespace clap::service
