// clapsearch similar: song -> similar songs. (Placeholder until implemented.)
#include "cli/commands.h"
#include "core/error.h"

namespace clap::cli {

void add_similar_command(CLI::App& app, Action& action) {
  CLI::App* cmd = app.add_subcommand("similar", "Song -> similar songs");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] () -> int { throw Error("'similar' is not implemented yet"); }; });
}

}  // namespace clap::cli
