#include "core/user_dirs.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "core/error.h"

namespace clap {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string home_dir() {
  std::string h = env_or_empty("HOME");
  if (!h.empty()) return h;
  if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) return pw->pw_dir;
  throw Error("cannot find the home directory (HOME is not set)");
}

std::string clapsearch_cache_dir() {
  std::string cache = env_or_empty("XDG_CACHE_HOME");
  if (cache.empty() || cache.front() != '/') cache = home_dir() + "/.cache";
  return cache + "/clapsearch";
}

std::string clapsearch_data_dir() {
  std::string data = env_or_empty("XDG_DATA_HOME");
  if (data.empty() || data.front() != '/') data = home_dir() + "/.local/share";
  return data + "/clapsearch";
}

}  // namespace clap
