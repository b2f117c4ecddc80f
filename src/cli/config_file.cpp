#include "cli/config_file.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/text_file.h"

namespace clap::cli {

namespace {

constexpr uint64_t kMaxSettingsBytes = uint64_t{1} << 20;

// Where the file set each key: to name the line of a value an option refused.
struct SettingLine {
  std::string section, key, value;
  int line = 0;
};

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::string unquoted(const std::string& s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) return s.substr(1, s.size() - 2);
  return s;
}

// The text before a '#' that is not inside a string.
std::string without_comment(const std::string& line) {
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote) {
      if (c == '\\' && quote == '"') ++i;
      else if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      return line.substr(0, i);
    }
  }
  return line;
}

// '[' minus ']' outside strings: a list value that goes on over the next lines.
int bracket_depth(const std::string& text) {
  int depth = 0;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == '\\' && quote == '"') ++i;
      else if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[') {
      ++depth;
    } else if (c == ']') {
      --depth;
    }
  }
  return depth;
}

std::string section_name(const std::string& section) { return section.empty() ? "the top of the file" : "[" + section + "]"; }

// CLI11's TOML reader takes a key set twice (or a second [section]) without a word and gives a
// value's type errors as the command line's: the file is checked first, line by line, for
// what the reader would take wrongly, and each key's line is kept for the messages.
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
    check(text);
    std::istringstream rest(text);
    return CLI::ConfigTOML::from_config(rest);
  }

  static std::vector<SettingLine>& lines() {
    static std::vector<SettingLine> kept;
    return kept;
  }

 private:
  static void check(const std::string& text) {
    std::vector<SettingLine>& kept = lines();
    kept.clear();
    std::map<std::string, int> section_lines;
    std::map<std::string, int> key_lines;  // "section\nkey"
    std::string section;
    std::istringstream in(text);
    std::string raw;
    int number = 0;
    int depth = 0;  // inside a list value that spans lines
    while (std::getline(in, raw)) {
      ++number;
      const std::string line = trim(without_comment(raw));
      if (depth > 0) {
        depth += bracket_depth(line);
        continue;
      }
      if (line.empty()) continue;
      const std::string at = "line " + std::to_string(number) + ": ";
      if (line.front() == '[') {
        if (line.rfind("[[", 0) == 0)
          throw CLI::ConfigError(at + line + ": arrays of tables are not settings (one [command] section per command)");
        section = trim(unquoted(trim(line.substr(1, line.find(']') == std::string::npos ? std::string::npos : line.find(']') - 1))));
        const auto [it, fresh] = section_lines.emplace(section, number);
        if (!fresh)
          throw CLI::ConfigError(at + "a second [" + section + "] section (the first is at line " + std::to_string(it->second) +
                                 "): give each command's settings in one section");
        continue;
      }
      const size_t eq = line.find('=');
      if (eq == std::string::npos) continue;  // left to the reader, which names what it cannot parse
      const std::string key = unquoted(trim(line.substr(0, eq)));
      const std::string value = trim(line.substr(eq + 1));
      const std::string where = section.empty() ? key : "[" + section + "] " + key;
      if (!value.empty() && value.front() == '{')
        throw CLI::ConfigError(at + where + ": an inline table ({ ... }) is not a setting value (a string, a number, true/false "
                               "or a [list])");
      const auto [it, fresh] = key_lines.emplace(section + "\n" + key, number);
      if (!fresh)
        throw CLI::ConfigError(at + where + " is set a second time in " + section_name(section) + " (first at line " +
                               std::to_string(it->second) + ")");
      kept.push_back({section, key, value, number});
      depth = bracket_depth(value);
    }
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
    if (!unquoted(s.value).empty() && message.find(unquoted(s.value)) != std::string::npos) candidates.push_back(s);
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
    return "line " + std::to_string(s.line) + ": " + where + " = " + s.value + ": " + reason;
  }
  return message;
}

}  // namespace clap::cli
