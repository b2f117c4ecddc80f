// One indexing run as a front end asks for it: settings not given continue the existing index
// (so `clapsearch index DIR` again needs no options), the model is resolved and checked
// against the index's identity, loaded only if a file needs embedding, and the pipeline
// (index/indexer.h) brings the index up to date under the one-indexer-at-a-time lock.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "index/indexer.h"
#include "service/index_request.h"
#include "service/model.h"
#include "store/store.h"

namespace clap::service {

struct IndexRun {
  std::string db_path;
  store::ModelIdentity identity;
  index::IndexSummary summary;
  int64_t planned = 0;  // files queued for workers (a store with a job queue)
  // With --plan: the track ids kept for the files the workers index again (a --rebuild's), which
  // each such file takes back (Store::kept_track_ids).
  int64_t kept_track_ids = 0;
  // The embedding set this run built beside the active one (0: it indexed into the active set),
  // its coverage after the run, and whether it became the active set.
  int64_t built_set = 0;
  int64_t set_windows = 0;  // windows this run embedded into that set
  store::EmbeddingSet set;
  bool switched = false;
  std::optional<PrecisionChoice> precision_choice;  // measured by this run (--precision auto, the first run)
  // A damaged SQLite index this run replaced: what it carried over, where the damaged file is.
  std::optional<store::Salvage> salvage;
};

// What a rebuild carried over from a damaged index, for people: where the damaged file is kept,
// then one line per table with rows kept or rows that could not be read.
std::string describe_salvage(const store::Salvage& salvage, const std::string& db_path);

// A model kept loaded between runs (a watcher's rescans): loaded by the first run that embeds,
// used again while the model and its precision stay the same.
struct LoadedModel {
  std::string key;  // the model identity it was loaded for
  std::unique_ptr<ClapModel> model;
};

// Throws clap::Error before touching the index when the model cannot be resolved or does not
// match the index (suggesting --rebuild), or when another indexer holds the lock; a new SQLite
// index is created only after every check of the run's folders, settings and model passed, so a
// refused run leaves nothing at a new --db path (hostile pass 12, R12C-1). With `keep`,
// the model is loaded into it (or taken from it) instead of being freed after the run.
IndexRun run_index(const IndexRequest& request, const index::IndexCallbacks& callbacks = {}, const Notice& warn = {},
                   LoadedModel* keep = nullptr);

// Removes the SQLite index at `location` that the caller has just created and closed, with its
// journals and lock file: a run refused after making it (`migrate` whose copy failed, `serve
// --watch` whose server could not start) leaves nothing behind. Errors are ignored (gone already).
void remove_new_index(const std::string& location);

}  // namespace clap::service
