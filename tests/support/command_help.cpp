#include "support/command_help.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>

#include "support/golden.h"

namespace clap::test {

std::vector<std::string> listed_commands(const std::string& help, const std::string& from) {
  std::vector<std::string> names;
  std::istringstream in(help.substr(std::min(help.size(), help.find(from))));
  std::string line;
  while (std::getline(in, line))
    if (line.size() > 3 && line.rfind("  ", 0) == 0 && std::islower(static_cast<unsigned char>(line[2])))
      names.push_back(line.substr(2, line.find(' ', 2) - 2));
  return names;
}

namespace {

// The fixture's file for a path: "" is "top.help", "user add" "user+add.help".
std::string file_of(const std::string& dir, std::string path) {
  std::replace(path.begin(), path.end(), ' ', '+');
  return dir + "/" + (path.empty() ? "top" : path) + ".help";
}

// Asks the CLI; a fatal failure when --help does not answer as help does (shared_fixture then
// keeps nothing).
void ask(const std::string& dir, const std::string& path, std::string* text) {
  std::string err;
  ASSERT_EQ(run_command(cli_command() + (path.empty() ? "" : " " + path) + " --help", text, &err), 0) << path << "\n" << err;
  ASSERT_TRUE(err.empty()) << path << " --help\n" << err;
  ASSERT_NE(text->find("Usage: clapsearch" + (path.empty() ? "" : " " + path)), std::string::npos) << path << "\n" << *text;
  std::ofstream(file_of(dir, path), std::ios::binary) << *text;
}

const std::string& fixture() {
  static const std::string dir = shared_fixture("command-help", [](const std::string& d) {
    std::string top, help;
    ask(d, "", &top);
    if (::testing::Test::HasFatalFailure()) return;
    std::ofstream paths(d + "/paths");
    paths << "\n";  // the top level's path, ""
    for (const std::string& c : listed_commands(top, "commands:")) {
      ask(d, c, &help);
      if (::testing::Test::HasFatalFailure()) return;
      paths << c << "\n";
      if (help.find("\nSubcommands:") == std::string::npos) continue;
      std::string sub_help;
      for (const std::string& sub : listed_commands(help, "\nSubcommands:")) {
        ask(d, c + " " + sub, &sub_help);
        if (::testing::Test::HasFatalFailure()) return;
        paths << c << " " << sub << "\n";
      }
    }
  });
  return dir;
}

}  // namespace

std::vector<std::string> every_command_path() {
  std::ifstream in(fixture() + "/paths");
  std::vector<std::string> paths;
  for (std::string line; std::getline(in, line);) paths.push_back(line);
  return paths;
}

std::string command_help(const std::string& path) {
  std::ifstream in(file_of(fixture(), path), std::ios::binary);
  EXPECT_TRUE(in.good()) << "no --help text kept for '" << path << "'";
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace clap::test
