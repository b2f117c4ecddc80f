#include "cli/config_file.h"

#include <cstdlib>

namespace clap::cli {

std::string add_config_file_option(CLI::App& app) {
  const char* env = std::getenv("CLAPSEARCH_CONFIG_FILE");
  const std::string from_env = env != nullptr ? env : "";
  app.set_config("--config-file", from_env,
                 "Settings file (TOML): a [command] section per command, keys = long option names; options given on "
                 "the command line win (default: $CLAPSEARCH_CONFIG_FILE)",
                 !from_env.empty())
      ->type_name("FILE");
  // Keys the commands do not have are errors, not silently ignored: a misspelt key would
  // otherwise leave a service running with a setting its owner believes changed.
  app.allow_config_extras(CLI::config_extras_mode::error);
  // `clapsearch serve --config-file F` as well as `clapsearch --config-file F serve`.
  app.fallthrough();
  return from_env;
}

std::string config_file_in_use(const CLI::App& app, const std::string& from_env) {
  const CLI::Option* opt = app.get_config_ptr();
  if (opt != nullptr && opt->count() > 0) return opt->results().front();
  return from_env.empty() ? "--config-file" : from_env;
}

std::string config_error_text(const CLI::ConfigError& e) {
  std::string text = e.what();
  const std::string extras = "INI was not able to parse ";
  if (text.rfind(extras, 0) == 0) {
    const std::string key = text.substr(extras.size());
    const size_t dot = key.rfind('.');
    if (dot == std::string::npos) return "'" + key + "' is not in a [command] section (settings are per command: [serve], [index], ...)";
    return "unknown setting '" + key.substr(dot + 1) + "' in [" + key.substr(0, dot) + "] (the keys are the command's long options)";
  }
  return text;
}

}  // namespace clap::cli
