#include "core/output_file.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace clap {

namespace fs = std::filesystem;

OutputFile::OutputFile(const std::string& path, Target target) {
  if (path.empty() || path == "-") {
    f_ = stdout;
    path_ = "standard output";
    return;
  }
  path_ = path;
  struct stat st {};
  const bool special = target == Target::Named && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
  if (special) {  // a device or a pipe: no temporary file beside it
    f_ = std::fopen(path.c_str(), "wb");
  } else {
    // Through a symlink, the file it points to is replaced (not the link).
    std::error_code ec;
    const fs::path resolved = fs::is_symlink(path, ec) ? fs::canonical(path, ec) : fs::path(path);
    target_ = ec ? path : resolved.string();
    temp_ = target_ + ".tmp." + std::to_string(::getpid());
    f_ = std::fopen(temp_.c_str(), "wb");
  }
  if (!f_) {
    const int err = errno;
    // As for --db: a folder named in an output path is not made, and the message says which
    // one is missing rather than "No such file or directory".
    std::error_code ec;
    const fs::path folder = fs::path(path).parent_path();
    if (err == ENOENT && !folder.empty() && !fs::exists(folder, ec))
      throw Error(path + ": cannot write: the folder " + folder.string() + " does not exist");
    throw Error(path + ": cannot write (" + std::strerror(err) + ")");
  }
}

void OutputFile::remove_stale_temporaries(const std::string& path) {
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  for (fs::directory_iterator it(target.parent_path().empty() ? "." : target.parent_path(), ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    std::error_code ignored;
    fs::remove(it->path(), ignored);
  }
}

OutputFile::~OutputFile() {
  if (f_ && f_ != stdout) std::fclose(f_);
  if (!temp_.empty()) std::remove(temp_.c_str());
}

void OutputFile::write(const void* data, size_t n) {
  if (failed_ || n == 0) return;
  if (std::fwrite(data, 1, n, f_) != n) failed_ = true, error_ = errno;
}

void OutputFile::commit() {
  auto fail = [this](int err) {
    throw Error(path_ + ": write failed (" + std::strerror(err ? err : EIO) + ")");
  };
  if (std::fflush(f_) != 0 || std::ferror(f_)) failed_ = true, error_ = error_ ? error_ : errno;
  if (f_ == stdout) {
    if (failed_) fail(error_);
    return;
  }
  if (!failed_ && !temp_.empty() && ::fsync(::fileno(f_)) != 0) failed_ = true, error_ = errno;
  if (std::fclose(f_) != 0 && !failed_) failed_ = true, error_ = errno;
  f_ = nullptr;
  if (failed_) fail(error_);
  if (!temp_.empty()) {
    if (std::rename(temp_.c_str(), target_.c_str()) != 0) fail(errno);
    temp_.clear();
  }
}

}  // namespace clap
