// clapsearch models: the embedding sets of an index (one per model; issue 37), which one queries
// read, switching between them and dropping one.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "service/embedding_sets.h"

namespace clap::cli {
namespace {

struct ModelsOptions {
  std::string db;
  int64_t activate = 0, drop = 0;
  bool incomplete = false, json = false;
};

int run_models(const ModelsOptions& o) {
  if (o.activate && o.drop) throw InvalidArgument("--activate and --drop cannot be combined");
  if (o.incomplete && !o.activate) throw InvalidArgument("--incomplete goes with --activate");
  if (o.activate) {
    const store::EmbeddingSet e = service::activate_embedding_set(o.db, o.activate, o.incomplete);
    std::fprintf(stderr, "embedding set %lld (%s) is the active set: queries use it\n", static_cast<long long>(e.id),
                 terminal_text(e.identity.id).c_str());
  } else if (o.drop) {
    service::drop_embedding_set(o.db, o.drop);
    std::fprintf(stderr, "embedding set %lld dropped\n", static_cast<long long>(o.drop));
  }
  const std::vector<store::EmbeddingSet> sets = service::list_embedding_sets(o.db);
  if (o.json) {
    ojson j = ojson::array();
    for (const store::EmbeddingSet& e : sets) j.push_back(service::embedding_set_record<ojson>(e));
    print_json(j);
    return 0;
  }
  if (sets.empty()) std::printf("no embedding set yet (`clapsearch index` makes the first)\n");
  for (const store::EmbeddingSet& e : sets) std::printf("%s\n", set_summary(e).c_str());
  return 0;
}

// A set number: 1 or more (CLI::PositiveNumber printed its range, 0 to a 309-digit number).
const CLI::Validator kSetNumber(
    [](std::string& value) -> std::string {
      const std::string why = value + " must be a set number >= 1 (`clapsearch models` lists them)";
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) return why;
      const size_t digits = value.size() - std::min(value.find_first_not_of('0'), value.size());
      return digits == 0 || digits > 18 ? why : std::string();
    },
    "ID");

}  // namespace

void add_models_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<ModelsOptions>();
  CLI::App* cmd = app.add_subcommand("models", "List the index's embedding sets (one per model), switch or drop one");
  cmd->add_option("--db", o->db, "Index database (default: $CLAPSEARCH_DB, else $XDG_DATA_HOME/clapsearch/library.db)");
  cmd->add_option("--activate", o->activate,
                  "Make set ID the active one, which every query reads (a running server switches with its next "
                  "refresh); refused while the set is incomplete unless --incomplete")
      ->type_name("ID")
      ->check(kSetNumber);
  cmd->add_flag("--incomplete", o->incomplete,
                "--activate: switch to a set that lacks windows (they leave the index until `clapsearch index` embeds "
                "them again with its model)");
  cmd->add_option("--drop", o->drop, "Delete set ID and its embeddings (not the active set)")
      ->type_name("ID")
      ->check(kSetNumber);
  cmd->add_flag("--json", o->json,
                "One JSON array: [{id, model, revision, precision, dim, active, windows, covered_windows, tracks, "
                "covered_tracks, complete, fraction}]");
  cmd->footer(
      "An index holds the audio embeddings of one model per set; queries read the active set only, with its\n"
      "model for text. `clapsearch index --model NEW` builds NEW's set beside the active one and switches to it\n"
      "once complete (see --switch-when); the set that was active is kept until dropped.");
  cmd->callback([o, &action] { action = [o] { return run_models(*o); }; });
}

}  // namespace clap::cli
