// An unknown option or command word, in every command, names what was most likely meant (issue
// 53: R15C-4, R15P-2): the command's own nearest option or command, the word other tools use
// for one of clapsearch's, or the command elsewhere that has it. The commands are read from
// --help, so a new command is covered without an edit here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "support/command_help.h"
#include "support/golden.h"

namespace clap {
namespace {

// Every command's help text, asked of the CLI once for all of this suite's test processes.
std::string help_of(const std::string& command) { return test::command_help(command); }
using test::listed_commands;

// The long option names a help text lists ("  -k,--top INT (>= 0)=10  ...": --top).
std::vector<std::string> long_options(const std::string& help) {
  std::vector<std::string> names;
  std::istringstream in(help);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("  -", 0) != 0) continue;
    std::istringstream parts(line.substr(2, line.find(' ', 2) - 2));
    std::string part;
    while (std::getline(parts, part, ','))
      if (part.rfind("--", 0) == 0) names.push_back(part);
  }
  return names;
}

struct Command {
  std::string path;                     // "user add"
  std::vector<std::string> own, known;  // its options; with those of the commands above it
  std::vector<std::string> subcommands;
};

// Every command and subcommand --help lists, and the top level ("").
std::vector<Command> every_command() {
  const std::string top = help_of("");
  std::vector<Command> commands{{"", long_options(top), long_options(top), listed_commands(top, "commands:")}};
  for (const std::string& c : commands.front().subcommands) {
    const std::string help = help_of(c);
    Command cmd{c, long_options(help), commands.front().known, {}};
    cmd.known.insert(cmd.known.end(), cmd.own.begin(), cmd.own.end());
    if (help.find("\nSubcommands:") != std::string::npos) cmd.subcommands = listed_commands(help, "\nSubcommands:");
    commands.push_back(cmd);
    for (const std::string& sub : cmd.subcommands) {
      Command s{c + " " + sub, long_options(help_of(c + " " + sub)), cmd.known, {}};
      s.known.insert(s.known.end(), s.own.begin(), s.own.end());
      commands.push_back(s);
    }
  }
  return commands;
}

std::string path_of(const Command& c) { return c.path.empty() ? "clapsearch" : "clapsearch " + c.path; }

// Optimal string alignment distance (a swap of neighbours is one mistake), as a reader counts.
size_t distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// `typo` is near `meant` and near nothing else of `names` (no other name within 2 mistakes, none
// that it begins): the one answer a reader would give.
bool only_near(const std::string& typo, const std::string& meant, const std::vector<std::string>& names) {
  for (const std::string& n : names)
    if (n != meant && (distance(typo, n) <= 2 || n.rfind(typo, 0) == 0)) return false;
  return true;
}

std::string cli_error(const std::string& args) {
  std::string out, err;
  EXPECT_EQ(test::run_cli(args, &out, &err), 2) << args << "\n" << err;
  // --help pointed at once (R15P-1): CLI11's line only where ours does not name it.
  EXPECT_FALSE(err.find(" --help`") != std::string::npos && err.find("Run with --help") != std::string::npos) << args << "\n" << err;
  return err;
}

// A usage error's exact line for each command line.
void expect_errors(const std::vector<std::pair<std::string, std::string>>& cases) {
  for (const auto& [args, said] : cases) {
    const std::string err = cli_error(args);
    EXPECT_NE(err.find("clapsearch: error: " + said + "\n"), std::string::npos) << args << "\n" << err;
  }
}

