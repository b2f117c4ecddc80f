// clapsearch status: show what the index holds. (Placeholder until implemented.)
#include "cli/commands.h"
#include "core/error.h"

namespace clap::cli {

void add_status_command(CLI::App& app, Action& action) {
  CLI::App* cmd = app.add_subcommand("status", "Show what the index holds");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] () -> int { throw Error("'status' is not implemented yet"); }; });
}

}  // namespace clap::cli
