// What an indexing run is asked for (IndexRequest) and the model and window settings it
// resolves to (resolve_settings): shared by a run (indexing.h) and a worker (worker.h), which
// resolves the index's model as a run does.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "index/indexer.h"
#include "service/model.h"
#include "service/precision_choice.h"
#include "store/store.h"

namespace clap::service {

struct IndexRequest {
  std::vector<std::string> dirs;
  std::string db;                        // empty = store::default_db_path()
  std::optional<std::string> model;      // unset: the index's model, else hub::kDefaultModel
  std::string model_config, model_tokenizer;  // --config / --tokenizer (unset: the index's hints)
  std::optional<double> window_s, hop_s, silence_db;  // unset: the index's, else 10 / 5 / -60
  // "fp32" / "bf16" / "int8", or "auto" (precision_choice.h). Unset or "auto": the index's,
  // else (an index's first run; `--rebuild` with "auto" given) chosen on this machine.
  std::optional<std::string> precision;
  PrecisionBounds precision_bounds;      // what "auto" holds a lower precision to
  int threads = 0, batch = 8, decoders = 0;  // decoders: 0 = automatic (IndexSettings)
  int first_pass = index::kDefaultFirstPass, max_passes = 0;  // progressive indexing (index/passes.h)
  std::vector<std::string> include, exclude;
  bool rebuild = false, retry_errors = false;
  bool prune_missing = false;  // prune even when most of a folder's tracks vanished
  bool follow_links_out = false;  // index links out of the folders (index::CrawlOptions::follow_links_out)
  bool quiet = false;                    // no download progress
  Notice note;  // what the run is doing when it takes a while (the precision's measurement); null: quiet
  bool plan = false;  // a store with a job queue: record the work for `clapsearch worker`s, embed nothing
  // `--model NEW` on an index of another model (issue 37): NEW's embedding set is built beside the
  // active one, which it replaces when complete (Complete), right after this run's work on it
  // (Now: what it lacks is embedded by the rest of the run), or not (Never: `clapsearch models
  // --activate` does it later).
  enum class Switch { Complete, Now, Never } switch_when = Switch::Complete;
  // Files to leave out of this run (index::CrawlOptions::skip): those a watcher sees still being written.
  std::function<bool(const index::CrawledFile&)> skip;
};

// The settings a run uses: those given, else the existing index's (--rebuild included:
// `--rebuild --window 5` keeps the model), else the defaults.
struct ResolvedSettings {
  std::string model_spec;
  hub::HubOptions model_options;  // --config / --tokenizer, else the index's hints for its own model
  double window_s = 10, hop_s = 5, silence_db = -60;
  Precision precision = Precision::F32;
  // Chose the precision on this machine before the run (precision stays fp32 until then):
  // "auto" (given or by default) on an index's first run, or with --rebuild.
  bool choose_precision = false;
  std::string precision_choice;  // the index's record of how its precision was chosen, carried on
};
ResolvedSettings resolve_settings(const IndexRequest& request, const std::optional<store::ModelIdentity>& stored);

// `--precision auto` on a run that chooses (settings.choose_precision): measures the precisions on
// a sample of the run's folders (precision_choice.h) with the model `model` opened as `open` says,
// and sets settings.precision and settings.precision_choice.
// The sample's first-pass cuts go to `precut` (null: nowhere), for the run's first pass.
PrecisionChoice choose_run_precision(const IndexRequest& request, ResolvedSettings& settings,
                                     const hub::ResolvedModel& model, const ModelOpenOptions& open,
                                     std::shared_ptr<index::PrecutFirstPasses> precut = nullptr);

}  // namespace clap::service
