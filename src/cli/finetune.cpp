// clapsearch finetune: teach the model the library's own words (service/finetune.h). Prints the
// data it found, one line per epoch beside the random baseline and the original model, and
// what was written.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "service/finetune.h"

namespace clap::cli {
namespace {

struct FineTuneCliOptions {
  LibraryCliOptions lib;
  service::FineTuneRequest request;
  bool json = false;
};

std::string f3(double v) { return fixed(v, 3); }

std::string metrics_cells(const train::RetrievalMetrics& m) {
  return f3(m.r1) + "  " + f3(m.r5) + "  " + f3(m.r10) + "  " + f3(m.map10);
}

void print_epoch(const train::EpochReport& e) {
  const std::string name = e.epoch == 0 ? "original" : std::to_string(e.epoch);
  const std::string train = e.epoch == 0 ? "      -" : fixed(e.train_loss, 4);
  std::printf("%-9s %8s  %8s   %s   %s   %.3f\n", name.c_str(), train.c_str(), fixed(e.val_loss, 4).c_str(),
              metrics_cells(e.text_to_audio).c_str(), metrics_cells(e.audio_to_text).c_str(), e.mean_recall());
  std::fflush(stdout);
}

int run_finetune(FineTuneCliOptions& o) {
  service::FineTuneRequest& r = o.request;
  r.library = o.lib.library();
  bool header_printed = false;
  if (!o.json) {
    r.on_epoch = [&](const train::EpochReport& e) {
      if (!header_printed) {
        std::printf("%-9s %8s  %8s   %-28s   %-28s   %s\n", "epoch", "train", "val", "text->audio R@1  R@5  R@10  mAP",
                    "audio->text R@1  R@5  R@10  mAP", "mean R");
        header_printed = true;
      }
      print_epoch(e);
    };
  }
  const service::FineTuneOutcome out = service::finetune(r);
  const train::FineTuneResult& res = out.result;
  if (o.json) {
    print_json(ojson::parse(out.report_json));
    return 0;
  }
  const service::CaptionCoverage& c = out.coverage;
  std::printf("random    %8s  %8s   %s   %s   %.3f   (chance on %d validation tracks)\n", "", "",
              metrics_cells(res.random_baseline).c_str(), metrics_cells(res.random_baseline).c_str(),
              res.random_baseline.mean_recall(), res.val_tracks);
  std::printf("\ndata      %lld of %lld tracks captioned (%lld captions, %lld windows); train %d, validation %d tracks\n",
              static_cast<long long>(c.captioned), static_cast<long long>(c.tracks), static_cast<long long>(c.captions),
              static_cast<long long>(c.windows), res.train_tracks, res.val_tracks);
  if (c.no_metadata) std::printf("          %lld without metadata any template can use\n", static_cast<long long>(c.no_metadata));
  if (!c.csv_format.empty())
    std::printf("          %s: %lld rows; %lld indexed tracks not in it; %lld of its paths not indexed\n",
                c.csv_format.c_str(), static_cast<long long>(c.csv_rows), static_cast<long long>(c.not_in_csv),
                static_cast<long long>(c.csv_paths_unmatched));
  if (c.no_audio) std::printf("          %lld silent throughout (no window to pair)\n", static_cast<long long>(c.no_audio));
  for (const auto& [track, caption] : c.examples)
    std::printf("          e.g. %s: %s\n", terminal_text(track).c_str(), terminal_text(caption).c_str());
  if (out.seconds_audio_tower > 0)
    std::printf("time      text tower %.1f s, audio tower %.1f s (pooled outputs of %lld windows, once), training %.1f s\n",
                out.seconds_embedding, out.seconds_audio_tower, static_cast<long long>(c.windows), out.seconds_training);
  else
    std::printf("time      text tower %.1f s, training %.1f s\n", out.seconds_embedding, out.seconds_training);
  if (c.unreadable) std::printf("          %lld could not be decoded again (skipped)\n", static_cast<long long>(c.unreadable));
  if (res.best_epoch > 0) {
    std::printf("best      epoch %d: mean recall %.3f vs %.3f for the original%s\n", res.best_epoch,
                res.epochs[res.best_epoch - 1].mean_recall(), res.original.mean_recall(),
                res.stopped_early ? " (stopped early: no better epoch since)" : "");
  } else {
    std::printf("result    no epoch beat the original model on the validation tracks (mean recall %.3f)\n",
                res.original.mean_recall());
  }
  if (out.written) {
    std::printf("wrote     %s (model folder + training_report.json)%s\n", terminal_text(out.out_dir).c_str(),
                res.best_epoch == 0 ? " because of --keep-anyway" : "");
    if (out.reembed_needed)
      std::printf("use it    the audio head changed, so the index's embeddings are the old model's: re-embed with\n"
                  "          clapsearch index DIR... --db %s --model %s --rebuild   (or --db NEW.db to keep both)\n",
                  terminal_text(out.db_path).c_str(), terminal_text(out.out_dir).c_str());
    else
      std::printf("use it    clapsearch search \"...\" --model %s   (the index applies as it is: no re-indexing)\n",
                  terminal_text(out.out_dir).c_str());
  } else {
    std::printf("kept      the original model; nothing written (--keep-anyway writes the last epoch's anyway)\n");
  }
  return 0;
}

}  // namespace

void add_finetune_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<FineTuneCliOptions>();
  service::FineTuneRequest& r = o->request;
  CLI::App* cmd = app.add_subcommand(
      "finetune",
      "Fine-tune the text projection head on the library's own metadata (tags, stored labels, a CSV); the index "
      "applies to the result as it is");
  cmd->add_option("--out,-o", r.out_dir, "Folder to write the fine-tuned model to (Hugging Face layout)")->required();
  cmd->add_option("--captions-csv", r.captions_csv,
                  "CSV of path,caption or path,tags (tags separated by ';'; header row path,caption or path,tags)");
  cmd->add_option("--fma-tracks", r.fma_tracks,
                  "The Free Music Archive's tracks.csv (tracks matched by the id in their file name, or title and artist)");
  cmd->add_option("--template,-t", r.templates,
                  "Caption template, repeatable, with {title} {artist} {album} {genre} {date} {tags} {caption} "
                  "(default: five built-in ones)");
  cmd->add_option("--train", r.train,
                  "What is trained: text (the text projection head and logit scale; the index stays valid) or both (also "
                  "the audio head: the training tracks are decoded and run through the audio tower once, and the index "
                  "must be re-embedded with the result)")
      ->check(CLI::IsMember({"text", "both"}))
      ->default_val("text");
  cmd->add_option("--epochs", r.settings.epochs, "Most epochs")->check(positive())->default_val(r.settings.epochs);
  cmd->add_option("--batch", r.settings.batch, "Pairs per step (at least 2)")->check(CLI::Range(2, 65536))->default_val(r.settings.batch);
  cmd->add_option("--lr", r.settings.lr, "AdamW learning rate")->check(positive())->default_val(r.settings.lr);
  cmd->add_option("--weight-decay", r.settings.weight_decay, "AdamW decoupled weight decay")
      ->check(CLI::Range(0.0, 1.0))
      ->default_val(r.settings.weight_decay);
  cmd->add_option("--val-split", r.settings.val_split, "Share of tracks held out for validation (by track, seeded)")
      ->check(CLI::Range(0.01, 0.9))
      ->default_val(r.settings.val_split);
  cmd->add_option("--patience", r.settings.patience, "Epochs without a better validation mean recall before stopping")
      ->check(positive())
      ->default_val(r.settings.patience);
  cmd->add_option("--seed", r.settings.seed, "Seed of the split, the sampling and the shuffles")->default_val(0);
  cmd->add_flag("--keep-anyway", r.keep_anyway, "Write the model even when no epoch beat the original");
  cmd->add_flag("--force", r.force, "Replace a non-empty --out folder");
  cmd->add_flag("--json", o->json, "Print training_report.json's content instead of the table");
  add_library_options(cmd, o->lib);
  cmd->callback([o, &action] { action = [o] { return run_finetune(*o); }; });
}

}  // namespace clap::cli
