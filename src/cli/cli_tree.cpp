#include "cli/cli_tree.h"

#include "cli/suggest.h"

#include <algorithm>
#include <cctype>
#include <iterator>

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

namespace {

const CLI::Option* known_option(const std::string& name, const std::vector<const CLI::App*>& levels) {
  for (auto level = levels.rbegin(); level != levels.rend(); ++level)
    if (const CLI::Option* o = (*level)->get_option_no_throw(name)) return o;
  return nullptr;
}

// The one walk of the words up to `--` that malformed_option and switch_given_a_value share:
// a command word moves down a level, as the parser follows subcommands; every other word goes
// to `visit(word, levels, i)`, which may move i past a value the word's option takes. The first
// non-empty answer ends the walk.
template <typename Visit>
std::string walk_words(const CLI::App& app, int argc, const char* const* argv, Visit visit) {
  std::vector<const CLI::App*> levels{&app};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return "";
    const std::vector<const CLI::App*> subs = levels.back()->get_subcommands([](const CLI::App*) { return true; });
    const auto sub = std::find_if(subs.begin(), subs.end(), [&](const CLI::App* c) { return c->check_name(arg); });
    if (sub != subs.end()) {
      levels.push_back(*sub);
      continue;
    }
    if (std::string said = visit(arg, levels, i); !said.empty()) return said;
  }
  return "";
}

}  // namespace

std::string unexpected_argument(const CLI::App& app, int argc, const char* const* argv) {
  std::vector<const CLI::App*> levels{&app};
  std::string path = "clapsearch";
  size_t words = 0;  // plain words given to the current command
  const auto see_help = [&] { return "`" + path + " --help` lists what it takes"; };
  bool words_only = false;  // after `--` every word is a word, whatever it looks like
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--" && !words_only) {
      words_only = true;
      continue;
    }
    const CLI::App* level = levels.back();
    if (arg.size() > 1 && arg[0] == '-' && !words_only) {
      const bool is_long = arg.rfind("--", 0) == 0;
      const std::string name = is_long ? arg.substr(0, arg.find('=')) : arg.substr(0, 2);  // -k5: -k
      const CLI::Option* o = known_option(name, levels);
      if (!o) return unknown_option_message(levels, is_long ? name : arg.substr(0, arg.find('=')));
      const bool value_attached = is_long ? arg.find('=') != std::string::npos : arg.size() > 2;
      if (!value_attached && o->get_expected_min() > 0) ++i;
      // An option of several values takes the words up to the next option, as the parser does.
      if (o->get_expected_max() > 1)
        while (i + 1 < argc && !(argv[i + 1][0] == '-' && argv[i + 1][1] != 0)) ++i;
      continue;
    }
    const std::vector<const CLI::App*> subs = level->get_subcommands([](const CLI::App*) { return true; });
    const auto sub = std::find_if(subs.begin(), subs.end(), [&](const CLI::App* c) { return c->check_name(arg); });
    if (sub != subs.end() && words == 0 && !words_only) {
      levels.push_back(*sub);
      path += " " + (*sub)->get_name();
      continue;
    }
    size_t room = 0;
    for (const CLI::Option* p : positionals(*level)) room += static_cast<size_t>(std::max(0, p->get_expected_max()));
    if (++words <= room) continue;
    if (words == 1 && room == 0 && !subs.empty()) return unknown_command_message(levels, arg);  // `user ad`
    std::string names;
    for (const CLI::Option* p : positionals(*level)) names += (names.empty() ? "" : " ") + p->get_name();
    return "unexpected word '" + shown_word(arg) + "' for " + path +
           (room == 0 ? " (it takes options only)" : " (it takes " + std::to_string(room) + " at most: " + names + ")") +
           "; " + see_help();
  }
  return "";
}

