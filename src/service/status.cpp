#include "service/status.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/error.h"
#include "core/one_line_text.h"
#include "index/passes.h"
#include "service/filters.h"
#include "store/embedding_sizes.h"
#include "store/rows.h"

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

// Why the values of one track embedding cannot be what the indexer wrote ("" when they can):
// every one is finite and the vector has unit length (core/vector_math.h track_embedding). A
// blob of the right size holding NaN, or bytes that are not floats of an embedding, fails this.
std::string unsound_values(const float* v, int dim) {
  if (std::string why = store::non_finite_value(v, static_cast<size_t>(std::max(dim, 0))); !why.empty()) return why;
  double sq = 0;
  for (int k = 0; k < dim; ++k) sq += double(v[k]) * double(v[k]);
  // 1e-3: the float sums of the normalization leave about 1e-6; garbage is far from 1.
  if (dim > 0 && std::abs(std::sqrt(sq) - 1.0) > 1e-3) {
    char what[128];
    std::snprintf(what, sizeof what, "a vector of length %.6g where every track embedding has length 1", std::sqrt(sq));
    return what;
  }
  return "";
}

// What is damaged among the stored track embeddings ("" when none is), each ok track's read back
// as a search reads them (R9C-1: a hand-damaged one left `status` saying all was well), its
// values checked too (unsound_values). A few thousand at a time, so memory stays bounded whatever
// the library's size; the rows are those tracks() read already. An index that cannot be read at
// all (a lost connection, an I/O error) is not called damaged: that error is thrown.
std::string damaged_track_embedding(const store::Store& store, const std::vector<store::Track>& tracks,
                                    const std::string& db_path) {
  constexpr size_t kBatch = 4096;
  std::map<int64_t, const store::Track*> by_id;
  std::vector<int64_t> ids;
  for (size_t i = 0; i <= tracks.size(); ++i) {
    if (i < tracks.size() && tracks[i].status == store::TrackStatus::Ok) {
      ids.push_back(tracks[i].id);
      by_id[tracks[i].id] = &tracks[i];
    }
    if (ids.size() < kBatch && i < tracks.size()) continue;
    Embeddings e;
    try {
      if (!ids.empty()) e = store.track_embeddings(ids);
    } catch (const Error& error) {
      if (store::is_unavailable(error) && !store::is_damage(error)) throw;
      return error.what();
    }
    for (size_t r = 0; r < e.ids.size(); ++r)
      if (const std::string why = unsound_values(e.data.data() + r * size_t(e.dim), e.dim); !why.empty())
        return db_path + ": the index is damaged: track " + std::to_string(e.ids[r]) + " (" + control_escaped(by_id.at(e.ids[r])->path) +
               ")'s embedding holds " + why + "; `clapsearch index DIR --db " + db_path +
               " --rebuild` makes a new one (with --model, unless it was made with the default model)";
    ids.clear();
    by_id.clear();
  }
  return "";
}

// The same found from the sizes alone (EmbeddingCheck::Sizes): the first misshapen one is read,
// and its read names the damage as the read-back would.
std::string size_damage(const store::Store& index, const std::string& db_path) {
  const std::optional<int64_t> id = store::misshapen_track_embedding(index);
  if (!id) return "";
  try {
    (void)index.track_embeddings({*id});
  } catch (const Error& error) {
    if (store::is_unavailable(error) && !store::is_damage(error)) throw;
    return error.what();
  }
  // Not reached while the size check and the read agree (both compare the same bytes).
  return db_path + ": the index is damaged: track " + std::to_string(*id) + "'s embedding has the wrong size";
}

// The first ok track whose stored duration no decoder gives ("" when none).
std::string duration_damage(const std::vector<store::Track>& tracks, const std::string& db_path) {
  for (const store::Track& t : tracks)
    if (std::string why = track_duration_damage(t, db_path); !why.empty()) return why;
  return "";
}

}  // namespace

// Not finite, below 0, or longer than store::kLongestTrackSeconds: hand damage, which made every
// total of `status` "inf h" or a nonsense number printed as the ok tracks' audio (hostile pass 13,
// R13C-4).
std::string track_duration_damage(const store::Track& t, const std::string& db_path) {
  if (t.status != store::TrackStatus::Ok) return "";
  const double d = t.duration_s;
  if (std::isfinite(d) && d >= 0 && d <= store::kLongestTrackSeconds) return "";
  char value[32];
  std::snprintf(value, sizeof value, "%g", d);
  // NaN: PostgreSQL's 'NaN', or text or a blob in SQLite's column (read as 0 s "(ok)" before:
  // hostile pass 15, R15C-2).
  const std::string duration = std::isnan(d) ? "a duration that is not a number" : "a duration of " + std::string(value) + " s";
  return db_path + ": the index is damaged: track " + std::to_string(t.id) + " (" + control_escaped(t.path) + ") has " +
         duration + ", which no audio file has; `clapsearch index DIR --db " + db_path +
         " --rebuild` makes a new one (with --model, unless it was made with the default model)";
}

std::string no_model_damage(const std::string& db_path, int64_t tracks) {
  return db_path + ": the index is damaged: it holds " + std::to_string(tracks) +
         " tracks but records no model (its meta row model_id is gone); `clapsearch index DIR --db " + db_path +
         " --rebuild --model M` makes a new one";
}

LibraryStatus library_status(const std::string& db, const search::Filter& exclude, EmbeddingCheck check) {
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
  // Tracks with no model recorded: the meta rows are gone, and each embedding would be measured
  // against a dimension of 0 ("track 1's embedding holds a blob of 2048 bytes where 0 floats were
  // expected", blaming the first track: hostile pass 14, H14C-4).
  if (!s.model && s.counts.tracks > 0) {
    s.damaged = no_model_damage(s.db_path, s.counts.tracks);
    return s;
  }
  s.damaged = duration_damage(tracks, s.db_path);
  s.durations_damaged = !s.damaged.empty();
  if (s.durations_damaged) return s;
  if (check == EmbeddingCheck::Values) s.damaged = damaged_track_embedding(*store, tracks, s.db_path);
  else if (check == EmbeddingCheck::Sizes) s.damaged = size_damage(*store, s.db_path);
  return s;
}

}  // namespace clap::service