// R15C-4 and the class: the nearest option of the command itself, in every command. The
// longest option typed in capitals with '_' (MPD's own music_directory) had no suggestion.
TEST(OptionErrorsCli, EveryCommandSuggestsItsOwnNearestOption) {
  const std::vector<Command> commands = every_command();
  ASSERT_GT(commands.size(), 35u);
  for (const Command& c : commands) {
    if (!c.subcommands.empty() && c.path.empty()) continue;  // the top level: TopLevelWordsAreSuggestedToo
    ASSERT_FALSE(c.own.empty()) << c.path;
    std::vector<std::string> by_length = c.own;
    std::stable_sort(by_length.begin(), by_length.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    const std::string longest = by_length.front();
    std::string shouted = "--";
    for (size_t i = 2; i < longest.size(); ++i)
      shouted += longest[i] == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(longest[i])));
    const std::string see_help = "; `" + path_of(c) + " --help` lists what it takes";
    expect_errors({{c.path + " " + shouted,
                    "unknown option '" + shouted + "' for " + path_of(c) + " (did you mean " + longest + "?)" + see_help}});
    // A letter left out of one of its options, where that is near no other of its names.
    bool tried = false;
    for (const std::string& meant : by_length) {
      const std::string typo = meant.substr(0, 2 + (meant.size() - 2) / 2) + meant.substr(3 + (meant.size() - 2) / 2);
      if (!only_near(typo, meant, c.known)) continue;
      expect_errors({{c.path + " " + typo, "unknown option '" + typo + "' for " + path_of(c) + " (did you mean " + meant + "?)" + see_help}});
      tried = true;
      break;
    }
    EXPECT_TRUE(tried) << c.path << ": no option of it is alone near a typo";
  }
}

// R15C-4: an option of another command was not pointed at it. Each command is given an option
// that one other command has; the brief's own cases first.
TEST(OptionErrorsCli, AnOptionOfAnotherCommandNamesThatCommand) {
  expect_errors({
      {"search --music-dir x quiet",
       "unknown option '--music-dir' for clapsearch search (--music-dir is an option of `clapsearch radio`); "
       "`clapsearch search --help` lists what it takes"},
      {"index --port 1 music", "unknown option '--port' for clapsearch index (--port is an option of `clapsearch serve`); "
                               "`clapsearch index --help` lists what it takes"},
      {"status --rebuild", "unknown option '--rebuild' for clapsearch status (--rebuild is an option of `clapsearch index`); "
                           "`clapsearch status --help` lists what it takes"},
      {"user list --admin", "unknown option '--admin' for clapsearch user list (--admin is an option of `clapsearch user add`); "
                            "`clapsearch user list --help` lists what it takes"},
      // Before the command's name: that command comes first.
      {"--music-dir x radio", "unknown option '--music-dir' for clapsearch (--music-dir is an option of `clapsearch radio`, "
                              "written after the command's name); `clapsearch --help` lists what it takes"},
  });
  const std::vector<Command> commands = every_command();
  std::map<std::string, std::vector<std::string>> owners;  // option -> the commands that have it
  for (const Command& c : commands)
    if (!c.path.empty())
      for (const std::string& o : c.own) owners[o].push_back(c.path);
  for (const Command& c : commands) {
    if (c.path.empty()) continue;
    bool tried = false;
    for (const auto& [option, has] : owners) {
      if (has.size() != 1 || std::find(c.known.begin(), c.known.end(), option) != c.known.end()) continue;
      const std::string err = cli_error(c.path + " " + option);
      EXPECT_NE(err.find("clapsearch: error: unknown option '" + option + "' for clapsearch " + c.path + " ("), std::string::npos)
          << c.path << "\n" << err;
      EXPECT_NE(err.find(option + " is an option of `clapsearch " + has.front() + "`); `clapsearch " + c.path + " --help` lists what it takes"),
                std::string::npos)
          << c.path << "\n" << err;
      tried = true;
      break;
    }
    EXPECT_TRUE(tried) << c.path;
  }
}

