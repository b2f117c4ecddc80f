// clapsearch duplicates: groups of tracks that are the same recording in another file, each
// with a suggested keeper (the best copy). Reads the index, the files' headers and a few seconds
// of their audio (the measured band); never
// deletes or changes anything: --json is what a script would act on.
#include <cmath>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "service/csv_number.h"
#include "service/duplicates.h"

namespace clap::cli {
namespace {

struct DuplicatesOptions {
  LibraryCliOptions lib;
  double threshold = 0;
  double min_duration_ratio = 0.9;
  bool json = false;
  std::string csv;
  bool quiet = false;
};

int run_duplicates(const DuplicatesOptions& o) {
  service::Library lib(o.lib.library(), service::Access::ReadOnly);
  const auto snap = lib.snapshot();
  search::DuplicateOptions options;
  options.threshold = o.threshold;
  options.min_duration_ratio = o.min_duration_ratio;
  const bool show_progress = !o.quiet && stderr_is_terminal();
  const auto groups = service::find_duplicates(*snap, options, {}, [&](int64_t done, int64_t total) {
    if (show_progress) std::fprintf(stderr, "\rcomparing tracks %lld/%lld", static_cast<long long>(done), static_cast<long long>(total));
  });
  if (show_progress) std::fprintf(stderr, "\r\033[K");

  if (o.json) {
    print_json(service::duplicate_groups_record(*snap, groups));
    return 0;
  }
  if (!o.csv.empty()) {
    CsvOut csv(o.csv);
    csv.row({"group", "track_id", "keeper", "score", "offset_s", "bit_error_rate", "aligned", "codec", "lossless", "bit_rate", "sample_rate",
             "channels", "duration_s", "path"});
    for (size_t i = 0; i < groups.size(); ++i)
      for (const auto& m : groups[i].members) {
        const store::Track* t = snap->track(m.track_id);
        csv.row({std::to_string(i + 1), std::to_string(m.track_id), m.keeper ? "1" : "0", service::csv_number(m.score),
                 service::csv_number(m.offset_s), m.bit_error_rate < 0 ? "" : service::csv_number(m.bit_error_rate),
                 m.aligned < 0 ? "" : service::csv_number(m.aligned),
                 m.format_known ? m.format.codec : "", m.format_known ? (m.format.lossless ? "1" : "0") : "",
                 m.format_known ? std::to_string(m.format.bit_rate) : "",
                 m.format_known ? std::to_string(m.format.sample_rate) : "",
                 m.format_known ? std::to_string(m.format.channels) : "", service::csv_number(m.duration_s),
                 t ? t->path : ""});
      }
    csv.close();
    return 0;
  }
  if (groups.empty()) {
    size_t usable = 0;
    for (const auto& t : snap->tracks()) usable += t.status == store::TrackStatus::Ok && !t.silent;
    std::printf("no duplicates among %zu track%s\n", usable, usable == 1 ? "" : "s");
    return 0;
  }
  size_t copies = 0;
  for (size_t i = 0; i < groups.size(); ++i) {
    copies += groups[i].members.size() - 1;
    std::printf("%sgroup %zu: %zu files\n", i ? "\n" : "", i + 1, groups[i].members.size());
    Table table({"", "cosine", "offset", "format", "length", "track"}, {false, true, true, false, true, false});
    for (const auto& m : groups[i].members) {
      const store::Track* t = snap->track(m.track_id);
      char offset[32];
      std::snprintf(offset, sizeof offset, "%+.1f s", std::abs(m.offset_s) < 0.05 ? 0.0 : m.offset_s);
      table.add({m.keeper ? "keep" : "", m.keeper ? "" : fixed(m.score, 5), m.keeper ? "" : offset,
                 terminal_text(service::format_text(m)), mmss(m.duration_s),
                 t ? terminal_text(snap->display_path(t->path)) : "?"});
    }
    table.print(stdout);
  }
  std::printf("\n%zu groups, %zu files that copy another (nothing was changed)\n", groups.size(), copies);
  return 0;
}

}  // namespace

void add_duplicates_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<DuplicatesOptions>();
  CLI::App* cmd = app.add_subcommand(
      "duplicates", "Groups of tracks that are the same recording in another file, with the best copy to keep");
  cmd->footer(
      "A pair of tracks is a duplicate when their acoustic fingerprints (Chromaprint, stored by `index`) agree at one "
      "time offset: at most 25 % of the bits differ, over most of the shorter track. A track is compared with its 16 "
      "nearest tracks by embedding that are not copies of it found already. Tracks without fingerprints "
      "(an index made before they were stored, until the next `index` run adds them; clips under ~5 s) are compared "
      "by their windows instead: each window closer to its copy than to the song itself one hop later. Identical "
      "files are always duplicates. Nothing is deleted.");
  cmd->add_option("--threshold", o->threshold,
                  "Instead of fingerprints and windows: a pair is a duplicate when its track cosine is at least this (0-1)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-duration-ratio", o->min_duration_ratio, "Shorter / longer duration of a pair at least")
      ->default_val(0.9)
      ->check(CLI::Range(0.0, 1.0));
  auto* json = cmd->add_flag("--json", o->json,
                             "JSON list of groups: keeper, tracks [{track_id, path, keeper, score, offset_s, bit_error_rate, "
                             "aligned, codec, lossless, bit_rate, sample_rate, channels, ...}], pairs [{a, b, rule, ...}]");
  cmd->add_option("--csv", o->csv, "Write CSV (one row per track of a group) to FILE (- = stdout)")->excludes(json);
  cmd->add_flag("-q,--quiet", o->quiet, "No progress on stderr");
  add_library_options(cmd, o->lib);
  cmd->callback([o, &action] { action = [o] { return run_duplicates(*o); }; });
}

}  // namespace clap::cli
