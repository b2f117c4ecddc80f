// What a mistyped option or command word most likely meant, for the one usage error that names
// it. Every command's unknown option and every level's unknown command word is named by these
// two, so a new command gets the same help without code of its own (issue 53, R15C-4, R15P-2).
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace clap::cli {

// "unknown option 'TYPED' for PATH (HINT); `PATH --help` lists what it takes". `levels` are the
// commands on the way, the root first and the command the option was given to last; PATH names
// them ("clapsearch user add"). HINT, when there is one: the command's own option nearest to
// TYPED ("did you mean --top?": the same name in other case or with '_', a unique prefix, a
// few typing mistakes, or the word other tools use for it: serve --bind is --host, radio --port
// is --mpd HOST:PORT), and the commands that have TYPED itself ("--music-dir is an option of
// `clapsearch radio`"). At the root, where a command must come first, that is said too.
std::string unknown_option_message(const std::vector<const CLI::App*>& levels, const std::string& typed);

// "unknown command 'TYPED' for PATH (HINT); `PATH --help` lists the commands": the nearest
// command of the last level ("did you mean search?"), the word other tools use for one (scan is
// index), or the command elsewhere in the tree that has that name ("add is a command of
// `clapsearch user`"); with no hint, the level's commands are listed.
std::string unknown_command_message(const std::vector<const CLI::App*>& levels, const std::string& typed);

// `clapsearch -- search x`, `clapsearch user -- add`: '--' (after which every word is a word,
// never an option) where a command must come first. Was "unknown option '--'".
std::string end_of_options_before_command(const std::vector<const CLI::App*>& levels);

// A word from the command line as a message shows it: at most 100 bytes (cut at a character
// boundary, with its length), control characters escaped. A 128 KiB argument was echoed whole.
std::string shown_word(const std::string& word);

}  // namespace clap::cli
