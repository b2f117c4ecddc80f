// clapsearch eval: zero-shot accuracy and retrieval evaluation. (Placeholder until implemented.)
#include "cli/commands.h"
#include "core/error.h"

namespace clap::cli {

void add_eval_command(CLI::App& app, Action& action) {
  CLI::App* cmd = app.add_subcommand("eval", "Zero-shot accuracy and retrieval evaluation");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] () -> int { throw Error("'eval' is not implemented yet"); }; });
}

}  // namespace clap::cli
