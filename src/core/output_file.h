// Writing a result so that it is never lost or faked: every write, the flush, the fsync and the
// close are checked, and a regular file appears whole or not at all. Used for the CLI's
// --output/--csv files and standard output, and for the vector-index file.
#pragma once
#include <cstddef>
#include <cstdio>
#include <string>

namespace clap {

// Where a result goes: stdout ("-" or empty) or a file. A regular file is written
// under a temporary name beside it and renamed over the target only when every write, the
// flush and the close succeeded, so a failed run (full disk, I/O error, Ctrl-C) never leaves a
// plausible-looking partial file. Devices and pipes (/dev/stdout, a FIFO) are written in place.
//
// A named file that is replaced keeps its permission bits (and owner and group, where the
// process may set them), as the shell's `>` keeps them: a playlist or CSV the user made private
// (chmod 600) is not made readable by all by the next run.
//
// A file whose name the program derives (an index beside the database, a cache file) is opened
// with Derived: never in place, whatever is at the name — a FIFO there would block the open
// for a reader that never comes; the finished file is renamed over it. A symbolic link there is
// replaced too, not followed: the file or device it names is never written.
class OutputFile {
 public:
  enum class Target { Named, Derived };
  explicit OutputFile(const std::string& path, Target target = Target::Named);
  ~OutputFile();  // without commit(): the temporary file is removed
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  void write(const void* data, size_t n);
  void write(const std::string& s) { write(s.data(), s.size()); }
  // A write failed (commit() will throw its reason): a long output may stop early.
  bool failed() const { return failed_; }
  // Flushes, closes and renames into place; throws clap::Error naming the file and the reason.
  void commit();

  // Removes the temporaries that killed processes left beside `path` ("<path>.tmp.<pid>" whose
  // process no longer exists). Best effort, for files rewritten unattended (the vector index).
  static void remove_stale_temporaries(const std::string& path);

 private:
  std::FILE* f_ = nullptr;
  std::string path_, target_, temp_;  // as given; the file replaced (a symlink's target); the temporary
  // A named regular file there before: its permission bits and owner, given to the new file.
  bool keeps_mode_ = false;
  unsigned mode_ = 0;
  unsigned uid_ = 0, gid_ = 0;
  bool failed_ = false;
  int error_ = 0;
};

}  // namespace clap
