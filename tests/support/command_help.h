// Every command's --help text, for the tests that walk every command (the usage and option
// suggestion tests): asked of the built CLI once and kept as a shared fixture, where each of
// those tests' processes asked every command again (~45 starts of the CLI a test).
#pragma once

#include <string>
#include <vector>

namespace clap::test {

// The names listed under a help text's command headings ("  index    Index ..."), from the line
// `from` on: lines of two spaces and a lower-case word.
std::vector<std::string> listed_commands(const std::string& help, const std::string& from);

// Every command path --help lists, in its order: "" (the top level), each command, and after a
// command its subcommands ("user add").
std::vector<std::string> every_command_path();

// `clapsearch COMMAND --help`'s standard output, for a path every_command_path() lists. Made for
// all of them at once, each checked when made: exit status 0, nothing on stderr, its usage line.
std::string command_help(const std::string& path);

}  // namespace clap::test
