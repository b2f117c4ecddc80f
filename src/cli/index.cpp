// clapsearch index: index music folders (decode, window, embed, store). (Placeholder until implemented.)
#include "cli/commands.h"
#include "core/error.h"

namespace clap::cli {

void add_index_command(CLI::App& app, Action& action) {
  CLI::App* cmd = app.add_subcommand("index", "Index music folders (decode, window, embed, store)");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] () -> int { throw Error("'index' is not implemented yet"); }; });
}

}  // namespace clap::cli
