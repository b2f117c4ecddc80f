// clapsearch similar: song -> songs by track embedding (the normalised mean of a track's
// non-silent windows). The query is a track of the index (id or path, itself excluded) or any
// audio file, decoded and embedded as the indexer would.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "service/csv_number.h"
#include "cli/ranked_output.h"
#include "service/diversity.h"
#include "service/duplicates.h"
#include "service/queries.h"
#include "service/ranked_queries.h"
#include "core/error.h"
#include "search/similar.h"

namespace clap::cli {
namespace {

struct SimilarOptions {
  LibraryCliOptions lib;
  std::string query;
  int64_t k = 10;
  bool json = false;
  std::string csv;
  bool collapse = false;
  RuleCliOptions rules;
  SeedCliOptions seeds;
  double diversity = -1;
  std::string artist, album;  // --artist / --album: similar artists or albums
};

// similar --artist NAME / --album NAME [--artist ALBUM_ARTIST]: the nearest artists or albums.
int run_similar_groups(const SimilarOptions& o) {
  if (!o.query.empty() || o.seeds.any()) throw InvalidArgument("--artist/--album take no track, file or seed: name the artist or album alone");
  if (o.diversity >= 0 || o.collapse || !o.csv.empty())
    throw InvalidArgument("--diversity, --collapse-duplicates and --csv list tracks: they do not go with --artist/--album");
  const service::ResultRules parsed = o.rules.rules();
  if (parsed.capped()) throw InvalidArgument("--per-artist/--per-album cap tracks: they do not go with --artist/--album");
  const bool album = !o.album.empty();
  const service::GroupKind kind = album ? service::GroupKind::Album : service::GroupKind::Artist;
  service::Library lib(o.lib.library(), service::Access::ReadOnly);
  const auto snap = lib.snapshot();
  const service::ResultRules rules = o.rules.music_only(parsed, *snap);
  const std::string name = album ? o.album : o.artist;
  const auto hits = service::similar_groups(*snap, kind, name, album ? o.artist : "", o.k, rules);
  const std::string title = std::string(album ? "albums like \"" : "artists like \"") + name + "\"" +
                            (album && !o.artist.empty() ? " by " + o.artist : "");
  print_group_hits(kind, {title}, {hits}, o.json, /*beside_a_seed=*/true);
  return 0;
}


int run_similar(const SimilarOptions& o) {
  if (!o.artist.empty() || !o.album.empty()) return run_similar_groups(o);
  const service::ResultRules parsed = o.rules.rules();
  service::Library lib(o.lib.library(), service::Access::ReadOnly);
  const auto snap = lib.snapshot();
  const service::ResultRules rules = o.rules.music_only(parsed, *snap);
  service::SimilarRequest request;
  request.k = o.k;
  request.diversity = o.diversity;
  request.collapse = o.collapse;
  request.rules = rules;
  std::string query_label;
  if (o.seeds.any()) {
    request.mixed = true;
    request.terms = o.seeds.terms(o.query);
  } else if (o.query.empty()) {
    throw InvalidArgument("give a seed: clapsearch similar TRACK|FILE (or --seed, --seeds-from, --text)");
  } else if (const store::Track* t = snap->find_track(o.query)) {
    request.track = t;
    query_label = "track " + std::to_string(t->id) + " " + snap->display_path(t->path);
  } else {
    request.file = o.query;  // the service says when no such file exists
    query_label = o.query + " (not in the index)";
  }
  service::SimilarAnswer answer = service::similar_query(lib, *snap, request);
  if (answer.mixed) query_label = query_terms_label(*snap, *answer.mixed);
  ResultColumns<search::Hit> columns;
  columns.track_id = [](const search::Hit& h) { return h.id; };
  columns.score = [](const search::Hit& h) { return h.score; };
  columns.record = [&](const search::Hit& h, size_t rank, const std::string*) { return service::similar_result_record(*snap, h, rank); };
  columns.csv_headers = {"score"};
  columns.csv_cells = [](const search::Hit& h) { return std::vector<std::string>{service::csv_number(h.score)}; };
  columns.table_headers = {"cosine"};
  columns.table_right = {true};
  columns.table_cells = [](const search::Hit& h) { return std::vector<std::string>{fixed(h.score, 4)}; };
  const std::vector<RankedTracks<search::Hit>> lists = {listed(query_label, std::move(answer.list), request)};
  print_ranked(*snap, columns, lists, {o.json, o.csv, o.collapse},
               [&](size_t) { std::printf("tracks like %s\n\n", terminal_text(query_label).c_str()); },
               "(no other tracks in the index)");
  return 0;
}

}  // namespace

void add_similar_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<SimilarOptions>();
  CLI::App* cmd = app.add_subcommand("similar", "Song -> songs: the nearest tracks by track embedding");
  cmd->add_option("query", o->query, "A track of the index (id or path; excluded from the results) or any audio file; a whole number is a track id "
                  "(a file named 2: ./2)");
  cmd->add_option("-k,--top", o->k, "Results (0 = every track)")->default_val(10)->check(non_negative());
  auto* json = cmd->add_flag("--json", o->json, "JSON list: rank, path, track_id, score (cosine), artist, title");
  cmd->add_option("--csv", o->csv, "Write CSV (rank, track_id, score, path, artist, title) to FILE (- = stdout)")->excludes(json);
  cmd->add_option("--artist", o->artist,
                  "Artists like this one (its tracks' mean embedding): ranked artists with track counts; with --album, "
                  "the album's artist")
      ->type_name("NAME");
  cmd->add_option("--album", o->album, "Albums like this one (its tracks' mean embedding): ranked albums")->type_name("NAME");
  add_collapse_option(cmd, o->collapse);
  add_seed_options(cmd, o->seeds, /*seeds=*/true, /*texts=*/true);
  add_diversity_option(cmd, o->diversity);
  add_rule_options(cmd, o->rules);
  add_library_options(cmd, o->lib);
  cmd->footer(
      "Several seeds, texts and negatives make one query vector: normalise(Σ w·seed + Σ w·text − Σ w·not − Σ w·not-like),\n"
      "every term a unit embedding (a track's stored track embedding, a file's computed as the indexer would, a text's),\n"
      "weight 1 unless written TERM:WEIGHT. Indexed seeds are left out of the results (docs/user-guide.md, Several seeds).\n"
      "--artist/--album rank artists/albums: each one's embedding is the normalised mean of its tracks' unit track\n"
      "embeddings (--where chooses those tracks); the query one is left out (docs/user-guide.md, Artists and albums).");
  cmd->callback([o, &action] { action = [o] { return run_similar(*o); }; });
}

}  // namespace clap::cli
