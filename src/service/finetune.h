// `clapsearch finetune`: a library's own metadata -> a CLAP model that knows its words
// (issue: fine-tuning). Reads the index's tracks, their tags and stored labels and an optional
// CSV; turns them into captions with templates; embeds each distinct caption's pooled text
// once; trains the text projection head and the logit scale on (window embedding, caption)
// pairs (train/finetune.h); and writes the best epoch's model as a complete Hugging Face
// folder beside a training_report.json. The audio side is untouched, so the written model
// applies to the same index at once (`--model DIR`), without re-embedding.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "service/library.h"
#include "train/finetune.h"

namespace clap::service {

struct FineTuneRequest {
  LibraryOptions library;   // db, model (empty: the index's), threads, note, warn
  std::string captions_csv;  // path,caption or path,tags ("" = none)
  std::string fma_tracks;    // the FMA's tracks.csv ("" = none)
  std::vector<std::string> templates;  // empty: default_caption_templates()
  // What is trained: "text" (the text head: the index stays valid) or "both" (both heads: the
  // audio tower's pooled outputs of the training tracks are computed once, by decoding them
  // again, and the index must be re-embedded with the result).
  std::string train = "text";
  train::FineTuneSettings settings;
  std::string out_dir;
  bool force = false;        // replace a non-empty --out folder
  bool keep_anyway = false;  // write the model even when no epoch beat the original
  train::EpochCallback on_epoch;  // after the original's evaluation and after every epoch
};

// How many tracks got captions, and why the others did not.
struct CaptionCoverage {
  int64_t tracks = 0;           // indexed tracks, status ok
  int64_t captioned = 0;        // with at least one caption and one non-silent window: training data
  int64_t no_metadata = 0;      // no field a template names, no caption
  int64_t not_in_csv = 0;       // a CSV was given and the track is not in it (its index tags may still serve)
  int64_t no_audio = 0;         // silent throughout: no window to pair with
  int64_t unreadable = 0;       // --train both: the file could not be decoded again (moved, deleted)
  int64_t captions = 0;         // distinct captions over all training tracks
  int64_t windows = 0;          // non-silent windows of the training tracks
  int64_t csv_rows = 0;         // rows of the CSV read
  int64_t csv_paths_unmatched = 0;             // paths of a captions CSV that are no indexed track
  std::vector<std::string> csv_unmatched_examples;  // the first few of them
  std::string csv_format;       // "captions CSV", "tags CSV", "FMA tracks.csv", "" = none
  std::vector<std::pair<std::string, std::string>> examples;  // (track, caption), a few
  std::vector<int64_t> template_uses;  // per template: tracks it made a caption for
};

struct FineTuneOutcome {
  std::string base_model;  // the model tuned (the index's, or --model)
  std::string db_path;
  std::vector<std::string> templates;
  CaptionCoverage coverage;
  train::FineTuneResult result;
  double seconds_embedding = 0, seconds_audio_tower = 0, seconds_training = 0;
  bool reembed_needed = false;  // the written model embeds audio differently (--train both)
  bool written = false;      // a model folder was written (an epoch beat the original, or --keep-anyway)
  std::string out_dir;       // where (absolute), when written
  std::string report_json;   // training_report.json's text (also when nothing was written)
};

// Throws clap::Error: no index, a bad CSV or template, too few captioned tracks, an
// unwritable --out. Progress goes to request.library.note.
FineTuneOutcome finetune(const FineTuneRequest& request);

}  // namespace clap::service
