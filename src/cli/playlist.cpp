// clapsearch playlist and clapsearch path: playlists from the index's track embeddings (a radio
// around seed tracks and/or texts; a path from one track to another), printed as a table or JSON
// and optionally written as an M3U8 file. Both commands share their output, so they share this
// file; the algorithms are in search/playlist.h, the queries in service/playlists.h, the file
// format in service/m3u.h.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "service/m3u.h"
#include "service/playlists.h"

namespace clap::cli {
namespace {

// What both commands take besides their query.
struct PlaylistOutputOptions {
  LibraryCliOptions lib;
  int64_t length = 0;
  std::string m3u;
  bool absolute = false;
  bool json = false;
};

struct RadioCliOptions {
  PlaylistOutputOptions out;
  std::vector<std::string> seeds, texts;
  SeedCliOptions negatives;  // --not, --not-like
  double diversity = 0.3;
  RuleCliOptions rules;
};

struct PathCliOptions {
  PlaylistOutputOptions out;
  std::string from, to;
  RuleCliOptions rules;  // --where and --include-excluded (a path takes no caps)
};

// Prints the playlist (`title` heads the table; a radio marks its seeds, a path shows each step's
// t) and writes the M3U file when asked.
void emit(const service::LibrarySnapshot& snap, const service::Playlist& playlist, const PlaylistOutputOptions& o,
          const std::string& title, bool radio) {
  const auto& tracks = playlist.tracks;
  if (static_cast<int64_t>(tracks.size()) < playlist.requested) {
    // Copies of one recording play once: when they are why the list is short, say so.
    const std::string why = playlist.copies_left_out > 0
                                ? std::string("the index has no more usable ones (status ok, with an embedding) that are "
                                              "not copies of a track already in it") +
                                      (radio ? " or of a seed" : " or of FROM or TO") + "; copies of one recording play once"
                                : "the index has no more usable ones (status ok, with an embedding)";
    print_note(std::string(radio ? "the playlist" : "the path") + " holds " + std::to_string(tracks.size()) + " of the " +
               std::to_string(playlist.requested) + " tracks asked for: " + why);
  }
  // The file first: a playlist that cannot be written fails the run before anything is printed.
  if (!o.m3u.empty()) {
    std::vector<service::M3uEntry> entries;
    for (const auto& h : tracks)
      if (const store::Track* t = snap.track(h.id)) entries.push_back(service::m3u_entry(*t));
    const std::vector<std::string> skipped = service::write_m3u(o.m3u, entries, o.absolute);
    for (const std::string& path : skipped)
      print_warning("left out of " + terminal_text(o.m3u) + ": " + terminal_text(path) +
                    ": a file name with a line break (shown as '?') cannot be written to an M3U playlist");
    const std::string folder = std::filesystem::absolute(o.m3u).lexically_normal().parent_path().string();
    print_note("wrote " + o.m3u + ": " + std::to_string(entries.size() - skipped.size()) + " tracks, " +
               (o.absolute ? std::string("absolute paths") : "paths relative to " + folder));
  }

  if (o.json) {
    ojson out = ojson::array();
    for (size_t i = 0; i < tracks.size(); ++i) {
      const bool seed = static_cast<int64_t>(i) < playlist.seeds;
      out.push_back(service::playlist_track_record(snap, tracks[i], i + 1, radio ? &seed : nullptr));
    }
    print_json(out);
  } else {
    std::printf("%s\n\n", terminal_text(title).c_str());
    std::vector<std::string> headers = {"#", radio ? "" : "t", "cosine", "length", "track", "tags"};
    Table table(headers, {true, !radio, true, true, false, false});
    const size_t n = tracks.size();
    for (size_t i = 0; i < n; ++i) {
      const store::Track* t = snap.track(tracks[i].id);
      const std::string marker = radio ? (static_cast<int64_t>(i) < playlist.seeds ? "seed" : "")
                                       : fixed(n > 1 ? static_cast<double>(i) / static_cast<double>(n - 1) : 0.0, 2);
      table.add({std::to_string(i + 1), marker, fixed(tracks[i].score, 4), t ? mmss(t->duration_s) : "?",
                 t ? snap.display_path(t->path) : "?", t ? snap.tags_text(*t) : ""});
    }
    table.print(stdout);
  }
}

int run_radio(const RadioCliOptions& o) {
  const service::ResultRules parsed = o.rules.rules();
  service::Library lib(o.out.lib.library(), service::Access::ReadWriteIfPossible);  // caches new texts
  const auto snap = lib.snapshot();
  const service::ResultRules rules = o.rules.music_only(parsed, *snap);
  service::RadioRequest request;
  request.seeds = o.seeds;
  request.texts = o.texts;
  request.length = o.out.length;
  request.diversity = o.diversity;
  request.rules = rules;
  request.negatives = o.negatives.terms();
  const service::Playlist playlist = service::radio(lib, *snap, request);

  std::string from;
  if (playlist.seeds > 0) from = std::to_string(playlist.seeds) + (playlist.seeds == 1 ? " seed track" : " seed tracks");
  for (const auto& text : o.texts) from += (from.empty() ? "\"" : ", \"") + text + "\"";
  for (const auto& text : o.negatives.nots) from += ", not \"" + text + "\"";
  for (const auto& seed : o.negatives.not_likes) from += ", not like " + seed;
  const std::string title = "playlist from " + from + ", diversity " + fixed(o.diversity, 2) + ": " +
                            std::to_string(playlist.tracks.size()) + " tracks (cosine to the query)";
  emit(*snap, playlist, o.out, title, true);
  return 0;
}

int run_path(const PathCliOptions& o) {
  const service::ResultRules parsed = o.rules.rules();
  service::Library lib(o.out.lib.library(), service::Access::ReadOnly);
  const auto snap = lib.snapshot();
  const service::Playlist playlist = service::track_path(*snap, o.from, o.to, o.out.length, o.rules.music_only(parsed, *snap));
  const store::Track* a = snap->track(playlist.tracks.front().id);
  const store::Track* b = snap->track(playlist.tracks.back().id);
  const std::string title = "path from " + (a ? snap->display_path(a->path) : o.from) + " to " +
                            (b ? snap->display_path(b->path) : o.to) + ": " + std::to_string(playlist.tracks.size()) +
                            " tracks (cosine to each step's target)";
  emit(*snap, playlist, o.out, title, false);
  return 0;
}

// -n, --m3u, --absolute, --json and the library options.
void add_output_options(CLI::App* cmd, PlaylistOutputOptions& o, int64_t default_length, const std::string& length_help) {
  cmd->add_option("-n,--length", o.length, length_help)->default_val(default_length)->check(positive());
  auto* m3u = cmd->add_option("--m3u", o.m3u,
                              "Also write the playlist to FILE as M3U8 (#EXTM3U, #EXTINF lines, UTF-8), written whole or "
                              "not at all; name it .m3u8 (or .m3u) inside your music folder for a music server to import it")
                  ->type_name("FILE");
  cmd->add_flag("--absolute", o.absolute, "In the M3U file, absolute paths (default: relative to the file's folder)")
      ->needs(m3u);
  cmd->add_flag("--json", o.json,
                "JSON list instead of the table: rank, track_id, path, score (cosine), artist, title, duration_s");
  add_library_options(cmd, o.lib);
  add_text_precision_option(cmd, o.lib.text_precision);
}

void check_m3u_target(const PlaylistOutputOptions& o, const std::string& command) {
  if (o.m3u == "-")
    throw CLI::ValidationError(command, "--m3u needs a file: its folder is where the relative paths start");
}

}  // namespace

void add_playlist_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<RadioCliOptions>();
  CLI::App* cmd = app.add_subcommand("playlist", "A radio: tracks around seed tracks and/or a text, varied (MMR)");
  cmd->add_option("--seed,-s", o->seeds, "A track of the index (id or path, as `similar` takes it); repeatable, played first")
      ->type_name("TRACK")
      ->allow_extra_args(false);
  cmd->add_option("--text,-t", o->texts, "A description (\"warm lo-fi guitar\"); repeatable")->allow_extra_args(false);
  cmd->add_option("--diversity", o->diversity, "0 = the nearest tracks to the query, up to 1 = as varied as possible")
      ->default_val(0.3)
      ->check(number_between(0, 1));
  add_seed_options(cmd, o->negatives, /*seeds=*/false, /*texts=*/false, /*mix_seed=*/false);
  add_rule_options(cmd, o->rules);
  add_output_options(cmd, o->out, 25, "Tracks in the playlist, seeds included");
  cmd->footer(
      "The query is the normalised mean of the seeds' track embeddings and the texts' embeddings. The seeds come first\n"
      "(in the order given), then, from the 20 x n tracks nearest to the query (at least 200), the track c maximising\n"
      "  (1 - diversity) * cos(query, c) - diversity * max over the tracks already chosen s of cos(s, c)\n"
      "(maximal marginal relevance), until there are n tracks. Scores are cosines to the query; ties go to the smaller\n"
      "track id, so the same index and options give the same playlist. Give at least one --seed or --text.\n"
      "--not TEXT[:W] / --not-like TRACK[:W] push the query away: normalise(Σ seeds + Σ texts − Σ w·negatives), each a unit\n"
      "embedding (docs/user-guide.md, Several seeds); tracks named by --not-like never play.");
  cmd->callback([o, &action] {
    if (o->seeds.empty() && o->texts.empty())
      throw CLI::ValidationError("playlist", "give at least one --seed TRACK or --text \"description\"");
    check_m3u_target(o->out, "playlist");
    action = [o] { return run_radio(*o); };
  });
}

