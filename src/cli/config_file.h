// One settings file for every command (serve and index above all, run as services): TOML with
// one [command] section per command, keys = the command's long option names without "--".
// Options on the command line win over the file. `--config` already names a model's
// config.json, hence `--config-file`.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace clap::cli {

// Adds --config-file FILE to `app`, defaulting to $CLAPSEARCH_CONFIG_FILE (then the file must
// exist). No file is read otherwise: a command run by hand never picks up a service's settings
// unasked (the systemd units set the variable). Returns the variable's value ("" when unset).
std::string add_config_file_option(CLI::App& app);

// The file that was read: --config-file's value, else `from_env`.
std::string config_file_in_use(const CLI::App& app, const std::string& from_env);

// CLI11's message for a bad key ("INI was not able to parse serve.frob") said plainly.
std::string config_error_text(const CLI::ConfigError& e);

}  // namespace clap::cli
