#include "service/finetune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "audio/ffmpeg_library.h"
#include "core/error.h"
#include "index/identity.h"
#include "model/convert.h"
#include "model/laion.h"
#include "service/audio_embedding.h"
#include "service/captions.h"

namespace clap::service {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void check_out_dir(const std::string& out_dir, bool force) {
  if (out_dir.empty()) throw InvalidArgument("--out DIR is required: the folder the fine-tuned model is written to");
  std::error_code ec;
  if (fs::exists(out_dir, ec)) {
    if (!fs::is_directory(out_dir, ec)) throw Error(out_dir + ": exists and is not a folder");
    if (!fs::is_empty(out_dir, ec) && !force)
      throw Error(out_dir + ": the folder is not empty (pass --force to replace a previous fine-tune)");
  }
}

nlohmann::ordered_json metrics_json(const train::RetrievalMetrics& m) {
  return {{"r1", m.r1}, {"r5", m.r5}, {"r10", m.r10}, {"map10", m.map10}};
}

nlohmann::ordered_json epoch_json(const train::EpochReport& e) {
  nlohmann::ordered_json j;
  j["epoch"] = e.epoch;
  j["train_loss"] = e.epoch == 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.train_loss);
  j["val_loss"] = e.val_loss;
  j["text_to_audio"] = metrics_json(e.text_to_audio);
  j["audio_to_text"] = metrics_json(e.audio_to_text);
  j["mean_recall"] = e.mean_recall();
  return j;
}

std::string report_text(const FineTuneRequest& r, const FineTuneOutcome& o, const store::ModelIdentity& index_identity) {
  const train::FineTuneSettings& s = r.settings;
  const train::FineTuneResult& res = o.result;
  nlohmann::ordered_json j;
  j["clapsearch_finetune"] = 1;  // report format version
  j["base_model"] = {{"spec", o.base_model}, {"content_hash", index_identity.content_hash}};
  j["index"] = o.db_path;
  j["trained"] = r.train == "both" ? nlohmann::ordered_json{"text_projection", "audio_projection", "logit_scale_a"}
                                   : nlohmann::ordered_json{"text_projection", "logit_scale_a"};
  j["data"] = {{"captions_csv", r.captions_csv.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.captions_csv)},
               {"fma_tracks", r.fma_tracks.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.fma_tracks)},
               {"tracks", o.coverage.tracks},
               {"captioned_tracks", o.coverage.captioned},
               {"no_metadata", o.coverage.no_metadata},
               {"not_in_csv", o.coverage.not_in_csv},
               {"csv_paths_unmatched", o.coverage.csv_paths_unmatched},
               {"no_audio", o.coverage.no_audio},
               {"unreadable", o.coverage.unreadable},
               {"captions", o.coverage.captions},
               {"windows", o.coverage.windows}};
  nlohmann::ordered_json templates = nlohmann::ordered_json::array();
  for (size_t i = 0; i < o.templates.size(); ++i)
    templates.push_back({{"template", o.templates[i]}, {"tracks", o.coverage.template_uses[i]}});
  j["templates"] = templates;
  j["settings"] = {{"epochs", s.epochs},         {"batch", s.batch},       {"lr", s.lr},
                   {"weight_decay", s.weight_decay}, {"val_split", s.val_split}, {"patience", s.patience},
                   {"seed", s.seed}};
  j["split"] = {{"train_tracks", res.train_tracks}, {"val_tracks", res.val_tracks}};
  j["random_baseline"] = metrics_json(res.random_baseline);
  j["original"] = epoch_json(res.original);
  nlohmann::ordered_json epochs = nlohmann::ordered_json::array();
  for (const auto& e : res.epochs) epochs.push_back(epoch_json(e));
  j["epochs"] = epochs;
  j["best_epoch"] = res.best_epoch;
  j["written_epoch"] = !o.written ? nlohmann::ordered_json(nullptr)
                                  : nlohmann::ordered_json(res.best_epoch > 0 ? res.best_epoch
                                                                              : static_cast<int>(res.epochs.size()));
  j["stopped_early"] = res.stopped_early;
  j["logit_scale"] = {{"original", res.original_logit_scale},
                      {"written", res.best_epoch > 0 ? res.logit_scale : res.last_logit_scale}};
  j["improved"] = res.best_epoch > 0;
  j["model_written"] = o.written;
  j["reembed_needed"] = r.train == "both";
  j["seconds"] = {{"text_tower", o.seconds_embedding}, {"audio_tower", o.seconds_audio_tower}, {"training", o.seconds_training}};
  return j.dump(2) + "\n";
}

}  // namespace