// R15P-2: the words other tools use (mpc's --host and --port, MPD's music_directory, other
// servers' --bind and --listen, --limit, --database) name clapsearch's own option.
TEST(OptionErrorsCli, OtherToolsWordsNameTheCommandsOwnOption) {
  const auto said = [](const std::string& command, const std::string& typed, const std::string& meant) {
    return "unknown option '" + typed + "' for clapsearch " + command + " (did you mean " + meant + "?";
  };
  for (const auto& [args, expected] : std::vector<std::pair<std::string, std::string>>{
           {"radio --music-directory /music", said("radio", "--music-directory", "--music-dir")},
           {"radio --music_directory /music", said("radio", "--music_directory", "--music-dir")},
           {"radio --music-folder /music", said("radio", "--music-folder", "--music-dir")},
           {"radio --host localhost", said("radio", "--host", "--mpd") + " --host is an option of `clapsearch serve`)"},
           {"radio --port 6600", said("radio", "--port", "--mpd") + " --port is an option of `clapsearch serve`)"},
           {"radio --mpd-host localhost", said("radio", "--mpd-host", "--mpd")},
           {"serve --bind 0.0.0.0", said("serve", "--bind", "--host") + ")"},
           {"serve --listen 0.0.0.0", said("serve", "--listen", "--host") + ")"},
           {"serve --address 0.0.0.0", said("serve", "--address", "--host") + ")"},
           {"serve --listen-port 80", said("serve", "--listen-port", "--port") + ")"},
           {"search --limit 5 quiet", said("search", "--limit", "--top") + ")"},
           {"playlist --limit 5 --text quiet", said("playlist", "--limit", "--length") + ")"},
           {"index --database x music", said("index", "--database", "--db") + ")"},
       }) {
    const std::string err = cli_error(args);
    EXPECT_NE(err.find("clapsearch: error: " + expected), std::string::npos) << args << "\n" << err;
  }
  // In every command that has the option meant.
  const std::vector<std::pair<std::string, std::vector<std::string>>> words = {
      {"--database", {"--db"}}, {"--jobs", {"--threads"}}, {"--silent", {"--quiet"}},
      {"--output-file", {"--out", "--output"}}, {"--limit", {"--top", "--length", "--size"}}};
  int tried = 0;
  for (const Command& c : every_command())
    for (const auto& [typed, meant_in_order] : words)
      for (const std::string& meant : meant_in_order) {
        if (std::find(c.own.begin(), c.own.end(), meant) == c.own.end()) continue;
        const std::string err = cli_error(c.path + " " + typed);
        EXPECT_NE(err.find("clapsearch: error: " + said(c.path, typed, meant)), std::string::npos) << c.path << "\n" << err;
        ++tried;
        break;
      }
  EXPECT_GT(tried, 30);
}

// An unknown command word names the nearest command of its level, in every level; the words
// other tools use (scan, help), and a command of another level, are pointed at too.
TEST(OptionErrorsCli, AnUnknownCommandSuggestsTheNearestCommand) {
  int tried = 0;
  for (const Command& c : every_command()) {
    for (const std::string& meant : c.subcommands) {
      if (meant.size() < 3) continue;
      const std::string typo = meant.size() <= 4 ? meant.substr(0, meant.size() - 2) + meant.back() + meant[meant.size() - 2]
                                                 : meant.substr(0, meant.size() / 2) + meant.substr(meant.size() / 2 + 1);
      if (typo == meant || !only_near(typo, meant, c.subcommands)) continue;  // "add": its swap is itself
      // A word to the command (search's query) may follow: it does not change what is named.
      const std::string err = cli_error(c.path + " " + typo + " x");
      EXPECT_NE(err.find("clapsearch: error: unknown command '" + typo + "' for " + path_of(c) + " (did you mean " + meant +
                         "?); `" + path_of(c) + " --help` lists the commands\n"),
                std::string::npos)
          << c.path << " " << typo << "\n" << err;
      ++tried;
    }
  }
  EXPECT_GT(tried, 25);
  expect_errors({
      {"help", "unknown command 'help' for clapsearch (did you mean --help?); `clapsearch --help` lists the commands"},
      {"scan /music", "unknown command 'scan' for clapsearch (did you mean index?); `clapsearch --help` lists the commands"},
      {"add bob", "unknown command 'add' for clapsearch (add is a command of `clapsearch user`); `clapsearch --help` lists the commands"},
      {"import f.csv", "unknown command 'import' for clapsearch (did you mean index? import is a command of `clapsearch history`); "
                       "`clapsearch --help` lists the commands"},
      {"user ad bob", "unknown command 'ad' for clapsearch user (did you mean add?); `clapsearch user --help` lists the commands"},
      {"history imprt f.csv", "unknown command 'imprt' for clapsearch history (did you mean import?); `clapsearch history --help` lists the commands"},
      // Nothing near: the level's commands.
      {"eval foo", "unknown command 'foo' for clapsearch eval (commands: zero-shot, retrieval); `clapsearch eval --help` lists the commands"},
  });
}

