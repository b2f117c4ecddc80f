// `clapsearch eval --history`: the options of the eval command itself (eval_history.cpp), beside
// its zero-shot and retrieval subcommands (eval.cpp).
#pragma once
#include "cli/commands.h"

namespace clap::cli {

// Adds --history, --user, --holdout-days ... to `eval`; its action runs when no subcommand was given.
void add_eval_history_options(CLI::App* eval, Action& action);

}  // namespace clap::cli
