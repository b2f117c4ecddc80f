// clapsearch like: audio -> songs (query by example). (Placeholder until implemented.)
#include "cli/commands.h"
#include "core/error.h"

namespace clap::cli {

void add_like_command(CLI::App& app, Action& action) {
  CLI::App* cmd = app.add_subcommand("like", "Audio -> songs (query by example)");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] () -> int { throw Error("'like' is not implemented yet"); }; });
}

}  // namespace clap::cli