// R15C-4: `--versio` at the top had no suggestion; an option at the top is a command's.
TEST(OptionErrorsCli, TopLevelWordsAreSuggestedToo) {
  expect_errors({
      {"--versio", "unknown option '--versio' for clapsearch (did you mean --version?); `clapsearch --help` lists what it takes"},
      {"--hlep", "unknown option '--hlep' for clapsearch (did you mean --help?); `clapsearch --help` lists what it takes"},
      {"--config-fle x search", "unknown option '--config-fle' for clapsearch (did you mean --config-file?); `clapsearch --help` lists what it takes"},
  });
  const std::string err = cli_error("-x");
  EXPECT_NE(err.find("clapsearch: error: unknown option '-x' for clapsearch (a command comes first: index, search, "), std::string::npos) << err;
}

// Hostile look (options16): -h and --help answer with 0 in every command, whatever else is on the
// line (a required value left out, an unknown option before it).
TEST(OptionErrorsCli, HelpExitsZeroInEveryCommand) {
  for (const Command& c : every_command())
    for (const char* help : {"-h", "--help"}) {
      std::string out, err;
      EXPECT_EQ(test::run_cli(c.path + " " + help, &out, &err), 0) << c.path << " " << help << "\n" << err;
      EXPECT_NE(out.find("Usage: " + path_of(c)), std::string::npos) << c.path << " " << help << "\n" << out.substr(0, 300);
      EXPECT_TRUE(err.empty()) << c.path << " " << help << "\n" << err;
    }
}

// Hostile look (options16), H16O-1: a 128 KiB unknown word was echoed whole, and an unknown
// option's nearest name took 9 s to find (an edit distance to every name); control characters
// and bytes that are not UTF-8 in an echoed word reach the terminal as \xNN or '?'.
TEST(OptionErrorsCli, AHugeOrHostileWordIsEchoedShortAndSafe) {
  // 120,000 bytes: the shell's command line (one argument of sh -c) stays under the kernel's 128 KiB.
  const std::string big(120000, 'a');
  for (const std::string& args : {"search --" + big + " x", big, "status " + big, "search x --json=" + big}) {
    const std::string err = cli_error(args);
    EXPECT_LT(err.size(), 700u) << err.substr(0, 400);
    EXPECT_NE(err.find("(120"), std::string::npos) << err.substr(0, 400);  // the length, where it is cut
  }
  // Made by printf: sh (dash) has no $'...'. \055 is '-', \033 ESC, \007 BEL, \377 no UTF-8.
  for (const std::string args : {"search \"$(printf '\\055\\055\\033[31mred')\" x", "\"$(printf 'ser\\033[2Jch')\" x",
                                  "status \"$(printf '\\033]0;x\\007')\"", "search x \"$(printf '\\055-json=\\033[31m')\"",
                                  "\"$(printf 'serch\\377')\"", "\"$(printf 'ind\\nex')\""}) {
    const std::string err = cli_error(args);
    EXPECT_EQ(err.find('\x1b'), std::string::npos) << args << "\n" << err;
    EXPECT_EQ(err.find('\x07'), std::string::npos) << args << "\n" << err;
    EXPECT_EQ(err.find('\xff'), std::string::npos) << args << "\n" << err;
    const std::string first = err.substr(0, err.find("Run with --help"));
    EXPECT_EQ(std::count(first.begin(), first.end(), '\n'), 1) << args << "\n" << err;  // one line
  }
}

