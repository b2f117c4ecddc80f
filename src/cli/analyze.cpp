// clapsearch analyze: every track x every query, or one song vs one query. (Placeholder until implemented.)
#include "cli/commands.h"
#include "core/error.h"

namespace clap::cli {

void add_analyze_command(CLI::App& app, Action& action) {
  CLI::App* cmd = app.add_subcommand("analyze", "Every track x every query, or one song vs one query");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] () -> int { throw Error("'analyze' is not implemented yet"); }; });
}

}  // namespace clap::cli
