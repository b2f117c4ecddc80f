#include "cli/cli_tree.h"

#include <algorithm>

namespace clap::cli {

std::vector<const CLI::App*> visible_commands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* c) { return !c->get_group().empty() && !c->get_name().empty(); });
}

std::vector<const CLI::Option*> named_options(const CLI::App& app) {
  return app.get_options([](const CLI::Option* o) { return o->nonpositional() && !o->get_group().empty(); });
}

std::vector<const CLI::Option*> positionals(const CLI::App& app) {
  return app.get_options([](const CLI::Option* o) { return o->get_positional(); });
}

std::vector<std::string> option_names(const CLI::Option& opt) {
  std::vector<std::string> names;
  for (const std::string& n : opt.get_lnames()) names.push_back("--" + n);
  for (const std::string& n : opt.get_snames()) names.push_back("-" + n);
  return names;
}

bool is_flag(const CLI::Option& opt) { return opt.get_expected_max() == 0; }  // add_flag: expected(0)

bool takes_path(const CLI::Option& opt) {
  // Text values only (not numbers such as --silence-db), and not a fixed set of choices.
  const std::string type = opt.get_type_name();
  if (is_flag(opt) || type.rfind("TEXT", 0) != 0 || type.find('{') != std::string::npos) return false;
  static const char* const kPathWords[] = {"db", "model", "config", "tokenizer", "out", "output", "file", "dir",
                                           "csv", "labels", "captions", "queries", "cache", "svg", "png", "m3u", "npy",
                                           "checkpoint", "from", "to", "audio", "save", "load", "report"};
  for (const std::string& name : opt.get_lnames())
    for (const char* word : kPathWords) {
      const std::string w = word;
      // The word as a whole part of the name: --db, --out-dir, --labels-csv; not --window.
      const size_t at = name.find(w);
      if (at == std::string::npos) continue;
      const bool starts = at == 0 || name[at - 1] == '-';
      const bool ends = at + w.size() == name.size() || name[at + w.size()] == '-';
      if (starts && ends) return true;
    }
  return false;
}

bool positionals_are_paths(const CLI::App& cmd) {
  for (const CLI::Option* p : positionals(cmd)) {
    const std::string name = p->get_name();
    if (name.find("text") != std::string::npos || name.find("quer") != std::string::npos) return false;
  }
  return !positionals(cmd).empty();
}

std::string one_line(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '\n' ? ' ' : c;
  return out;
}

namespace {

bool is_bare_type(const std::string& type) { return type == "INT" || type == "UINT" || type == "FLOAT" || type == "TEXT"; }

class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_opts(const CLI::Option* opt) const override {
    std::string text = CLI::Formatter::make_option_opts(opt);
    const std::string raw = " " + opt->get_type_name();
    if (!opt->get_type_name().empty() && text.rfind(raw, 0) == 0) text.replace(0, raw.size(), " " + value_placeholder(*opt));
    return text;
  }
};

}  // namespace

std::string value_placeholder(const CLI::Option& opt) {
  const std::string full = opt.get_type_name();
  const size_t colon = full.find(':');
  if (colon == std::string::npos) return full;
  const std::string type = full.substr(0, colon);
  // The checks' names, each after a ':' (none of them holds one).
  std::string shown;
  for (size_t at = colon; at != std::string::npos;) {
    const size_t next = full.find(':', at + 1);
    std::string check = full.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    at = next;
    if (check.empty() || check == type) continue;
    // number_between / non_negative / positive: "NUMBER 0..1" of a FLOAT is "FLOAT (0..1)".
    if (check.rfind("NUMBER ", 0) == 0) check = type + " (" + check.substr(7) + ")";
    else if (!is_bare_type(type)) continue;  // a name the command chose (SEED, DURATION) says it best
    shown += (shown.empty() ? "" : " ") + check;
  }
  return shown.empty() ? type : shown;
}

std::shared_ptr<CLI::Formatter> help_formatter() { return std::make_shared<HelpFormatter>(); }

}  // namespace clap::cli
