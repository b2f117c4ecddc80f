// clapsearch search: text -> songs. Each track is scored by the cosine between the text
// embedding and its windows (mean over non-silent windows, or the best window), labelled
// HIGH / MODERATE / LOW, with its best window's time range. Several queries at once, side by
// side with --compare. Text embeddings are cached in the index.
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "cli/commands.h"
#include "cli/common.h"
#include "service/csv_number.h"
#include "cli/ranked_output.h"
#include "core/error.h"
#include "search/scores.h"
#include "search/text_search.h"
#include "service/diversity.h"
#include "service/queries.h"
#include "service/ranked_queries.h"

namespace clap::cli {
namespace {

struct SearchOptions {
  LibraryCliOptions lib;
  std::vector<std::string> texts;  // positional
  std::vector<std::string> more;   // -q
  std::string queries_file;
  int64_t k = 10;
  std::string aggregate = "mean";
  bool compare = false;
  double high = 0.3, moderate = 0.15;
  bool json = false;
  std::string csv;
  bool collapse = false;
  RuleCliOptions rules;
  SeedCliOptions seeds;  // --seed, --not, --not-like mixed into every query
  double diversity = -1;
  bool artists = false, albums = false;  // rank artists / albums instead of tracks
};

using Query = RankedTracks<search::TrackScore>;

// Query variants side by side: every track in any query's top k, with its score and rank under
// each query, ordered by its best rank.
void print_compare(const service::LibrarySnapshot& snap, const std::vector<Query>& queries,
                   const search::TextSearchOptions& topts, const std::vector<std::vector<search::TrackScore>>& full) {
  Table legend({"", "query", "top-k mean", "best"}, {false, false, true, true});
  for (size_t i = 0; i < queries.size(); ++i) {
    double sum = 0, best = -1;
    for (const auto& r : queries[i].results) {
      sum += r.score;
      best = std::max(best, r.score);
    }
    const size_t n = queries[i].results.size();
    legend.add({"q" + std::to_string(i + 1), "\"" + queries[i].query + "\"", fixed(n ? sum / n : 0, 4), fixed(best, 4)});
  }
  legend.print(stdout);
  std::printf("\n");
  // track -> (score, rank) per query, from the full rankings.
  std::map<int64_t, std::vector<std::pair<double, size_t>>> cells;
  for (size_t i = 0; i < full.size(); ++i)
    for (size_t r = 0; r < full[i].size(); ++r) {
      auto& v = cells[full[i][r].track_id];
      v.resize(full.size(), {0.0, 0});
      v[i] = {full[i][r].score, r + 1};
    }
  struct Row {
    int64_t track_id;
    size_t best_rank;
    double mean_score;
  };
  std::vector<Row> rows;
  for (const auto& [id, v] : cells) {
    size_t best_rank = SIZE_MAX;
    double sum = 0;
    for (const auto& [s, r] : v) {
      best_rank = std::min(best_rank, r);
      sum += s;
    }
    if (topts.k > 0 && best_rank > static_cast<size_t>(topts.k)) continue;
    rows.push_back({id, best_rank, sum / static_cast<double>(v.size())});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    if (a.best_rank != b.best_rank) return a.best_rank < b.best_rank;
    if (a.mean_score != b.mean_score) return a.mean_score > b.mean_score;
    return a.track_id < b.track_id;
  });
  std::vector<std::string> headers;
  std::vector<bool> right;
  for (size_t i = 0; i < queries.size(); ++i) {
    headers.push_back("q" + std::to_string(i + 1));
    headers.push_back("label");
    headers.push_back("#");
    right.push_back(true);
    right.push_back(false);
    right.push_back(true);
  }
  headers.push_back("track");
  headers.push_back("tags");
  Table table(headers, right);
  for (const Row& row : rows) {
    std::vector<std::string> cells_text;
    for (const auto& [s, r] : cells[row.track_id]) {
      cells_text.push_back(fixed(s, 4));
      cells_text.push_back(search::label_name(search::label_for(s, topts.thresholds)));
      cells_text.push_back(std::to_string(r));
    }
    const store::Track* t = snap.track(row.track_id);
    cells_text.push_back(t ? snap.display_path(t->path) : "?");
    cells_text.push_back(t ? snap.tags_text(*t) : "");
    table.add(cells_text);
  }
  table.print(stdout);
}

int run_search(const SearchOptions& o) {
  std::vector<std::string> texts = o.texts;
  texts.insert(texts.end(), o.more.begin(), o.more.end());
  if (!o.queries_file.empty()) {
    const auto file = read_query_file(o.queries_file);
    texts.insert(texts.end(), file.begin(), file.end());
  }
  for (const auto& t : texts)
    if (t.find_first_not_of(" \t\r\n") == std::string::npos) throw InvalidArgument("empty query text");
  if (texts.empty() && o.seeds.seeds.empty())
    throw InvalidArgument("give a query: clapsearch search \"female vocalist\" (or -q, --queries FILE, --seed)");
  if (o.compare && o.seeds.any()) throw InvalidArgument("--compare does not go with --seed/--not/--not-like");
  if (o.compare && texts.size() < 2) throw InvalidArgument("--compare needs at least two queries (-q \"...\" -q \"...\")");
  if (!(o.high >= o.moderate)) throw InvalidArgument("--high must be at least --moderate");

  search::TextSearchOptions topts;
  if (o.collapse && o.compare) throw InvalidArgument("--collapse-duplicates does not go with --compare");
  if (o.diversity >= 0 && o.compare) throw InvalidArgument("--diversity does not go with --compare");
  topts.k = o.k;
  topts.aggregate = search::parse_aggregate(o.aggregate);
  topts.thresholds.high = o.high;
  topts.thresholds.moderate = o.moderate;

  const service::ResultRules parsed = o.rules.rules();

  service::Library lib(o.lib.library(), service::Access::ReadWriteIfPossible);
  const auto snap = lib.snapshot();
  const service::ResultRules rules = o.rules.music_only(parsed, *snap);
  if (o.artists || o.albums) {
    if (o.seeds.any() || o.compare || o.collapse || o.diversity >= 0 || !o.csv.empty() || rules.capped() || o.aggregate != "mean")
      throw InvalidArgument(
          "--artists/--albums rank artists/albums by text alone: --seed/--not/--not-like, --compare, --aggregate, --csv, "
          "--collapse-duplicates, --diversity and caps do not go with them");
    const service::GroupKind kind = o.albums ? service::GroupKind::Album : service::GroupKind::Artist;
    std::vector<std::string> titles;
    for (const auto& t : texts) titles.push_back(std::string(o.albums ? "albums" : "artists") + " for \"" + t + "\"");
    print_group_hits(kind, o.json ? texts : titles, service::search_groups(lib, *snap, kind, texts, o.k, rules), o.json,
                     /*beside_a_seed=*/false);
    return 0;
  }
  service::SearchRequest request;
  request.texts = texts;
  request.options = topts;
  request.k = o.k;
  request.diversity = o.diversity;
  request.collapse = o.collapse;
  request.rules = rules;
  request.mixed = o.seeds.any();
  if (request.mixed) request.terms = o.seeds.terms();
  service::SearchAnswer answer = service::search_query(lib, *snap, request);
  std::vector<std::string> names = texts;
  if (names.empty()) names.push_back(query_terms_label(*snap, *answer.mixed));  // names the one query
  ResultColumns<search::TrackScore> columns;
  columns.track_id = [](const search::TrackScore& r) { return r.track_id; };
  columns.score = [](const search::TrackScore& r) { return r.score; };
  columns.record = [&](const search::TrackScore& r, size_t rank, const std::string* query) {
    return service::text_result_record(*snap, r, rank, query);
  };
  columns.csv_query_column = true;
  columns.csv_headers = {"score", "label", "best_start", "best_end"};
  columns.csv_cells = [](const search::TrackScore& s) {
    return std::vector<std::string>{service::csv_number(s.score), search::label_name(s.label), service::csv_number(s.stats.best_start),
                                    service::csv_number(s.stats.best_end)};
  };
  columns.table_headers = {"score", "label", "best"};
  columns.table_right = {true, false, false};
  columns.table_cells = [](const search::TrackScore& r) {
    return std::vector<std::string>{fixed(r.score, 4), search::label_name(r.label), time_range(r.stats.best_start, r.stats.best_end)};
  };
  std::vector<Query> queries;
  for (size_t i = 0; i < names.size(); ++i)
    queries.push_back(listed(names[i], std::move(answer.lists[i]), request, names.size() > 1 ? "\"" + names[i] + "\": " : std::string()));
  texts = names;

  if (o.compare && !o.json && o.csv.empty()) {
    search::TextSearchOptions all = topts;
    all.k = 0;
    print_compare(*snap, queries, topts, service::search_texts(lib, *snap, texts, all, rules));
    return 0;
  }
  print_ranked(*snap, columns, queries, {o.json, o.csv, o.collapse}, [&](size_t i) {
    if (queries.size() > 1) std::printf("%squery \"%s\"\n", i ? "\n" : "", terminal_text(queries[i].query).c_str());
  });
  return 0;
}

}  // namespace

