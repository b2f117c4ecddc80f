// clapsearch doctor: check a model: identity, weights hash, text-tower health. (Placeholder until implemented.)
#include "cli/commands.h"
#include "core/error.h"

namespace clap::cli {

void add_doctor_command(CLI::App& app, Action& action) {
  CLI::App* cmd = app.add_subcommand("doctor", "Check a model: identity, weights hash, text-tower health");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] () -> int { throw Error("'doctor' is not implemented yet"); }; });
}

}  // namespace clap::cli
