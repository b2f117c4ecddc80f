// The decode-and-embed pipeline of the indexer (index_roots, build_set, embed_jobs in
// indexer.cpp; the pipeline itself in pipeline.cpp and pipeline_decode.cpp, one class declared in
// pipeline_internal.h): decoder threads cut each file's windows and a bounded queue carries them
// to the calling thread, which embeds them in batches and writes each finished track in one
// transaction. Internal to index/: what the indexer and the pipeline share.
#pragma once
#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

#include "audio/decode.h"
#include "index/indexer.h"

namespace clap::index {

using Clock = std::chrono::steady_clock;
inline double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A number as people read it ("%g").
std::string number_text(double v);

// "<path>: reason" -> "reason" (the store keeps the path in its own column).
std::string reason_of(const std::exception& e, const std::string& path);

// A later pass over a partly indexed track (index/passes.h): the windows it adds.
struct Deepen {
  int64_t track_id = 0;
  int64_t set_id = 0;  // 0: the active set's windows; else an inactive embedding set's (build_set)
  int window_total = 0;
  std::vector<int> wanted;  // idx ascending
  // A set build's last windows of the track: its audio (the stored duration) then counts in the
  // run's summary, so a model upgrade reports the audio it embedded, as a first index does.
  double completed_seconds = 0;
  // The track is known not to be quiet (a stored window at or above the silence threshold,
  // audio/windows.h), so a wanted window below the threshold is silent and recorded as such: a
  // first pass cut as spans stores no silent windows. Else every wanted window is a non-silent
  // one (the first pass's whole decode recorded the silent ones).
  bool judge_silence = false;
  // The track has no fingerprint yet (its first pass was cut as spans): this pass's decode makes it.
  bool make_fingerprint = false;
  // The track's first pass may have been cut as spans (it has no fingerprint): its length was read
  // off the packets and its windows placed by their timestamps, which a damaged packet before a
  // window leaves off a whole decode's samples (S6-1: the span decoder never decodes that packet).
  // This pass decodes the file to its end and checks what the first pass stored: the duration
  // (bit for bit) and each stored window's level, by idx (bit for bit). Should any differ, the
  // track is indexed afresh from this decode, every window replaced, as a one-shot index makes it.
  bool verify = false;
  // The file's content hash as stored: a file whose change time moved since is hashed again, and
  // one whose content changed is indexed afresh (its size and modification time may be kept).
  std::string content_hash;
  double duration_s = 0;
  // idx ascending, every stored window's (a first pass cut as spans records a silent one it meets)
  std::vector<std::pair<int, double>> stored_levels;
};

struct Job {
  const CrawledFile* file = nullptr;  // file->path: where to read it
  bool new_path = true;  // no track has this path yet (candidate for a move)
  const store::IndexJob* queued = nullptr;  // a job claimed from the store's queue (its path names the track)
  const Deepen* deepen = nullptr;  // a later pass: windows added to a stored track (with `queued`: a later pass's job)
};

struct MissingTrack {
  const store::FileState* state = nullptr;
  bool claimed = false;
  bool retired = false;  // a track pruned by an earlier run, kept restorable (store::retire_tracks)
  bool link_out = false;  // there, but a link out of the library left out (CrawlResult::links_out)
};

// A file's tags into the track row, with the reading they are (store::kTagsVersion).
void apply_tags(store::Track& t, const audio::Tags& tags);

// What a pipeline run leaves besides the summary it fills in.
struct PipelineRun {
  double decode_seconds = 0;  // CPU time of the decoder threads
  std::vector<int64_t> skipped;  // tracks of a later pass left as they were (file changed, gone or unreadable)
};

// Decodes and embeds `jobs` (new and changed files, queued jobs of `worker`, or a later pass's
// tracks, `pass` being the pass reported in progress), filling in `sum`. A new path whose content
// hash is in `missing_by_hash` moves or restores that track instead of being embedded.
PipelineRun run_pipeline(store::Store& store, const ModelSpec& spec, const IndexSettings& settings,
                         const ModelProvider& model, const IndexCallbacks& callbacks, IndexSummary& sum,
                         std::vector<Job> jobs,
                         std::unordered_map<std::string, std::vector<MissingTrack*>> missing_by_hash = {},
                         std::string worker = "", int pass = 1);

}  // namespace clap::index
