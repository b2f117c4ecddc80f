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
// Call before the commands are added: they take the app's settings-file reader.
std::string add_config_file_option(CLI::App& app);

// The settings files named on the command line (--config-file F, --config-file=F) or else by
// $CLAPSEARCH_CONFIG_FILE checked before CLI11 opens them: each must be a regular file of at most
// 1 MB (a FIFO would block the open, /dev/zero read without end). "" when all are, else the
// error naming the file ("/tmp: is a folder (settings file)").
std::string check_config_files(int argc, const char* const* argv, const std::string& from_env);

// The file that was read: --config-file's value, else `from_env`.
std::string config_file_in_use(const CLI::App& app, const std::string& from_env);

// CLI11's message for a bad key ("INI was not able to parse serve.frob") said plainly.
std::string config_error_text(const CLI::ConfigError& e);

// A usage error raised while the file's values were given to the options ("--top: three is not
// a finite number") said as the file's: "line 3: [search] top = \"three\": three is not a finite
// number". `message` is returned unchanged when it names no option set by the file alone.
std::string config_value_error_text(const std::string& message, int argc, const char* const* argv);

// A switch the settings file gave a value that is not on or off: `json = 5`, `json = ""`,
// `json = -1`, `json = 1.5`, `json = [1, 2]` (CLI11 read a number or "" as on, -1 as off, with no
// word; a list was "status.json: too many inputs for a flag"). Named as the command line's
// `--json=5` is: "line 2: [status] json = 5: --json is a switch: write json = true or json = false".
// "" when every switch the file set has an on/off word. Call once the file was read (after
// app.parse, or when it failed).
std::string config_switch_error(const CLI::App& app);

}  // namespace clap::cli
