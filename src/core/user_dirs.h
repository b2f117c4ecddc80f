// Where clapsearch keeps per-user files, following the XDG base directory rules (relative
// values of the XDG variables are ignored, as the specification says).
#pragma once
#include <string>

namespace clap {

std::string env_or_empty(const char* name);
// $HOME, else the password database; throws clap::Error when neither knows it.
std::string home_dir();
// $XDG_CACHE_HOME/clapsearch, else ~/.cache/clapsearch (not created here).
std::string clapsearch_cache_dir();
// $XDG_DATA_HOME/clapsearch, else ~/.local/share/clapsearch (not created here).
std::string clapsearch_data_dir();

}  // namespace clap
