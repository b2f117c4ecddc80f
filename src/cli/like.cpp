// clapsearch like: audio -> songs (query by example) with chunk voting. The query is cut into
// chunks, each chunk takes its nearest windows from the library's window index, and the
// matches are fused per track (votes, total similarity, combined score; see search/like.h).
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "service/csv_number.h"
#include "cli/ranked_output.h"
#include "core/error.h"
#include "search/like.h"
#include "service/diversity.h"
#include "service/queries.h"
#include "service/ranked_queries.h"

namespace clap::cli {
namespace {

struct LikeCliOptions {
  LibraryCliOptions lib;
  std::string query;
  std::string track;
  int64_t k = 10;
  double chunk = 0, hop = 0;  // 0 = the index's window / hop
  int per_chunk = 5;
  double vote_weight = 0.2;
  bool exclude_self = false;
  bool json = false;
  std::string csv;
  bool collapse = false;
  RuleCliOptions rules;
  SeedCliOptions seeds;
  double diversity = -1;
};

int run_like(const LikeCliOptions& o) {
  if (!o.query.empty() && !o.track.empty()) throw InvalidArgument("give either a query audio file or --track ID|PATH");
  if (!o.seeds.any() && o.query.empty() && o.track.empty())
    throw InvalidArgument("give either a query audio file or --track ID|PATH (or --seed, --seeds-from)");
  const service::ResultRules parsed = o.rules.rules();
  service::Library lib(o.lib.library(), service::Access::ReadOnly);
  const auto snap = lib.snapshot();
  const service::ResultRules rules = o.rules.music_only(parsed, *snap);

  service::LikeRequest request;
  request.k = o.k;
  request.diversity = o.diversity;
  request.collapse = o.collapse;
  request.rules = rules;
  request.options.per_chunk = o.per_chunk;
  request.options.vote_weight = o.vote_weight;
  request.exclude_self = o.exclude_self;
  std::string query_label;
  if (o.seeds.any()) {
    if (o.chunk > 0 || o.hop > 0) throw InvalidArgument("--chunk/--hop do not go with several seeds (each is cut as the index is)");
    request.mixed = true;
    request.terms = o.seeds.terms(o.track.empty() ? o.query : o.track);
  } else if (!o.track.empty()) {
    request.track = snap->find_track(o.track);
    if (!request.track) throw Error(o.track + ": no such track in the index (give a track id or the path of an indexed file)");
    if (o.chunk > 0 || o.hop > 0)
      print_warning("--chunk/--hop are ignored with --track: the track's stored windows are the chunks");
    query_label = "track " + std::to_string(request.track->id) + " " + snap->display_path(request.track->path);
  } else {
    request.file = o.query;
    request.chunk_s = o.chunk;
    request.hop_s = o.hop;
    query_label = o.query;
  }
  service::LikeAnswer answer = service::like_query(lib, *snap, request);
  if (answer.mixed) query_label = query_terms_label(*snap, *answer.mixed);
  const search::QueryChunks& chunks = answer.chunks;
  ResultColumns<search::LikeResult> columns;
  columns.track_id = [](const search::LikeResult& r) { return r.track_id; };
  columns.score = [](const search::LikeResult& r) { return r.combined; };
  columns.record = [&](const search::LikeResult& r, size_t rank, const std::string*) {
    return service::like_result_record(*snap, r, rank);
  };
  columns.csv_headers = {"combined", "votes", "total_similarity"};
  columns.csv_cells = [](const search::LikeResult& r) {
    return std::vector<std::string>{service::csv_number(r.combined), std::to_string(r.votes), service::csv_number(r.total_similarity)};
  };
  columns.table_headers = {"combined", "votes", "total sim"};
  columns.table_right = {true, true, true};
  columns.table_cells = [](const search::LikeResult& r) {
    return std::vector<std::string>{fixed(r.combined, 4), std::to_string(r.votes), fixed(r.total_similarity, 4)};
  };
  columns.table_notes = [](const search::LikeResult& r) {
    std::vector<std::string> lines;
    for (const auto& m : r.matches)
      lines.push_back("      q " + time_range(m.query_start, m.query_end) + " \u2192 " + time_range(m.start, m.end) +
                      "  d=" + fixed(m.distance, 4));
    return lines;
  };
  const std::vector<RankedTracks<search::LikeResult>> lists = {listed(query_label, std::move(answer.list), request)};
  print_ranked(*snap, columns, lists, {o.json, o.csv, o.collapse}, [&](size_t) {
    int64_t voting = 0;
    for (int64_t i = 0; i < chunks.size(); ++i) voting += chunks.silent.empty() || !chunks.silent[i];
    std::printf("query %s: %lld chunk%s (%lld silent), %d matches per chunk\n\n", terminal_text(query_label).c_str(),
                static_cast<long long>(chunks.size()), chunks.size() == 1 ? "" : "s",
                static_cast<long long>(chunks.size() - voting), o.per_chunk);
  }, "(no matches)");
  return 0;
}

}  // namespace

void add_like_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<LikeCliOptions>();
  CLI::App* cmd = app.add_subcommand("like", "Audio -> songs: tracks that sound like a query file (chunk voting)");
  auto* query = cmd->add_option("query", o->query, "Query audio file (any format FFmpeg reads)");
  cmd->add_option("--track", o->track, "Use a track of the index as the query (id or path; no decoding)")->excludes(query);
  cmd->add_option("-k,--top", o->k, "Results (0 = every track hit)")->default_val(10)->check(non_negative());
  cmd->add_option("--chunk", o->chunk, "Query chunk length in seconds (default: the index's window, 10; at least 1, at most the model's input)")
      ->check(positive());
  cmd->add_option("--hop", o->hop, "Seconds between chunk starts (default: the index's hop, 5; at least 0.5, at most --chunk)")->check(positive());
  cmd->add_option("--per-chunk", o->per_chunk, "Library windows taken per chunk")->default_val(5)->check(CLI::Range(1, 1000));
  cmd->add_option("--vote-weight", o->vote_weight, "w in combined = w·votes/max_votes + (1−w)·total/max_total")
      ->default_val(0.2)
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--exclude-self", o->exclude_self, "Leave the query track out (when it is in the index)");
  auto* json = cmd->add_flag("--json", o->json,
                             "JSON list: rank, path, track_id, score (= combined), combined, votes, total_similarity, "
                             "matches [{query_start, query_end, start, end, distance, window_id}]");
  cmd->add_option("--csv", o->csv, "Write CSV (rank, track_id, combined, votes, total_similarity, path, artist, title) to FILE (- = stdout)")
      ->excludes(json);
  add_collapse_option(cmd, o->collapse);
  add_seed_options(cmd, o->seeds, /*seeds=*/true, /*texts=*/true);
  add_diversity_option(cmd, o->diversity);
  add_rule_options(cmd, o->rules);
  add_library_options(cmd, o->lib);
  cmd->footer(
      "Each chunk takes its --per-chunk nearest windows of the library; per track: votes = chunks that hit it (one vote\n"
      "per chunk, from the track's best window), total similarity = sum of those cosines,\n"
      "combined = w·votes/max_votes + (1−w)·total/max_total (the best track scores 1; an indexed file queried by itself\n"
      "comes first with 1.0).\n"
      "Under each result: query chunk time → matched window time, d = cosine distance (1 − cosine).\n"
      "Several seeds (--seed, --seeds-from): the chunks of every seed vote together; --text/--not/--not-like steer each\n"
      "chunk c of a seed of weight w to normalise(w·c + Σ w·text − Σ w·not − Σ w·not-like); seeds are left out of the results.");
  cmd->callback([o, &action] { action = [o] { return run_like(*o); }; });
}

}  // namespace clap::cli