namespace {

std::string path_of_levels(const std::vector<const CLI::App*>& levels) {  // "clapsearch user add"
  std::string path;
  for (const CLI::App* level : levels) path += (path.empty() ? "" : " ") + level->get_name();
  return path;
}

// The dashes a word processor, a web page or a phone keyboard puts where '-' or '--' was typed
// (UTF-8), with the name a message gives each.
struct LookAlikeDash {
  const char* bytes;
  const char* name;
};
constexpr LookAlikeDash kLookAlikeDashes[] = {
    {"\xE2\x80\x90", "a hyphen (U+2010)"},           {"\xE2\x80\x91", "a non-breaking hyphen (U+2011)"},
    {"\xE2\x80\x92", "a figure dash (U+2012)"},      {"\xE2\x80\x93", "an en dash (U+2013)"},
    {"\xE2\x80\x94", "an em dash (U+2014)"},         {"\xE2\x80\x95", "a horizontal bar (U+2015)"},
    {"\xE2\x88\x92", "a minus sign (U+2212)"},       {"\xEF\xB9\xA3", "a small hyphen-minus (U+FE63)"},
    {"\xEF\xBC\x8D", "a fullwidth hyphen-minus (U+FF0D)"},
    // Hostile pass 18: these too were taken as words (`search ﹘﹘top 5 piano` searched for them).
    // A soft hyphen is invisible where the word is shown: pasted from a web page, `--top` can
    // carry one, and the message names it.
    {"\xEF\xB9\x98", "a small em dash (U+FE58)"},    {"\xC2\xAD", "a soft hyphen (U+00AD)"},
    {"\xE2\xB8\xBA", "a two-em dash (U+2E3A)"},       {"\xE2\xB8\xBB", "a three-em dash (U+2E3B)"},
    {"\xEF\xB8\xB1", "a vertical em dash (U+FE31)"}, {"\xEF\xB8\xB2", "a vertical en dash (U+FE32)"},
};

// `search —top 5 piano` (an em dash, as a document or a web page shows `--top`): the word is no
// option to the parser, so search looked for the text "—top 5 piano" in silence. Named when
// the word after the dashes (up to '=') is an option of a command on the way; any other word
// that begins with such a dash stays a word (a query may). "" when it is not such a word.
std::string look_alike_dash(const std::string& arg, const std::vector<const CLI::App*>& levels) {
  size_t at = 0;
  const char* first = nullptr;
  for (bool more = true; more && at < arg.size();) {  // dashes of either kind ("-—top" too)
    more = arg[at] == '-';
    if (more) ++at;
    for (const LookAlikeDash& d : kLookAlikeDashes)
      if (!more && arg.compare(at, std::char_traits<char>::length(d.bytes), d.bytes) == 0) {
        if (first == nullptr) first = d.name;
        at += std::char_traits<char>::length(d.bytes);
        more = true;
      }
  }
  if (first == nullptr || at >= arg.size()) return "";
  const std::string name = arg.substr(at, arg.find('=', at) == std::string::npos ? std::string::npos : arg.find('=', at) - at);
  const CLI::Option* o = name.size() == 1 ? known_option("-" + name, levels) : known_option("--" + name, levels);
  if (o == nullptr) return "";
  const std::string meant = (name.size() == 1 ? "-" : "--") + name;
  const std::string path = path_of_levels(levels);
  return "'" + shown_word(arg) + "' begins with " + first + ", not '-' (a document or a web page shows `" + meant +
         "` so): type " + meant + " for " + path + "'s option, or give the word after `--` if it is a word; `" + path +
         " --help` lists what it takes";
}

}  // namespace

