// clapsearch overlaps: passages of one track that occur in another (a song inside a mix or a
// medley, a reused loop, a shared intro), found through the window index.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "service/queries.h"

namespace clap::cli {
namespace {

struct OverlapsOptions {
  LibraryCliOptions lib;
  std::string track;
  double min_length = 20;
  int neighbours = 10;
  bool json = false;
  bool quiet = false;
};

int run_overlaps(const OverlapsOptions& o) {
  service::Library lib(o.lib.library(), service::Access::ReadOnly);
  const auto snap = lib.snapshot();
  std::vector<int64_t> of;
  if (!o.track.empty()) {
    const store::Track* t = snap->find_track(o.track);
    if (!t) throw Error(o.track + ": no such track in the index (give a track id or the path of an indexed file)");
    if (t->status != store::TrackStatus::Ok)
      throw Error(o.track + ": indexed with an error, so it has no windows (" + t->error + ")");
    of.push_back(t->id);
  }
  search::OverlapOptions options;
  options.min_length_s = o.min_length;
  options.neighbours = o.neighbours;
  const bool show_progress = !o.quiet && of.empty() && stderr_is_terminal();
  const auto found = service::overlaps(*snap, of, options, [&](int64_t done, int64_t total) {
    if (show_progress && (done % 16 == 0 || done == total))
      std::fprintf(stderr, "\rsearching tracks %lld/%lld", static_cast<long long>(done), static_cast<long long>(total));
  });
  if (show_progress) std::fprintf(stderr, "\r\033[K");

  auto path_of = [&](int64_t id) {
    const store::Track* t = snap->track(id);
    return t ? t->path : std::string();
  };
  if (o.json) {
    ojson out = ojson::array();
    for (const auto& v : found) {
      ojson r;
      r["track_a"] = v.track_a;
      r["path_a"] = path_of(v.track_a);
      r["a_start"] = json_num(v.a_start);
      r["a_end"] = json_num(v.a_end);
      r["track_b"] = v.track_b;
      r["path_b"] = path_of(v.track_b);
      r["b_start"] = json_num(v.b_start);
      r["b_end"] = json_num(v.b_end);
      r["score"] = json_num(v.score);
      r["windows"] = v.windows;
      out.push_back(r);
    }
    print_json(out);
    return 0;
  }
  for (const auto& v : found)
    std::printf("%s %s \u2248 %s %s  (%s, %d windows)\n", terminal_text(snap->display_path(path_of(v.track_a))).c_str(),
                time_range(v.a_start, v.a_end).c_str(), terminal_text(snap->display_path(path_of(v.track_b))).c_str(),
                time_range(v.b_start, v.b_end).c_str(), fixed(v.score, 4).c_str(), v.windows);
  // %g: --min-length 1e308 printed all 309 digits, and 1e-300 printed "0 s" (hostile pass 8).
  if (found.empty()) std::printf("no shared passages of %g s or more\n", o.min_length);
  return 0;
}

}  // namespace

void add_overlaps_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<OverlapsOptions>();
  CLI::App* cmd = app.add_subcommand("overlaps", "Passages of one track that occur in another (mixes, medleys, loops, intros)");
  cmd->add_option("track", o->track, "Only this track (id or path); default: every track, each pair once");
  cmd->add_option("--min-length", o->min_length, "Shortest passage reported, in seconds")
      ->default_val(20)
      ->check(positive());
  cmd->add_option("--neighbours", o->neighbours, "Windows asked of the window index per window")
      ->default_val(10)
      ->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", o->json,
                "JSON list: track_a, path_a, a_start, a_end, track_b, path_b, b_start, b_end (s), score, windows");
  cmd->add_flag("-q,--quiet", o->quiet, "No progress on stderr");
  add_library_options(cmd, o->lib);
  cmd->footer(
      "A window matches another track's window when it is clearly closer to it than to its own song one hop later;\n"
      "matches at one constant time offset chain into a passage (score = mean cosine of its windows).");
  cmd->callback([o, &action] { action = [o] { return run_overlaps(*o); }; });
}

}  // namespace clap::cli
