// Reading the CLI's own definition (the CLI11 App tree) for the generated completion scripts
// and man page, so they list exactly what --help lists.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

namespace clap::cli {

// The commands --help shows (hidden ones, with an empty group, left out), in help order.
std::vector<const CLI::App*> visible_commands(const CLI::App& app);
// The named options (not positionals, not hidden), in help order.
std::vector<const CLI::Option*> named_options(const CLI::App& app);
std::vector<const CLI::Option*> positionals(const CLI::App& app);
// Every name of an option ("--quiet", "-q").
std::vector<std::string> option_names(const CLI::Option& opt);
bool is_flag(const CLI::Option& opt);
// Options whose value is a file or folder name (completed with file names): by name, as the
// commands name them (--db, --model, --out, ...).
bool takes_path(const CLI::Option& opt);
// Positional arguments are files or folders in every command that has them, except texts.
bool positionals_are_paths(const CLI::App& cmd);
// One line of help text: the description with line breaks as spaces.
std::string one_line(const std::string& text);

// The placeholder for an option's value in --help, the man page and the completions. CLI11's
// own joins the type name and every check's name with ':' ("ID:ID", "INT:INT in [1 - 1000]",
// "FLOAT:NUMBER 0..1", "TEXT:{mean,max}"); this shows one: the check's name when it says more
// than a bare INT/FLOAT/TEXT ("{mean,max}", "INT in [1 - 1000]", "COSINE"), a number check as
// the type and its range ("FLOAT (0..1)", "INT (>= 0)"), else the type name ("ID", "SEED").
std::string value_placeholder(const CLI::Option& opt);

// What CLI11 calls "arguments not expected" in the user's words (hostile pass 13, R13P-1): the
// first option that no command on the way knows, with the nearest known name when one is near
// ("unknown option '--pasword' for clapsearch user add (did you mean --password-file?) ..."), or
// the first word a command has no place for. "" when the words hold no such thing (then CLI11's
// own message stands). Subcommands are followed as the parser follows them.
std::string unexpected_argument(const CLI::App& app, int argc, const char* const* argv);

// A word of three dashes or more before `--` (`search ---top 5 piano`): CLI11 takes it for a
// word, so search looked for the text "---top 5 piano" with the default --top, in silence. Named
// as an unknown option ("did you mean --top?"); "" when there is none. A word that begins with
// dashes on purpose is given after `--`. Also named here (hostile pass 17): `--=5` (no name
// before '=', was "unknown option '--'"), `-k=5` (a short option's value has no '=', was
// "--top: =5 is not a number"), and an option typed with a look-alike dash (`—top`, an em
// dash as documents show `--top`: search looked for the text "—top" in silence).
std::string malformed_option(const CLI::App& app, int argc, const char* const* argv);

// A switch (an option that takes no value) given one CLI11 cannot read as on or off: `radio
// --for-me=ann` (a new user's guess that it names the user) said CLI11's "Could not convert:
// --for-me = ann", and `index -q=x` "The following argument was not expected: -=x" (hostile pass
// 15). Named as "--for-me is a switch and takes no value ('ann' given) ..."; "" when none is.
// Only on/off words and 1/0 are taken: `--json=5` and `--json=` were read by CLI11 as on (R15C-3),
// so main asks this before the parse.
std::string switch_given_a_value(const CLI::App& app, int argc, const char* const* argv);

// Whether `value` is one of the words a switch takes for on or off (true/false, on/off, yes/no,
// enable/disable, t/f, y/n, 1/0, in any case): the command line's `--json=VALUE` and the settings
// file's `json = VALUE` take the same ones.
bool switch_value_word(std::string value);

// CLI11's help formatter with value_placeholder in place of the type name; every command made
// after it is set on the app inherits it.
std::shared_ptr<CLI::Formatter> help_formatter();

}  // namespace clap::cli
