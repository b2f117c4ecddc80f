// Files the program opens by a name it derives (a window index beside the database, a cache
// file): someone else may have put a FIFO, socket or device at that name, and opening one for
// reading blocks (a FIFO waits for a writer, forever) or reads without end. These open regular
// files only, and never block in open(2).
#pragma once
#include <cstdio>
#include <string>

namespace clap {

// Opens `path` read-only when it is a regular file: open(2) with O_NONBLOCK (a FIFO does not
// wait for a writer), fstat, then back to blocking reads. -1 with errno set otherwise (EINVAL:
// not a regular file).
int open_regular_file(const std::string& path);

// The same as a stdio stream ("rb"); nullptr with errno set.
FILE* fopen_regular(const std::string& path);

// The first `bytes` bytes of the regular file at `path` (fewer when it is shorter; "" when it
// cannot be opened as open_regular_file opens): what a file is, told by its magic number.
std::string read_file_head(const std::string& path, size_t bytes);

// Whether `path` is a regular file, checked as open_regular_file opens: guards a later open by
// other means (std::ifstream) that would block on a FIFO.
bool is_regular_file_safely(const std::string& path);

// "not a regular file" for EINVAL, kLinkLoop for ELOOP, else strerror(errno): the reason after a
// failed open above.
std::string open_error(int err);

// A path whose symbolic links lead round in a circle (stat fails with ELOOP): it names no file,
// and "no such file" or SQLite's "unable to open" would hide why.
bool is_link_loop(const std::string& path);
inline constexpr const char* kLinkLoop = "a loop of symbolic links (following them never reaches a file)";

// Where a symbolic link at `path` leads when nothing is there (a dangling link), as the link
// says it; "" when `path` is no link, or one that reaches a file or folder.
std::string dangling_link_target(const std::string& path);

}  // namespace clap
