// Why a path names no file, in words: "no such file" hid a loop of symbolic links or a name too
// long for the system (hostile pass 10).
#pragma once
#include <string>

namespace clap {

inline constexpr const char* kNoSuchFile = "no such file";

// "" when `path` names a file (of any kind, links followed); kNoSuchFile when nothing is there
// (ENOENT, ENOTDIR); else the reason stat(2) gives in words: a loop of symbolic links
// (core/regular_file.h kLinkLoop), a name too long, permission denied.
std::string missing_file_reason(const std::string& path);

}  // namespace clap
