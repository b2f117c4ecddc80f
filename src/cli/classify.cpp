// clapsearch classify: zero-shot tagging / classification. (Placeholder until implemented.)
#include "cli/commands.h"
#include "core/error.h"

namespace clap::cli {

void add_classify_command(CLI::App& app, Action& action) {
  CLI::App* cmd = app.add_subcommand("classify", "Zero-shot tagging / classification");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] () -> int { throw Error("'classify' is not implemented yet"); }; });
}

}  // namespace clap::cli
