#include "core/missing_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/regular_file.h"

namespace clap {

std::string missing_file_reason(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return "";
  const int err = errno;
  if (err == ENOENT || err == ENOTDIR) return kNoSuchFile;
  if (err == ELOOP) return kLinkLoop;
  if (err == ENAMETOOLONG)
    return "a name too long for the system (" + std::to_string(path.size()) +
           " bytes; a path is at most 4096, each name in it 255)";
  return std::strerror(err);
}

}  // namespace clap