std::string malformed_option(const CLI::App& app, int argc, const char* const* argv) {
  return walk_words(app, argc, argv, [&](const std::string& arg, const std::vector<const CLI::App*>& levels, int& i) {
    if (const std::string dash = look_alike_dash(arg, levels); !dash.empty()) return dash;
    if (arg.rfind("---", 0) == 0) return unknown_option_message(levels, arg.substr(0, arg.find('=')));
    if (arg.size() < 2 || arg[0] != '-') return std::string();
    const std::string path = path_of_levels(levels);
    // `--=5`, `-=5`: a value with no name, which was "unknown option '--'" (the end of options).
    if (arg.rfind("--=", 0) == 0 || arg.rfind("-=", 0) == 0)
      return "'" + shown_word(arg) + "': no option's name before '=' (write --NAME=VALUE); `" + path +
             " --help` lists what it takes";
    const bool is_long = arg[1] == '-';
    const CLI::Option* o = known_option(is_long ? arg.substr(0, arg.find('=')) : arg.substr(0, 2), levels);
    // `-k=5`: a short option's value follows it without '=' (as getopt reads it); CLI11 took "=5"
    // for the value, "--top: =5 is not a number". A switch given '=' is switch_given_a_value's;
    // `-o=` (nothing after '=') stays the empty name it is named as.
    if (!is_long && o != nullptr && arg.size() > 3 && arg[2] == '=' && o->get_expected_min() > 0) {
      const std::string value = arg.substr(3);
      const std::string long_name = o->get_lnames().empty() ? "" : "--" + o->get_lnames().front();
      return "'" + shown_word(arg) + "': a short option takes its value without '=' (" + arg.substr(0, 2) + " " +
             shown_word(value) + " or " + arg.substr(0, 2) + shown_word(value) +
             (long_name.empty() ? "" : "; or " + long_name + "=" + shown_word(value)) + "); `" + path +
             " --help` lists what it takes";
    }
    const bool value_attached = is_long ? arg.find('=') != std::string::npos : arg.size() > 2;
    if (o != nullptr && !value_attached && o->get_expected_min() > 0) ++i;  // its value, whatever it looks like
    return std::string();
  });
}

bool switch_value_word(std::string value) {
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* const words[] = {"true", "false", "on", "off", "yes", "no", "enable", "disable",
                                      "t", "f", "y", "n", "1", "0"};
  return std::find(std::begin(words), std::end(words), value) != std::end(words);
}

std::string switch_given_a_value(const CLI::App& app, int argc, const char* const* argv) {
  // The words that say on or off (docs/commands.md: `=yes`, `=no`, `=1`, `=0` are taken). CLI11
  // also reads any whole number and an empty value as on: `--json=5`, `--json=-1` and `--json=`
  // ran the command with the switch on, with no word (R15C-3); every switch refuses them now.
  return walk_words(app, argc, argv, [&](const std::string& arg, const std::vector<const CLI::App*>& levels, int& i) {
    if (arg.size() < 3 || arg[0] != '-') return std::string();
    const bool is_long = arg[1] == '-';
    const size_t eq = arg.find('=');
    if (const CLI::Option* o = known_option(is_long ? arg.substr(0, eq) : arg.substr(0, 2), levels);
        o != nullptr && o->get_expected_min() > 0 && (is_long ? eq == std::string::npos : arg.size() == 2))
      ++i;  // the option's value, whatever it looks like (`--text --json=5`)
    // --name=VALUE, or -q=VALUE (a short option's value is what follows it; '=' is never one)
    if (eq == std::string::npos || (!is_long && eq != 2)) return std::string();
    const std::string name = arg.substr(0, eq), value = arg.substr(eq + 1);
    const CLI::Option* o = known_option(name, levels);
    // A short switch takes no '=' at all: CLI11 read `-q=yes` as "-q" and "=yes", "The following
    // argument was not expected: -=yes" (hostile pass 18).
    if (!o || o->get_expected_max() != 0 || (is_long && switch_value_word(value))) return std::string();
    return name + " is a switch and takes no value ('" + shown_word(value) + "' given): write " + name + " alone";
  });
}

std::shared_ptr<CLI::Formatter> help_formatter() { return std::make_shared<HelpFormatter>(); }

}  // namespace clap::cli
