#include "cli/config_file.h"

#include <algorithm>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "cli/cli_tree.h"
#include "cli/settings_toml.h"
#include "core/error.h"
#include "core/one_line_text.h"
#include "core/text_file.h"

namespace clap::cli {

namespace {

constexpr uint64_t kMaxSettingsBytes = uint64_t{1} << 20;

// Where the file set each key: to name the line of a value an option refused.
struct SettingLine {
  std::string section, key, value;  // value: as written
  std::string text;                 // a single value's text, decoded ("" for a list)
  int line = 0;
};

// The file is read by parse_settings_toml (settings_toml.h), not by CLI11's reader, which took
// a multi-line string for a key, cut a string at a '#' in it and kept escapes as typed. Its
// entries are handed to CLI11 as the items its own reader makes (a section's keys between the
// reader's "++" and "--" marks), and each key's line is kept for the messages.
class SettingsReader : public CLI::ConfigTOML {
 public:
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::string text;
    char piece[4096];
    while (input.read(piece, sizeof piece) || input.gcount() > 0) {
      text.append(piece, static_cast<size_t>(input.gcount()));
      if (text.size() > kMaxSettingsBytes) throw CLI::ConfigError("larger than 1 MB: is it the right file?");
    }
    if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // a UTF-8 BOM, as some editors write
    std::vector<SettingEntry> entries;
    try {
      entries = parse_settings_toml(text);
    } catch (const Error& e) {
      throw CLI::ConfigError(e.what());
    }
    std::vector<SettingLine>& kept = lines();
    kept.clear();
    std::vector<CLI::ConfigItem> items;
    const auto mark = [&items](const std::string& section, const char* name) {
      if (section.empty()) return;
      items.emplace_back();
      items.back().parents = {section};
      items.back().name = name;
    };
    std::string current;
    for (const SettingEntry& e : entries) {
      if (e.key.empty()) {  // a [section] header
        mark(current, "--");
        current = e.section;
        mark(current, "++");
        continue;
      }
      items.emplace_back();
      if (!current.empty()) items.back().parents = {current};
      items.back().name = e.key;
      items.back().inputs = e.values;
      kept.push_back({e.section, e.key, e.written, e.values.size() == 1 ? e.values.front() : "", e.line});
    }
    mark(current, "--");
    return items;
  }

  static std::vector<SettingLine>& lines() {
    static std::vector<SettingLine> kept;
    return kept;
  }
};

}  // namespace

std::string add_config_file_option(CLI::App& app) {
  app.config_formatter(std::make_shared<SettingsReader>());
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

std::string check_config_files(int argc, const char* const* argv, const std::string& from_env) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strcmp(a, "--") == 0) break;
    if (std::strcmp(a, "--config-file") == 0 && i + 1 < argc) files.emplace_back(argv[++i]);
    else if (std::strncmp(a, "--config-file=", 14) == 0) files.emplace_back(a + 14);
  }
  // `--config-file "$UNSET"` said ": no such file (settings file)", naming nothing.
  if (std::any_of(files.begin(), files.end(), [](const std::string& f) { return f.empty(); }))
    return "--config-file: an empty name (name a settings file, or leave the option out)";
  if (files.empty() && !from_env.empty()) files.push_back(from_env);
  for (const std::string& f : files) {
    try {
      read_text_file(f, "settings file", kMaxSettingsBytes);
    } catch (const Error& e) {
      return e.what();
    }
  }
  return "";
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
    const std::string section = key.substr(0, dot), name = key.substr(dot + 1);
    // "++" and "--" are the reader's marks for a section's start and end: the section is unknown.
    if (name == "++" || name == "--")
      return "unknown section [" + section + "] (the sections are the commands' names: [serve], [index], [search], ...)";
    for (const SettingLine& s : SettingsReader::lines())
      if (s.section == section && s.key == name)
        return "line " + std::to_string(s.line) + ": unknown setting '" + name + "' in [" + section +
               "] (the keys are the command's long options)";
    return "unknown setting '" + name + "' in [" + section + "] (the keys are the command's long options)";
  }
  return text;
}

std::string config_value_error_text(const std::string& message, int argc, const char* const* argv) {
  // The same key may be in several sections: the one whose value the message quotes first.
  std::vector<SettingLine> candidates;
  for (const SettingLine& s : SettingsReader::lines())
    if (!s.text.empty() && message.find(s.text) != std::string::npos) candidates.push_back(s);
  for (const SettingLine& s : SettingsReader::lines()) candidates.push_back(s);
  for (const SettingLine& s : candidates) {
    const std::string option = "--" + s.key;
    const size_t at = message.find(option);
    if (at == std::string::npos) continue;
    const size_t end = at + option.size();
    if (end < message.size() && message[end] != ':' && message[end] != ' ' && message[end] != '=') continue;  // --top-k
    bool typed = false;  // a value typed on the command line wins: its error is its own
    for (int i = 1; i < argc && !typed; ++i)
      typed = argv[i] == option || std::strncmp(argv[i], (option + "=").c_str(), option.size() + 1) == 0;
    if (typed) continue;
    std::string reason = message;
    if (message.rfind(option + ": ", 0) == 0) reason = message.substr(option.size() + 2);
    else if (message.rfind("Could not convert: ", 0) == 0) reason = "not a value " + option + " takes";
    const std::string where = s.section.empty() ? s.key : "[" + s.section + "] " + s.key;
    return "line " + std::to_string(s.line) + ": " + where + " = " + echo_excerpt(s.value) + ": " + reason;
  }
  return message;
}

std::string config_switch_error(const CLI::App& app) {
  for (const SettingLine& s : SettingsReader::lines()) {
    const CLI::App* command = &app;
    if (!s.section.empty()) {
      const std::vector<const CLI::App*> subs = app.get_subcommands([](const CLI::App*) { return true; });
      const auto sub = std::find_if(subs.begin(), subs.end(), [&](const CLI::App* c) { return c->check_name(s.section); });
      if (sub == subs.end()) continue;  // an unknown section is CLI11's error (config_error_text)
      command = *sub;
    }
    const CLI::Option* option = nullptr;
    for (const CLI::Option* o : command->get_options())
      for (const std::string& name : o->get_lnames())
        if (name == s.key) option = o;
    if (option == nullptr || option->get_expected_max() != 0) continue;  // not a switch
    // A list's text is "": never an on/off word. A quoted "yes" is read as the bare word is.
    if (switch_value_word(s.text) && s.value.find('[') == std::string::npos) continue;
    const std::string where = s.section.empty() ? s.key : "[" + s.section + "] " + s.key;
    return "line " + std::to_string(s.line) + ": " + where + " = " + echo_excerpt(s.value) + ": --" + s.key +
           " is a switch: write " + s.key + " = true or " + s.key + " = false";
  }
  return "";
}

}  // namespace clap::cli