void add_search_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<SearchOptions>();
  CLI::App* cmd = app.add_subcommand("search", "Text -> songs: rank the library's tracks by a text description");
  cmd->add_option("text", o->texts, "Query text(s), e.g. \"female vocalist\"");
  cmd->add_option("-q,--query", o->more, "Another query; repeatable")->allow_extra_args(false);
  cmd->add_option("--queries", o->queries_file, "File with one query per line (blank lines and # comments skipped)");
  cmd->add_option("-k,--top", o->k, "Results per query (0 = every track)")->default_val(10)->check(non_negative());
  cmd->add_option("--aggregate", o->aggregate, "Track score: mean of its windows' scores, or the best window (max)")
      ->default_val("mean")
      ->check(CLI::IsMember({"mean", "max"}));
  auto* artists = cmd->add_flag("--artists", o->artists,
                                "Rank artists instead of tracks (each the normalised mean of its tracks' embeddings)");
  cmd->add_flag("--albums", o->albums, "Rank albums instead of tracks (as --artists)")->excludes(artists);
  cmd->add_flag("--compare", o->compare, "Put the queries side by side (score and rank of each track under each query)");
  cmd->add_option("--high", o->high, "Label HIGH above this cosine")->default_val(0.3)->check(cosine());
  cmd->add_option("--moderate", o->moderate, "Label MODERATE above this cosine (else LOW)")->default_val(0.15)->check(cosine());
  auto* json = cmd->add_flag("--json", o->json,
                             "JSON list: rank, path, track_id, score, label, best_start, best_end (s), mean, max, "
                             "n_windows, artist, title, labels; query when several");
  cmd->add_option("--csv", o->csv,
                  "Write CSV (query, rank, track_id, score, label, best_start, best_end, path, artist, title) to FILE (- = stdout)")
      ->excludes(json);
  add_collapse_option(cmd, o->collapse);
  add_seed_options(cmd, o->seeds, /*seeds=*/false, /*texts=*/false);
  add_diversity_option(cmd, o->diversity);
  add_rule_options(cmd, o->rules);
  add_library_options(cmd, o->lib);
  add_text_precision_option(cmd, o->lib.text_precision);
  cmd->footer(
      "Score = cosine between the text and the track's windows: mean over its non-silent windows (default), or max = its\n"
      "best window. Labels: HIGH > --high, MODERATE > --moderate, else LOW. Text embeddings are cached in the index,\n"
      "so a repeated query costs no model run (--verbose tells).\n"
      "--seed/--not/--not-like mix into every query: normalise(text + Σ w·seed − Σ w·not − Σ w·not-like), each term a unit\n"
      "embedding, weight 1 unless written TERM:WEIGHT; indexed seeds are left out of the results.");
  cmd->callback([o, &action] { action = [o] { return run_search(*o); }; });
}

}  // namespace clap::cli
