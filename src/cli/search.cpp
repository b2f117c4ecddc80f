// clapsearch search: text -> songs. (Placeholder until implemented.)
#include "cli/commands.h"
#include "core/error.h"

namespace clap::cli {

void add_search_command(CLI::App& app, Action& action) {
  CLI::App* cmd = app.add_subcommand("search", "Text -> songs");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] () -> int { throw Error("'search' is not implemented yet"); }; });
}

}  // namespace clap::cli
