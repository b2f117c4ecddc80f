// The indexing pipeline: crawl the folders, compare with the index, and bring it up to date.
//
//   unchanged  same path, size and mtime (for a recorded error also ctime, so a chmod retries
//              it): skipped without reading the file
//   moved      a path new to the index whose content hash (sha256 of the bytes) equals that of
//              a track whose file no longer exists: path and times updated, embeddings kept
//   changed    same path, other size or mtime: decoded and embedded again
//   new        decoded and embedded
//   pruned     tracks under the given roots whose file no longer exists (after moves are matched),
//              kept restorable for kRetiredDays: a file that comes back is restored, not embedded
//   held       missing tracks kept because most of their root vanished (unless prune_missing)
//
// Decoding (FFmpeg, streaming) and windowing run in worker thread(s); windows travel through a
// bounded queue to the calling thread, which embeds non-silent windows in batches and writes
// each finished track in one transaction. Memory per decoder is one window plus one decoded
// chunk whatever the file's length; the queue holds at most 2 x batch windows.
//
// A file that fails (unreadable, not audio, corrupt beyond use, no samples, or silent
// throughout) is recorded as an error track with the reason, and the run goes on.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "audio/decode.h"
#include "index/crawl.h"
#include "index/identity.h"
#include "index/passes.h"
#include "store/store.h"
#include "model/clap.h"

namespace clap::index {

class PrecutFirstPasses;  // index/precut.h

// How long pruned tracks stay restorable (their embeddings kept in the index file).
inline constexpr int64_t kRetiredDays = 30;

struct IndexSettings {
  double window_s = 10, hop_s = 5;  // must match the spec's identity
  double silence_db = -60;          // windows with RMS below this are silent (not embedded)
  int batch = 8;                    // windows per model call
  int model_threads = 0;            // threads per model call (0 = all cores)
  // Decoding workers; 0 = automatic: two for a run of first passes (on a machine with two cores
  // or more), which decodes whole files to embed a few windows of each and so waits on decoding
  // (12 songs: 0.78x the wall time of one decoder), one otherwise (the model is the bottleneck,
  // and a second decoder only takes its cores). Whatever the count, files are written in their
  // order (track ids do not depend on it).
  int decode_threads = 0;
  int decoder_nice = 10;            // nice value of decoding workers (0 = same priority as the model)
  bool retry_errors = false;        // decode files recorded as errors again even if unchanged
  // Progressive indexing (index/passes.h): windows per track in the first pass (0 = every
  // window at once), and the last pass this run goes to (0 = until every track is complete).
  int first_pass = kDefaultFirstPass;
  int max_passes = 0;
  int last_pass = kLastPass;  // the deepest pass of the layout (index/passes.h; tests go deeper)
  // Prune missing tracks even when most of a root's tracks are gone (else they are kept: an
  // unmounted drive must not empty the library).
  bool prune_missing = false;
  CrawlOptions crawl;
  // First passes cut before the run (`--precision auto`'s sample on an index's first run:
  // service/precision_choice.h), by path: a file's first pass embeds the samples cut for it
  // instead of decoding its spans again (no file is decoded more than twice over a progressive
  // index: docs/operations.md). Null: none.
  std::shared_ptr<PrecutFirstPasses> precut;
};

struct IndexProgress {
  int64_t files_done = 0, files_total = 0;  // files to decode or hash in this run
  int64_t bytes_done = 0, bytes_total = 0;
  double audio_seconds = 0;    // audio decoded so far
  double elapsed_seconds = 0;  // since the run started
  double eta_seconds = -1;     // -1 = unknown
  bool finished = false;
  int pass = 1;  // the pass these files are in (index/passes.h); 0: packet hashes' catch-up (retag_moves.h)
};

struct FileEvent {
  enum class Kind { Indexed, Moved, Restored, Error, Pruned, LeaseLost } kind = Kind::Indexed;
  std::string path;
  std::string detail;  // error reason; for Moved the old path
};

struct IndexSummary {
  int64_t found = 0;  // files found by the crawl
  int64_t indexed = 0, unchanged = 0, moved = 0, pruned = 0, errors = 0;
  int64_t tags_refreshed = 0;  // tracks whose tags were read again (indexed before store::kTagsVersion), not re-embedded
  int64_t fingerprints_added = 0;  // tracks indexed before fingerprints were stored that got one (a decode, no embedding)
  int64_t speech_scored = 0;  // tracks whose speech/music score was computed (index/speech.h; no decode)
  int64_t restored = 0;  // files that came back: a retired (pruned) track restored with its embeddings
  int64_t held = 0;      // missing tracks kept because their root mostly vanished (see prune_missing)
  int64_t planned = 0;   // plan_roots: files recorded as jobs for the workers
  int64_t lost_leases = 0;  // embed_jobs: files another worker took over (this worker's lease ran out)
  int64_t silent = 0;             // of the errors: tracks silent throughout
  int64_t ok_files = 0;           // found files that are in the index with status ok after the run
  int64_t windows = 0, silent_windows = 0, embedded_windows = 0;  // this run
  int64_t deepened = 0;  // windows added to tracks indexed before, by later passes (index/passes.h)
  int last_pass = 0;     // the deepest pass this run worked on (0: none after the first)
  int64_t skipped = 0;   // tracks a later pass left (file changed, gone or unreadable: see warnings)
  double audio_seconds = 0;       // decoded in this run
  double wall_seconds = 0;        // the whole run, model loading included
  double load_seconds = 0;        // model loading (0 when nothing needed the model)
  double model_seconds = 0;       // inside ClapModel::embed_audio
  double decode_seconds = 0;      // CPU time of hashing + decoding + windowing (decoder threads)
  double db_seconds = 0;          // writing to the index
  // Decodes this run made (audio::decode_counts): of whole files (possibly stopped early) and of
  // spans. Over a progressive index no file is decoded more than twice (docs/operations.md).
  int64_t whole_decodes = 0, span_decodes = 0;
  void count_decodes(const audio::DecodeCounts& before) {
    const audio::DecodeCounts now = audio::decode_counts();
    whole_decodes += now.whole - before.whole;
    span_decodes += now.spans - before.spans;
  }
  std::vector<CrawlWarning> warnings;
  std::vector<store::TrackError> new_errors;  // errors recorded in this run