// Hostile look (options16): `--` and words of three dashes.
TEST(OptionErrorsCli, EndOfOptionsAndTripleDashesAreNamed) {
  expect_errors({
      // H16O-2: '--' before a command was "unknown option '--'", its list with the hidden manpage.
      {"-- search x", "'--' before a command for clapsearch (a command comes first: index, search, like, similar, playlist, "
                      "path, radio, taste, mix, duplicates, serve, status, overlaps, analyze, classify, map, matrix, migrate, "
                      "models, user, history, worker, completion, embed, convert, finetune, eval, doctor, bench; '--' goes "
                      "after it, before words that begin with '-'); `clapsearch --help` lists the commands"},
      {"user -- add bob", "'--' before a command for clapsearch user (a command comes first: add, remove, list, passwd, key, "
                          "keys, revoke; '--' goes after it, before words that begin with '-'); `clapsearch user --help` lists "
                          "the commands"},
      // H16O-3: a word after '--' that a command has no place for was CLI11's "The following
      // argument was not expected: x".
      {"status -- x", "unexpected word 'x' for clapsearch status (it takes options only); `clapsearch status --help` lists what it takes"},
      // H16O-4: three dashes made a word: search looked for the text "---top 5 piano", in silence.
      {"search ---top 5 piano", "unknown option '---top' for clapsearch search (did you mean --top?); `clapsearch search --help` lists what it takes"},
      {"index ---db x music", "unknown option '---db' for clapsearch index (did you mean --db?); `clapsearch index --help` lists what it takes"},
  });
  // After '--' a word of dashes is a word (a query), as it always was.
  std::string out, err;
  EXPECT_EQ(test::run_cli("search --db " + test::quoted(test::temp_dir() + "/none.db") + " -- ---top", &out, &err), 1) << err;
  EXPECT_NE(err.find("no index here"), std::string::npos) << err;
}

// Hostile look (options16): numbers.
TEST(OptionErrorsCli, NumbersAreNamedForWhatTheyAre) {
  const std::string db = " --db " + test::quoted(test::temp_dir() + "/none.db");
  expect_errors({
      // H16O-5: a value with text after the number was "not a finite number".
      {"search x --top=5=6" + db, "--top: 5=6 is not a number"},
      {"search x --diversity 0.5abc" + db, "--diversity: 0.5abc is not a number"},
      {"search x --high 0.5x5" + db, "--high: 0.5x5 is not a decimal number"},
      {"search x --high 0.5abc" + db, "--high: 0.5abc is not a number"},
      // H16O-6: a whole-number option given 1e400 was "not a finite number"; 1e3 is "not a whole number".
      {"search x -k 1e400" + db, "--top: 1e400 is not a whole number"},
      {"search x -k 9223372036854775808" + db, "--top: 9223372036854775808 is out of range"},
      {"search x --high 1e400" + db, "--high: 1e400 is not a finite number"},
  });
  // H16O-7: an unsigned 64-bit option refused its largest value, 2^64-1; 2^64 is out of range.
  std::string out, err;
  EXPECT_EQ(test::run_cli("finetune --out " + test::quoted(test::temp_dir() + "/ft") + " --seed 18446744073709551615" + db, &out, &err), 1)
      << err;
  EXPECT_EQ(err.find("out of range"), std::string::npos) << err;
  expect_errors({{"finetune --out " + test::quoted(test::temp_dir() + "/ft") + " --seed 18446744073709551616" + db,
                  "--seed: 18446744073709551616 is out of range"}});
}

// Hostile look (options16), H16O-8: a name typed empty (`--db "$UNSET"`) was taken as not given:
// `--db ''` used the default index (`index --db ''` filled it), `--password-file ''` fell back
// to $MPD_PASSWORD or standard input, `serve --host ''` said "serving on  (not loopback)", and
// `--config-file ''` ": no such file". Each is named, in both forms.
TEST(OptionErrorsCli, ANameTypedEmptyIsNamed) {
  const std::string db = " --db " + test::quoted(test::temp_dir() + "/none.db");
  const std::string leave_out = "an empty name (name one, or leave the option out for the default)";
  const std::string no_filter = "an empty expression (an unset shell variable?): give one, or leave --where out for every track";
  expect_errors({
      {"search x --db ''", "--db: " + leave_out},
      {"search x --db=", "--db: " + leave_out},
      {"index music --db=", "--db: " + leave_out},
      {"search x --model ''" + db, "--model: " + leave_out},
      {"search x -m ''" + db, "-m: " + leave_out},
      {"search x --tokenizer=" + db, "--tokenizer: " + leave_out},
      {"search x --config=" + db, "--config: " + leave_out},
      {"radio --music-dir= --once" + db, "--music-dir: " + leave_out},
      {"radio --password-file '' --once" + db, "--password-file: an empty name (name a file, or - for standard input)"},
      {"user add bob --password-file=" + db, "--password-file: an empty name (name a file, or - for standard input)"},
      {"serve --host=" + db, "--host: an empty address (leave --host out for 127.0.0.1)"},
      {"--config-file '' search x" + db, "--config-file: an empty name (name a settings file, or leave the option out)"},
      {"search x --config-file=" + db, "--config-file: an empty name (name a settings file, or leave the option out)"},
      // Hostile pass 20, H20C-4: `--where "$UNSET"` searched every track, exit 0.
      {"search x --where ''" + db, "--where: " + no_filter},
      {"search x --where=" + db, "--where: " + no_filter},
      {"playlist --text x --where '  '" + db, "--where: " + no_filter},
      {"radio --once --where ''" + db, "--where: " + no_filter},
  });
}

