// `--precision auto` (the default of `clapsearch index`): on an index's first run, the audio
// tower's precision is chosen on this machine from a sample of the library's own audio. bf16 and
// int8 embed the sample beside fp32; the fastest precision (by this machine's times, measured
// once: precision_speed_dir) whose worst window cosine to fp32 and top-10 agreement with fp32's
// rankings hold the documented bounds is used, and the table of what
// was measured is recorded in the index (ModelIdentity::precision_choice) for `status`, the web
// page and later runs, which keep the choice.
//
// Why on the user's machine: the bounds have been checked on random-weight models only, which are
// kinder to low precision than trained ones; the user's trained model and audio are at hand on
// the first run, and so is the CPU whose kernels decide which precision is fastest.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub/hub.h"
#include "index/crawl.h"
#include "index/passes.h"
#include "service/model.h"
#include "store/store.h"

namespace clap::index {
class PrecutFirstPasses;  // index/precut.h
}

namespace clap::service {

// What a lower precision must hold on the sample (docs/user-guide.md, "Precision": the bounds the
// precisions were built to, and the fidelity tests check: window cosine 0.999 for bf16, 0.995 for
// int8, top-10 agreement 0.9).
struct PrecisionBounds {
  static constexpr double kBf16WindowCosine = 0.999;
  static constexpr double kInt8WindowCosine = 0.995;
  static constexpr double kTopkAgreement = 0.9;
  // `index --auto-min-cosine`: one bound on the worst window cosine for every lower precision
  // (unset: each precision's own). `--auto-min-agreement`: the bound on the top-10 agreement.
  std::optional<double> window_cosine;
  double topk_agreement = kTopkAgreement;
  double window_cosine_for(Precision precision) const;
};

// A lower precision must also be at least this much faster than the precision it would replace
// (best of kSpeedPasses timed passes each): a few percent is within a shared machine's noise, and
// a precision that is not clearly faster is not worth its distance from fp32.
inline constexpr double kSpeedMargin = 0.05;
inline constexpr int kSpeedPasses = 3;

// The two steps differ in what they depend on. Fidelity (cosines, agreement) is arithmetic: the
// same sample gives the same bits on every run, so it is measured on each library's own audio.
// Speed is timing: on a shared machine two runs differ by more than kSpeedMargin, and when every
// index's first run timed the precisions itself, two fresh indexes of one library chose
// differently (the tests comparing two fresh indexes, ProgressiveCli.KillNine... and
// Workers.TwoWorkers..., failed one run in two). So the times are measured once per machine and
// kept: one file per what decides their ranking (the model's architecture, its config hash, and
// the CPU's kernel set; not --threads or --batch, which change every precision's time alike and
// must not change the index), read by every later choice on the machine, so the same library
// chooses the same precision on every run. Deleting the
// file (after a CPU or clapsearch upgrade) measures again.
// The folder: clapsearch_cache_dir()/precision-speed.
std::string precision_speed_dir();

// The sample: up to kSampleTracks files spread evenly over the crawl's path order, up to
// kSampleWindows non-silent windows spread evenly within each file; below kMinSampleWindows (twice
// the k of the top-k agreement) the rankings would compare nearly everything with everything, so
// nothing is measured and fp32 is kept. A file's windows are the default progressive first pass's
// (index/precut.h: cut as spans, and handed to the run's first pass, so the sample costs no decode
// of its own), with a few more spread over the track, cut in the same decode, where the first pass
// has fewer than the sample wants (a small library); a file the first pass decodes whole (too
// short to cut, or a format the span decoder does not cut) is decoded from its start (at most its
// first 10 minutes), the second kind only when the others give too few windows.
inline constexpr int kSampleTracks = 16;
inline constexpr int kSampleWindows = 32;
inline constexpr int kSampleTopK = 10;
inline constexpr int kMinSampleWindows = 2 * kSampleTopK;

// One row of the table: a precision on the sample.
struct PrecisionTrial {
  std::string precision;  // "fp32", "bf16", "int8"
  bool measured = false;  // false: not a candidate on this CPU (reason says why)
  double window_cosine_min = 1;   // the worst sampled window's cosine to its fp32 embedding
  double topk_agreement = 1;      // mean over the queries of |top-k fp32 ∩ top-k this| / k
  double topk_agreement_min = 1;  // the worst query's
  double ms_per_window = 0;       // best of kSpeedPasses passes over a sample, once per machine
  double window_cosine_bound = 0; // the bound this precision was held to (0: fp32, the reference)
  bool holds_bounds = false;
  bool chosen = false;
  std::string reason;  // why chosen, or why not
};

struct PrecisionChoice {
  std::string chosen = "fp32";
  bool measured = false;  // false: no sample to measure on (no audio, too few windows): fp32 kept
  std::string reason;     // one sentence: what was chosen and why
  int tracks = 0, windows = 0, k = kSampleTopK, text_queries = 0;
  double topk_agreement_bound = PrecisionBounds::kTopkAgreement;
  double speed_margin = kSpeedMargin;
  std::string kernel_set;  // the CPU's kernel set it was measured on (model/engine_report.h)
  int threads = 0;         // model threads of the measurement
  // When this machine's times (PrecisionTrial::ms_per_window) were measured, RFC 3339; they are
  // read from precision_speed_dir() after the first measurement. "" when not measured.
  std::string speed_measured_at;
  std::vector<PrecisionTrial> trials;  // fp32, bf16, int8 (measured or not)
};

// The form the index records (meta "precision_choice") and `status --json` / GET /api/status
// show; parse_precision_choice reads it back (nullopt: empty, or not a recorded choice).
std::string precision_choice_json(const PrecisionChoice& choice);
std::optional<PrecisionChoice> parse_precision_choice(const std::string& json);

// True when `stored` was recorded by an auto run that found nothing to measure on: the next run
// of the index, if it still holds no tracks, chooses again.
bool precision_choice_open(const store::ModelIdentity& stored);

struct PrecisionChoiceRequest {
  hub::ResolvedModel model;
  ModelOpenOptions open;  // hub options, threads, warn (the precisions are set here)
  std::vector<std::string> dirs;
  index::CrawlOptions crawl;
  double window_s = 10, hop_s = 5, silence_db = -60;
  int batch = 8;
  // The run's progressive first pass (index::IndexSettings::first_pass; 0: none), and where its
  // cuts go for the run (null: nowhere). The sample always follows the default first pass's layout
  // (the choice must not depend on --first-pass); its cuts are handed over only to a run with that
  // first pass.
  int first_pass = index::kDefaultFirstPass;
  std::shared_ptr<index::PrecutFirstPasses> precut;
  PrecisionBounds bounds;
  Notice progress;  // a line when the measurement starts (it takes a minute with a real model)
};

// Crawls, samples, embeds and decides. Throws clap::Error when a model cannot be loaded; files
// that cannot be decoded are left out of the sample.
PrecisionChoice choose_precision(const PrecisionChoiceRequest& request);

}  // namespace clap::service
