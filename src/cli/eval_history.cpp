// clapsearch eval --history FILE | --user NAME --holdout-days N: a listening history replayed
// (service/taste_eval.h): the mixes and the radio for you made from the plays before the last N
// days, scored on the songs played in them beside three baselines, as a table or --json.
#include <cstdio>

#include "cli/common.h"
#include "cli/user_option.h"
#include "cli/eval_history.h"
#include "core/error.h"
#include "service/for_you.h"
#include "service/taste_eval.h"

namespace clap::cli {
namespace {

struct EvalHistoryOptions {
  LibraryCliOptions lib;
  std::string history, user;
  bool json = false;
  service::HistoryEvalOptions eval;
  RuleCliOptions rules;
};

int run_eval_history(const EvalHistoryOptions& o) {
  service::Library lib(o.lib.library(), service::Access::ReadOnly);
  const auto snap = lib.snapshot();
  // The history: an export file replayed as it is (nothing stored), else the user's in the index.
  std::string whose;
  int64_t unresolved = 0;
  service::TasteHistory history;
  if (!o.history.empty()) {
    if (!o.user.empty()) throw InvalidArgument("give --history FILE or --user NAME, not both");
    history = service::history_from_file(*snap, o.history, &unresolved);
    whose = o.history;
    if (unresolved > 0)
      print_note(std::to_string(unresolved) + " listens of " + o.history + " name no song of the library (left out)");
  } else {
    auto st = store::open_store(lib.location(), store::OpenMode::ReadOnly);
    const store::UserRecord user = service::history_user(*st, o.user);
    history = service::load_history(*st, user.id, *snap, &unresolved);
    whose = user.name;
  }
  service::HistoryEvalOptions eo = o.eval;
  eo.mix.rules = o.rules.music_only(o.rules.rules(), *snap);
  const service::HistoryEval ev = service::evaluate_history(*snap, history, eo);
  const std::string k = std::to_string(eo.mix.size);
  if (o.json) {
    ojson rows = ojson::array();
    for (const auto& r : ev.rows)
      rows.push_back({{"name", r.name},
                      {"listed", r.listed},
                      {"hits", r.hits},
                      {"hit_rate", json_num(r.hit_rate)},
                      {"novelty", json_num(r.novelty)},
                      {"diversity", json_num(r.diversity)}});
    print_json({{"history", whose},
                {"holdout_days", eo.holdout_days},
                {"cutoff", ev.cutoff},
                {"train_plays", ev.train_plays},
                {"heldout_plays", ev.heldout_plays},
                {"heldout_songs", ev.heldout_songs},
                {"unresolved", unresolved},
                {"centres", ev.centres},
                {"k", eo.mix.size},
                {"rows", rows}});
    return 0;
  }
  std::printf("%s: %lld plays before the last %lld days, %lld songs played in them; %lld taste centres\n\n",
              terminal_text(whose).c_str(), static_cast<long long>(ev.train_plays),
              static_cast<long long>(eo.holdout_days), static_cast<long long>(ev.heldout_songs),
              static_cast<long long>(ev.centres));
  Table table({"", "songs", "hits", "hit rate@" + k, "novelty", "artists per " + k}, {false, true, true, true, true, true});
  for (const auto& r : ev.rows)
    table.add({r.name, std::to_string(r.listed), std::to_string(r.hits), fixed(r.hit_rate, 4), fixed(r.novelty, 4),
               fixed(r.diversity, 1)});
  table.print(stdout);
  return 0;
}

}  // namespace

void add_eval_history_options(CLI::App* cmd, Action& action) {
  auto o = std::make_shared<EvalHistoryOptions>();
  cmd->add_option("--history", o->history, "A listening history file to replay (ListenBrainz or Last.fm export)");
  cmd->add_option("--user", o->user, "Replay the plays the index holds for this user (default: the only user)")->check(user_name());
  cmd->add_option("--holdout-days", o->eval.holdout_days, "Hold out the last N days of the history and score on them (at most 36500)")
      ->default_val(7)
      ->check(positive());
  cmd->add_option("--mixes", o->eval.mix.mixes, "Mixes made (as clapsearch mix)")->default_val(6)->check(positive());
  cmd->add_option("--size", o->eval.mix.size, "Songs per mix and per list (the K of hit rate@K)")->default_val(50)->check(positive());
  cmd->add_option("--discovery", o->eval.mix.discovery, "Share of songs never played in a mix, 0..1")
      ->default_val(0.3)
      ->check(number_between(0, 1));
  cmd->add_option("--per-artist", o->eval.mix.per_artist, "At most N songs per artist in a mix (0: no cap)")
      ->default_val(3)
      ->check(non_negative());
  cmd->add_option("--half-life", o->eval.taste.half_life_days, "Days after which a play counts half")
      ->default_val(90)
      ->check(number_between(service::kMinHalfLifeDays, service::kMaxHalfLifeDays, "days"));
  cmd->add_flag("--json", o->json,
                "One JSON object: cutoff, train_plays, heldout_songs, centres, rows [{name, listed, hits, hit_rate, novelty, diversity}]");
  add_library_options(cmd, o->lib);
  cmd->callback([o, cmd, &action] {
    if (!cmd->get_subcommands().empty()) return;  // zero-shot or retrieval set the action
    if (cmd->count("--history") + cmd->count("--user") + cmd->count("--holdout-days") == 0)
      throw CLI::RequiredError("a subcommand (zero-shot, retrieval) or a history to replay (--history FILE, --user NAME "
                               "or --holdout-days N)");  // CLI11 adds " is required"
    action = [o] { return run_eval_history(*o); };
  });
}

}  // namespace clap::cli
