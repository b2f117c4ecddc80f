// clapsearch matrix: pairwise track similarity. (Placeholder until implemented.)
#include "cli/commands.h"
#include "core/error.h"

namespace clap::cli {

void add_matrix_command(CLI::App& app, Action& action) {
  CLI::App* cmd = app.add_subcommand("matrix", "Pairwise track similarity");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] () -> int { throw Error("'matrix' is not implemented yet"); }; });
}

}  // namespace clap::cli
