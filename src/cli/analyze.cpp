// clapsearch analyze: batch reports (every track × every query in one pass, as CSV) and one song
// against one query window by window.
#include <fnmatch.h>

#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/common.h"
#include "service/csv_number.h"
#include "service/queries.h"
#include "core/error.h"
#include "index/crawl.h"
#include "search/analyze.h"

namespace clap::cli {
namespace {

struct AnalyzeCliOptions {
  LibraryCliOptions lib;
  std::vector<std::string> positional;  // FILE_OR_TRACK "query"
  std::string queries_file;
  std::vector<std::string> more;  // -q
  std::vector<std::string> globs;
  std::string csv;
  std::string aggregate = "mean";
  double high = 0.3, moderate = 0.15;
  bool json = false;
};

bool glob_match(const std::string& pattern, const std::string& s) { return fnmatch(pattern.c_str(), s.c_str(), 0) == 0; }

search::AnalyzeOptions analyze_options(const AnalyzeCliOptions& o) {
  if (!(o.high >= o.moderate)) throw InvalidArgument("--high must be at least --moderate");
  search::AnalyzeOptions ao;
  ao.aggregate = search::parse_aggregate(o.aggregate);
  ao.thresholds.high = o.high;
  ao.thresholds.moderate = o.moderate;
  return ao;
}

// --- every track × every query -----------------------------------------------------------------

int run_batch(const AnalyzeCliOptions& o) {
  std::vector<std::string> queries;
  if (!o.queries_file.empty()) queries = read_query_file(o.queries_file);
  queries.insert(queries.end(), o.more.begin(), o.more.end());
  if (queries.empty()) throw InvalidArgument("give queries: --queries FILE (one per line) or -q \"...\"");
  search::AnalyzeOptions ao = analyze_options(o);

  service::Library lib(o.lib.library(), service::Access::ReadWriteIfPossible);
  const auto snap = lib.snapshot();
  const search::Catalog& catalog = snap->catalog();
  if (!o.globs.empty()) {
    for (int64_t id : catalog.track_ids()) {
      const store::Track* t = snap->track(id);
      if (!t) continue;
      const std::string rel = snap->display_path(t->path), base = std::filesystem::path(t->path).filename().string();
      for (const auto& g : o.globs)
        if (glob_match(g, t->path) || glob_match(g, rel) || glob_match(g, base)) {
          ao.tracks.push_back(id);
          break;
        }
    }
    if (ao.tracks.empty()) throw Error("no searchable track matches --tracks");
  }
  const auto rows = service::analyze_texts(lib, *snap, queries, ao);

  if (!o.csv.empty()) {
    CsvOut csv(o.csv);
    csv.row(service::analyze_csv_header());
    for (const auto& r : rows) csv.row(service::analyze_csv_row(*snap, r, queries[r.query]));
    csv.close();
    if (o.csv != "-")
      std::fprintf(stderr, "wrote %s: %zu rows (%zu tracks × %zu queries)\n", terminal_text(o.csv).c_str(), rows.size(),
                   rows.size() / queries.size(), queries.size());
    return 0;
  }
  if (o.json) {
    ojson out = ojson::array();
    for (const auto& r : rows) out.push_back(service::analyze_row_record(*snap, r, queries[r.query], ao.aggregate));
    print_json(out);
    return 0;
  }
  Table table({"track", "query", "mean", "max", "min", "std", "windows", "best", "label"},
              {false, false, true, true, true, true, true, false, false});
  for (const auto& r : rows) {
    const store::Track* t = snap->track(r.track_id);
    table.add({t ? snap->display_path(t->path) : std::to_string(r.track_id), queries[r.query], fixed(r.stats.mean, 4),
               fixed(r.stats.max, 4), fixed(r.stats.min, 4), fixed(r.stats.std, 4), std::to_string(r.stats.n_windows),
               time_range(r.stats.best_start, r.stats.best_end), search::label_name(r.label)});
  }
  table.print(stdout);
  return 0;
}

// --- one song, one query ---------------------------------------------------------------------

int run_song(const AnalyzeCliOptions& o) {
  if (o.positional.size() != 2)
    throw InvalidArgument("give a file or track and a query: clapsearch analyze FILE_OR_TRACK \"query\" (or --queries FILE for a batch report)");
  const std::string& target = o.positional[0];
  const std::string& query = o.positional[1];
  if (query.find_first_not_of(" \t\r\n") == std::string::npos) throw InvalidArgument("empty query text");
  const search::AnalyzeOptions ao = analyze_options(o);
  service::Library lib(o.lib.library(), service::Access::ReadWriteIfPossible);

  const service::SongWindows song = lib.song_windows(target);
  const int64_t track_id = song.track_id;
  const std::string& path = song.path;
  const search::Catalog& catalog = song.catalog;
  const std::vector<float> q = lib.embed_texts({query});
  const search::SongAnalysis a = search::analyze_track(catalog, track_id, q.data(), ao);
  const search::WindowStats& s = a.stats;

  if (o.json) {
    ojson windows = ojson::array();
    for (const auto& w : a.windows)
      windows.push_back({{"start", json_num(w.start)},
                         {"end", json_num(w.end)},
                         {"score", w.silent ? ojson(nullptr) : ojson(json_num(w.score))},
                         {"label", w.silent ? "SILENT" : search::label_name(w.label)}});
    ojson out = {{"path", path},
                 {"track_id", track_id >= 0 ? ojson(track_id) : ojson(nullptr)},
                 {"query", query},
                 {"score", json_num(s.score(ao.aggregate))},
                 {"label", search::label_name(a.label)},
                 {"mean", json_num(s.mean)},
                 {"max", json_num(s.max)},
                 {"min", json_num(s.min)},
                 {"std", json_num(s.std)},
                 {"n_windows", s.n_windows},
                 {"best_start", json_num(s.best_start)},
                 {"best_end", json_num(s.best_end)},
                 {"windows", windows}};
    print_json(out);
    return 0;
  }
  if (!o.csv.empty()) {
    CsvOut csv(o.csv);
    csv.row({"start", "end", "score", "label"});
    for (const auto& w : a.windows)
      csv.row({service::csv_number(w.start), service::csv_number(w.end), w.silent ? "" : service::csv_number(w.score),
               w.silent ? "SILENT" : search::label_name(w.label)});
    csv.close();
    return 0;
  }
  std::printf("%s%s\nquery \"%s\"\n\n", terminal_text(track_id >= 0 ? lib.snapshot()->display_path(path) : path).c_str(),
              track_id >= 0 ? (" (track " + std::to_string(track_id) + ")").c_str() : " (not in the index)", terminal_text(query).c_str());
  Table t({"window", "score", "label"}, {false, true, false});
  for (const auto& w : a.windows)
    t.add({time_range(w.start, w.end), w.silent ? "-" : fixed(w.score, 4), w.silent ? "silent" : search::label_name(w.label)});
  t.print(stdout);
  std::printf("\n%s %s (%s), max %s, min %s, std %s over %lld windows; best %s\n", search::aggregate_name(ao.aggregate),
              fixed(s.score(ao.aggregate), 4).c_str(), search::label_name(a.label), fixed(s.max, 4).c_str(),
              fixed(s.min, 4).c_str(), fixed(s.std, 4).c_str(), static_cast<long long>(s.n_windows),
              time_range(s.best_start, s.best_end).c_str());
  return 0;
}

}  // namespace

void add_analyze_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<AnalyzeCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "analyze", "Batch report of every track × every query (--queries FILE --csv OUT), or one song against one query");
  cmd->add_option("args", o->positional, "FILE_OR_TRACK \"query\": one song (indexed or not) window by window");
  cmd->add_option("--queries", o->queries_file, "Batch: file with one query per line");
  cmd->add_option("-q,--query", o->more, "Batch: another query; repeatable")->allow_extra_args(false);
  cmd->add_option("--tracks", o->globs, "Batch: only tracks whose path, relative path or name matches this glob; repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--csv", o->csv,
                  "Write CSV to FILE (- = stdout). Batch columns: track, path, query, mean, max, min, std, n_windows, "
                  "best_start, best_end, label; one song: start, end, score, label");
  auto* json = cmd->add_flag("--json", o->json, "JSON instead of a table");
  cmd->add_option("--aggregate", o->aggregate, "Statistic the label is given for: mean or max")
      ->default_val("mean")
      ->check(CLI::IsMember({"mean", "max"}));
  cmd->add_option("--high", o->high, "Label HIGH above this cosine")->default_val(0.3)->check(cosine());
  cmd->add_option("--moderate", o->moderate, "Label MODERATE above this cosine (else LOW)")->default_val(0.15)->check(cosine());
  add_library_options(cmd, o->lib);
  add_text_precision_option(cmd, o->lib.text_precision);
  cmd->callback([o, json, &action] {
    if (json->count() && !o->csv.empty()) throw CLI::ValidationError("analyze", "--json and --csv exclude each other");
    const bool batch = !o->queries_file.empty() || !o->more.empty();
    if (batch && !o->positional.empty())
      throw CLI::ValidationError("analyze", "give either --queries/-q (batch) or FILE_OR_TRACK \"query\", not both");
    if (!batch && !o->globs.empty()) throw CLI::ValidationError("analyze", "--tracks needs --queries FILE or -q");
    action = [o, batch] { return batch ? run_batch(*o) : run_song(*o); };
  });
}

}  // namespace clap::cli