// Hostile pass 17: odd option words are named as a user needs them.
TEST(OptionErrorsCli, ANamelessValueAShortOptionsEqualsAndALookAlikeDashAreNamed) {
  const std::string db = " --db " + test::quoted(test::temp_dir() + "/none.db");
  const std::string see = "; `clapsearch search --help` lists what it takes";
  expect_errors({
      // Was "unknown option '--' for clapsearch search": '--' is the end of options, not what was typed.
      {"search x --=5" + db, "'--=5': no option's name before '=' (write --NAME=VALUE)" + see},
      {"search x -=5" + db, "'-=5': no option's name before '=' (write --NAME=VALUE)" + see},
      // Was "--top: =5 is not a number": getopt's rule, a short option's value has no '='.
      {"search x -k=5" + db, "'-k=5': a short option takes its value without '=' (-k 5 or -k5; or --top=5)" + see},
      {"user add bob -k=5" + db, "unknown option '-k' for clapsearch user add; `clapsearch user add --help` lists what it takes"},
      // Was a search for the text "—top 5 piano" (exit 0 on an index): a document's em dash.
      {"search \xE2\x80\x94top 5 piano" + db,
       "'\xE2\x80\x94top' begins with an em dash (U+2014), not '-' (a document or a web page shows `--top` so): type --top "
       "for clapsearch search's option, or give the word after `--` if it is a word" + see},
      {"search piano \xE2\x80\x93\xE2\x80\x93top=5" + db,
       "'\xE2\x80\x93\xE2\x80\x93top=5' begins with an en dash (U+2013), not '-' (a document or a web page shows `--top` so): "
       "type --top for clapsearch search's option, or give the word after `--` if it is a word" + see},
      {"search piano \xE2\x88\x92k 5" + db,
       "'\xE2\x88\x92k' begins with a minus sign (U+2212), not '-' (a document or a web page shows `-k` so): type -k "
       "for clapsearch search's option, or give the word after `--` if it is a word" + see},
      {"index music \xE2\x80\x94" "db x.db",
       "'\xE2\x80\x94" "db' begins with an em dash (U+2014), not '-' (a document or a web page shows `--db` so): type --db "
       "for clapsearch index's option, or give the word after `--` if it is a word; `clapsearch index --help` lists what it takes"},
  });
  // Hostile pass 18: a small em dash (U+FE58) and a soft hyphen (U+00AD, invisible where shown)
  // were still taken as words: `search ﹘﹘top 5 piano` searched for "﹘﹘top 5 piano".
  expect_errors({
      {"search \xEF\xB9\x98\xEF\xB9\x98top 5 piano" + db,
       "'\xEF\xB9\x98\xEF\xB9\x98top' begins with a small em dash (U+FE58), not '-' (a document or a web page shows "
       "`--top` so): type --top for clapsearch search's option, or give the word after `--` if it is a word" + see},
      {"search piano --\xC2\xADtop 5" + db,
       "'--\xC2\xADtop' begins with a soft hyphen (U+00AD), not '-' (a document or a web page shows `--top` so): type --top "
       "for clapsearch search's option, or give the word after `--` if it is a word" + see},
      {"index music \xE2\xB8\xBA" "db x.db",
       "'\xE2\xB8\xBA" "db' begins with a two-em dash (U+2E3A), not '-' (a document or a web page shows `--db` so): type --db "
       "for clapsearch index's option, or give the word after `--` if it is a word; `clapsearch index --help` lists what it takes"},
  });
  // A dash word that names no option is a query word, as before; after `--` any word is.
  for (const std::string& words : {std::string("\xE2\x80\x94piano"), std::string("-- \xE2\x80\x94top"),
                                   std::string("\xEF\xB9\x98intro"), std::string("-- \xC2\xAD-top")}) {
    std::string out, err;
    EXPECT_EQ(test::run_cli("search " + words + db, &out, &err), 1) << words << "\n" << err;
    EXPECT_NE(err.find("no index here"), std::string::npos) << words << "\n" << err;
  }
}