FineTuneOutcome finetune(const FineTuneRequest& r) {
  if (r.train != "text" && r.train != "both") throw InvalidArgument("--train " + r.train + ": text or both");
  const bool both = r.train == "both";
  if (!r.captions_csv.empty() && !r.fma_tracks.empty()) throw Error("give --captions-csv or --fma-tracks, not both");
  check_out_dir(r.out_dir, r.force);
  FineTuneOutcome o;
  o.templates = r.templates.empty() ? default_caption_templates() : r.templates;
  std::vector<CaptionTemplate> templates;
  for (const std::string& t : o.templates) templates.push_back(CaptionTemplate::parse(t));
  o.coverage.template_uses.assign(templates.size(), 0);

  ExternalMetadata external;
  const bool has_external = !r.captions_csv.empty() || !r.fma_tracks.empty();
  if (!r.captions_csv.empty()) external = read_captions_csv(r.captions_csv);
  if (!r.fma_tracks.empty()) external = read_fma_tracks(r.fma_tracks);
  o.coverage.csv_rows = external.rows;
  o.coverage.csv_format = external.format;

  Library lib(r.library, Access::ReadOnly);
  const auto snapshot = lib.snapshot();
  o.db_path = lib.db_path();
  const index::ModelSpec& spec = lib.model_spec();
  o.base_model = r.library.model.empty() ? index::model_spec_of(lib.identity()) : r.library.model;
  const ModelFiles files = index::model_files_of(spec.resolved);
  {
    ConvertOptions target;  // what the final convert_model will check, before the training
    target.force = r.force;
    target.extra_files.emplace_back("training_report.json", "");
    check_conversion_target(files, r.out_dir, target);
  }

  // Training data: per track, its captions (as indexes into the distinct captions) and windows.
  std::vector<train::TrackExample> examples;
  std::vector<std::vector<size_t>> caption_ids;
  std::vector<std::string> captions;
  std::map<std::string, size_t> caption_index;
  std::vector<std::string> paths;  // of the examples
  std::set<const TrackMetadata*> used_rows;  // entries of the CSV some indexed track took
  for (const store::Track& t : snapshot->tracks()) {
    if (t.status != store::TrackStatus::Ok) continue;
    ++o.coverage.tracks;
    TrackMetadata meta = index_metadata(t, snapshot->labels_of(t.id));
    if (has_external) {
      if (const TrackMetadata* m = external.find(t)) {
        meta.merge(*m);
        used_rows.insert(m);
      } else {
        ++o.coverage.not_in_csv;
      }
    }
    const std::vector<std::string> texts = captions_for(meta, templates, &o.coverage.template_uses);
    if (texts.empty()) {
      ++o.coverage.no_metadata;
      continue;
    }
    train::TrackExample ex;
    ex.name = snapshot->display_path(t.path);
    for (const store::WindowRecord& w : lib.track_windows(t.id))
      if (!w.silent && static_cast<int>(w.embedding.size()) == lib.dim())
        ex.windows.insert(ex.windows.end(), w.embedding.begin(), w.embedding.end());
    if (ex.windows.empty()) {
      ++o.coverage.no_audio;
      continue;
    }
    paths.push_back(t.path);
    std::vector<size_t> ids;
    for (const std::string& text : texts) {
      auto [it, added] = caption_index.emplace(text, captions.size());
      if (added) captions.push_back(text);
      ids.push_back(it->second);
    }
    if (o.coverage.examples.size() < 3) o.coverage.examples.emplace_back(ex.name, texts.front());
    o.coverage.windows += static_cast<int64_t>(ex.windows.size()) / lib.dim();
    examples.push_back(std::move(ex));
    caption_ids.push_back(std::move(ids));
  }
  // Rows naming a file the index does not hold (a typo, another folder, not indexed yet) are
  // said, not silently dropped: a caption file that matches nothing is a mistake worth seeing.
  for (const auto& [path, meta] : external.by_path)
    if (!used_rows.count(&meta)) {
      ++o.coverage.csv_paths_unmatched;
      if (o.coverage.csv_unmatched_examples.size() < 3) o.coverage.csv_unmatched_examples.push_back(path);
    }
  if (o.coverage.csv_paths_unmatched > 0 && r.library.warn) {
    std::string first;
    for (const std::string& p : o.coverage.csv_unmatched_examples) first += (first.empty() ? "" : ", ") + p;
    r.library.warn(external.source + ": " + std::to_string(o.coverage.csv_paths_unmatched) + " of its " +
                   std::to_string(external.by_path.size()) +
                   " paths are not indexed tracks and were not used (e.g. " + first +
                   "); relative paths are taken from the CSV's folder");
  }
  o.coverage.captioned = static_cast<int64_t>(examples.size());
  o.coverage.captions = static_cast<int64_t>(captions.size());
  if (examples.size() < 4)
    throw Error("fine-tuning needs at least 4 indexed tracks with a caption and some non-silent audio; " +
                std::to_string(examples.size()) + " of " + std::to_string(o.coverage.tracks) + " have them (" +
                std::to_string(o.coverage.no_metadata) + " without metadata a template can use" +
                (has_external ? ", " + std::to_string(o.coverage.not_in_csv) + " not in " + external.source : std::string()) +
                "). Tag the files, give --captions-csv, or use --template with the fields they have");

  // The heads being tuned, from the model's own weights (Hugging Face names whatever the file).
  const ClapModel& model = lib.model();
  if (model.config().projection_hidden_act != Activation::Relu)
    throw Error(std::string("the model's projection heads use ") + activation_name(model.config().projection_hidden_act) +
                "; fine-tuning supports the ReLU heads every published CLAP model has");
  train::HeadParameters text_head, audio_head;
  double logit_scale = 0;
  {
    const auto checkpoint = laion::open_in_hugging_face_names(files.weights);
    text_head = train::HeadParameters::from_checkpoint(*checkpoint, "text_projection");
    if (both) audio_head = train::HeadParameters::from_checkpoint(*checkpoint, "audio_projection");
    const TensorView* scale = checkpoint->find("logit_scale_a");
    if (!scale || tensor_to_float(*scale).size() != 1) throw Error(files.weights + ": no scalar tensor logit_scale_a");
    logit_scale = tensor_to_float(*scale)[0];
  }

  // Each distinct caption through the text tower once.
  const auto t_embed = Clock::now();
  lib.note("embedding " + std::to_string(captions.size()) + " captions of " + std::to_string(examples.size()) + " tracks");
  ClapState state(r.library.threads, r.library.warn);
  const std::vector<float> pooled = model.text_pooled(state, captions);
  const size_t hidden = static_cast<size_t>(text_head.in);
  if (pooled.size() != captions.size() * hidden)
    throw Error("the text tower's width differs from text_projection's input (" + std::to_string(hidden) + ")");
  for (size_t i = 0; i < examples.size(); ++i)
    for (size_t id : caption_ids[i])
      examples[i].captions.insert(examples[i].captions.end(), pooled.begin() + static_cast<std::ptrdiff_t>(id * hidden),
                                  pooled.begin() + static_cast<std::ptrdiff_t>((id + 1) * hidden));
  o.seconds_embedding = seconds_since(t_embed);

  // --train both: the audio tower's pooled output of every non-silent window of the training
  // tracks, computed once (the audio head is trained on them; the tower never runs per epoch).
  if (both) {
    const auto t_audio = Clock::now();
    WindowSettings ws;
    ws.window_s = lib.identity().window_s;
    ws.hop_s = lib.identity().hop_s;
    ws.silence_db = lib.identity().silence_db;
    ws.pooled = true;
    std::vector<train::TrackExample> kept;
    // Loaded before the first track (as Pipeline::run does): a media library that cannot be
    // loaded is the run's error, not every track's "skipped" (hostile pass 20, H20C-2).
    if (!examples.empty()) audio::media::functions();
    for (size_t i = 0; i < examples.size(); ++i) {
      if (i % 25 == 0)
        lib.note("audio tower: " + std::to_string(i) + "/" + std::to_string(examples.size()) + " training tracks");
      try {
        const FileWindows fw = embed_file_windows(model, state, paths[i], ws);
        for (int64_t w = 0; w < fw.size(); ++w)
          if (!fw.silent[static_cast<size_t>(w)])
            examples[i].audio_pooled.insert(examples[i].audio_pooled.end(), fw.pooled.begin() + w * fw.pooled_dim,
                                            fw.pooled.begin() + (w + 1) * fw.pooled_dim);
      } catch (const Error& e) {
        if (r.library.warn) r.library.warn("skipped " + examples[i].name + ": " + e.what());
        ++o.coverage.unreadable;
        continue;
      }
      kept.push_back(std::move(examples[i]));
    }
    examples = std::move(kept);
    o.coverage.captioned = static_cast<int64_t>(examples.size());
    o.seconds_audio_tower = seconds_since(t_audio);
  }

  const auto t_train = Clock::now();
  o.result = both ? train::finetune_heads(examples, text_head, audio_head, logit_scale, r.settings, r.on_epoch)
                  : train::finetune_text_head(examples, text_head, logit_scale, r.settings, r.on_epoch);
  o.seconds_training = seconds_since(t_train);

  o.written = o.result.best_epoch > 0 || r.keep_anyway;
  o.report_json = report_text(r, o, lib.identity());
  if (!o.written) return o;

  ConvertOptions write;
  write.force = r.force;
  const bool improved = o.result.best_epoch > 0;  // else --keep-anyway: the last epoch's
  const train::HeadParameters& head = improved ? o.result.text_head : o.result.last_text_head;
  for (auto& [name, values] : head.to_float_tensors("text_projection")) write.replace[name] = std::move(values);
  if (both)
    for (auto& [name, values] :
         (improved ? o.result.audio_head : o.result.last_audio_head).to_float_tensors("audio_projection"))
      write.replace[name] = std::move(values);
  write.replace["logit_scale_a"] = {static_cast<float>(improved ? o.result.logit_scale : o.result.last_logit_scale)};
  // A step too large (--lr 1e20) drives the weights to NaN or infinity; --keep-anyway then wrote
  // a folder whose every text embedding was NaN (hostile pass 9, H9C-6). Such weights are no
  // model at all: nothing is written.
  for (const auto& [name, values] : write.replace)
    if (!std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); }))
      throw Error("training diverged: the " + std::string(improved ? "best" : "last") + " epoch's " + name +
                  " holds values that are not finite numbers (NaN or infinity); nothing was written to " + r.out_dir +
                  " (a smaller --lr: the default is 1e-4)");
  write.extra_files.emplace_back("training_report.json", o.report_json);
  const ConvertReport written = convert_model(files, r.out_dir, write);
  o.out_dir = written.out_dir;

  // The promise of a text fine-tune: the folder embeds audio exactly as the index's model, so
  // the index takes it as it is. Checked on the written files, and the folder must load.
  const index::ModelSpec tuned =
      index::describe_model(hub::resolve_model(o.out_dir, {}), lib.identity().window_s, lib.identity().hop_s,
                            lib.identity().silence_db, lib.identity().precision);
  o.reembed_needed = !spec.identity.shares_audio_with(tuned.identity);
  if (!both && o.reembed_needed) {
    remove_conversion(written);  // its files only: the folder may hold others
    throw Error(o.out_dir + ": the written model's audio side differs from the base model's (its files removed); this is a bug");
  }
  ClapModel::load(index::model_files_of(tuned.resolved));
  return o;
}

}  // namespace clap::service
