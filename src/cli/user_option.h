// The --user NAME option of the commands that read or write a user's history.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

namespace clap::cli {

// --user NAME: an empty name refused, naming the option ("--user: an empty name names no user
// ..."). Without it `--user ""` (a script's unset $USER_NAME) was taken as no --user at all, the
// index's only user, silently, by every command that takes it (hostile pass 16, R16P-2).
inline CLI::Validator user_name() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        if (!v.empty()) return "";
        return "an empty name names no user: give the user's name (`clapsearch user list` lists them), or leave "
               "--user out for the index's only user";
      },
      "", "user name");
}

}  // namespace clap::cli