void add_path_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<PathCliOptions>();
  CLI::App* cmd = app.add_subcommand("path", "A path: tracks moving smoothly from one track to another");
  cmd->add_option("from", o->from, "The first track (id or path in the index)")->required();
  cmd->add_option("to", o->to, "The last track (id or path in the index)")->required();
  add_output_options(cmd, o->out, 10, "Tracks in the path, FROM and TO included (at least 2)");
  cmd->add_option("--where", o->rules.where,
                  "Steps only through tracks matching EXPR (FROM and TO are always the ends; fields, operators: "
                  "docs/user-guide.md, Filters)")
      ->type_name("EXPR");
  cmd->add_flag("--include-excluded", o->rules.include_excluded,
                "Steps through the tracks the music-only rule leaves out too (clapsearch --exclude-rule)");
  cmd->footer(
      "With a and b the two tracks' embeddings, step i of n aims at normalise((1 - t) * a + t * b), t = i / (n - 1),\n"
      "and takes the track nearest to it (cosine) that is not in the path yet: FROM first, TO last, no repeats.\n"
      "A library with fewer than n tracks gives them all (a note on stderr says so).");
  cmd->callback([o, &action] {
    if (o->out.length < 2)
      throw CLI::ValidationError("path", "-n: a path needs at least 2 tracks (FROM and TO), got " +
                                             std::to_string(o->out.length));
    check_m3u_target(o->out, "path");
    action = [o] { return run_path(*o); };
  });
}

}  // namespace clap::cli