  double realtime_factor() const { return wall_seconds > 0 ? audio_seconds / wall_seconds : 0; }
  // Share of the pipeline's wall time (model loading excluded) not spent in the model.
  double outside_model_fraction() const;
};

// Loads the model the first time a file needs embedding (never called for a no-change run).
using ModelProvider = std::function<const ClapModel&()>;

struct IndexCallbacks {
  std::function<void(const IndexProgress&)> progress;  // after each finished file and model batch
  std::function<void(const FileEvent&)> event;
};

// Checks the index's recorded model identity against `identity`: records it in a new or
// empty index (wipes the index first when `rebuild`) and returns 0 (the run indexes into the
// active set). With `new_set` (the run named its model: index --model), another model (another
// id) over the same window settings gets
// an inactive set of its own (the one an earlier run recorded for it, else a new one), whose id is
// returned: build_set fills it while queries keep the active set. Otherwise throws clap::Error
// explaining the difference and suggesting --rebuild.
int64_t ensure_identity(store::Store& store, const store::ModelIdentity& identity, bool rebuild, bool new_set = false);

// Builds inactive embedding set `set_id` with the model of `spec` (its identity): the stored
// non-silent windows of every ok track the set does not hold yet, pass after pass like the later
// passes of index_roots (settings.first_pass, max_passes), each track's new windows written in
// one transaction (a run stopped at any moment continues from them). Nothing else is read or
// written: new and changed files wait for a run after the switch (Store::activate_set).
IndexSummary build_set(store::Store& store, int64_t set_id, const ModelSpec& spec, const IndexSettings& settings,
                       const ModelProvider& model, const IndexCallbacks& callbacks = {});

// Brings the index up to date with `roots`: new and changed files get their first pass, then
// later passes fill in the windows of every partly indexed track (index/passes.h), pass after
// pass over the whole library, until settings.max_passes. ensure_identity must have been called.
IndexSummary index_roots(store::Store& store, const std::vector<std::string>& roots, const ModelSpec& spec,
                         const IndexSettings& settings, const ModelProvider& model, const IndexCallbacks& callbacks = {});

// --- distributed indexing (a store with a job queue: Store::has_job_queue)

// Crawls and compares like index_roots, applies moves, restores and pruning, and records a job
// per file to embed (Store::plan_jobs: its first pass, laid out by settings.first_pass) instead of
// embedding it, and a job for the next pass of every track left partly indexed. Finished jobs of
// earlier plans are forgotten first. A file is hashed only when it may be a moved track (a missing track has
// its size); nothing is decoded.
IndexSummary plan_roots(store::Store& store, const std::vector<std::string>& roots, const IndexSettings& settings,
                        const IndexCallbacks& callbacks = {});

struct JobOptions {
  std::string worker;  // this worker's name in the queue (Store::claim_jobs)
  // Where this machine reads a job's file (--path-map); empty = the job's path as planned.
  std::function<std::string(const std::string&)> read_path;
  // A job claimed more often than this without a result is recorded as an error, not decoded.
  int max_attempts = 3;
};

// Embeds jobs this worker claimed and stores each file's track with its job (Store::finish_job)
// as it finishes; a later pass's job adds the windows of passes up to its own that the stored
// track lacks (Store::finish_pass_job). A file whose lease ran out meanwhile is not stored
// (FileEvent LeaseLost).
IndexSummary embed_jobs(store::Store& store, const std::vector<store::IndexJob>& jobs, const JobOptions& options,
                        const ModelSpec& spec, const IndexSettings& settings, const ModelProvider& model,
                        const IndexCallbacks& callbacks = {});

}  // namespace clap::index