// Hostile pass 17: odd argv, in bulk: no crash, a usage error of one line, never a hang. (The
// timeout is run_cli's own limit on a stuck child, not a measure.)
TEST(OptionErrorsCli, OddWordsInBulkGiveOneClearLine) {
  const std::string db = " --db " + test::quoted(test::temp_dir() + "/none.db");
  std::string repeated, huge(100000, 'x');
  for (int i = 0; i < 10000; ++i) repeated += " -k 5";
  for (const std::string& args : {"search x" + repeated + db, "search x --" + huge + db, "search x --top=" + huge + db,
                                  "search x -k" + huge + db, "search x ---" + huge + db, std::string("search x '' --") + db,
                                  "search - -" + db}) {
    std::string out, err;
    const int code = test::run_cli(args, &out, &err);
    EXPECT_TRUE(code == 1 || code == 2) << args.substr(0, 200) << "\n" << err.substr(0, 500);
    EXPECT_EQ(err.rfind("clapsearch: error: ", 0), 0u) << args.substr(0, 200) << "\n" << err.substr(0, 500);
    EXPECT_LT(err.size(), 1000u) << args.substr(0, 200);
  }
}

// Every option a command's --help lists is in docs/commands.md (R16P-4: like --exclude-self,
// worker --poll and bench --hnsw were not): in a section whose heading names the command
// (`clapsearch worker`), or in "Common options and behaviour"; a command no heading names
// (search's, under "Search commands") anywhere in the page. No test looked at this before.
TEST(OptionErrorsCli, EveryOptionOfEveryCommandIsInTheCommandReference) {
  const std::string page = test::read_file(std::string(CLAPSEARCH_GOLDEN_DIR) + "/../../docs/commands.md");
  ASSERT_NE(page.find("# Command reference"), std::string::npos);
  std::vector<std::string> sections;  // each "## " section, its heading first
  for (size_t at = page.find("\n## "); at != std::string::npos;) {
    const size_t next = page.find("\n## ", at + 1);
    sections.push_back(page.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1));
    at = next;
  }
  const auto named = [](const std::string& text, const std::string& option) {  // --top, not --top-x
    for (size_t at = text.find(option); at != std::string::npos; at = text.find(option, at + 1)) {
      const char after = at + option.size() < text.size() ? text[at + option.size()] : ' ';
      if (!(std::isalnum(static_cast<unsigned char>(after)) || after == '-')) return true;
    }
    return false;
  };
  std::string common;
  for (const std::string& s : sections)
    if (s.rfind("## Common options", 0) == 0) common = s;
  ASSERT_FALSE(common.empty());
  for (const Command& c : every_command()) {
    if (c.path.empty()) continue;
    const std::string top = "`clapsearch " + c.path.substr(0, c.path.find(' ')) + "`";
    std::string own;
    for (const std::string& s : sections)
      if (s.substr(0, s.find('\n')).find(top) != std::string::npos) own += s;
    for (const std::string& option : c.own) {
      if (option == "--help") continue;
      EXPECT_TRUE(named(own.empty() ? page : own, option) || named(common, option))
          << "clapsearch " << c.path << " " << option << " is not in docs/commands.md"
          << (own.empty() ? "" : " (its section: " + top + ")");
    }
  }
}

}  // namespace
}  // namespace clap
