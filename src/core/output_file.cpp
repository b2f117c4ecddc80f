#include "core/output_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "core/error.h"
#include "core/regular_file.h"

namespace clap {

namespace fs = std::filesystem;

namespace {
// An SQLite database ("SQLite format 3" and a NUL) or an SQLite write-ahead log (its big-endian
// magic 0x377f0682 or 0x377f0683), by the file's first bytes.
bool is_sqlite_file(std::string_view head) {
  if (head.size() >= 16 && head.substr(0, 16) == std::string_view("SQLite format 3\0", 16)) return true;
  const auto h = [&](size_t i) { return static_cast<unsigned char>(head[i]); };
  return head.size() >= 4 && h(0) == 0x37 && h(1) == 0x7f && h(2) == 0x06 && (h(3) == 0x82 || h(3) == 0x83);
}

// An audio or video file, by its container's first bytes: FLAC, MP3 (an ID3v2 tag or an MPEG
// audio frame), AAC (an ADTS frame), Ogg (Vorbis, Opus), WAV (RIFF and RF64), AVI, AIFF, MP4/M4A (an
// ISO box "ftyp"), Matroska/WebM, ASF/WMA, Monkey's Audio, WavPack, DSF and CAF. A result is text,
// .npy, SVG or PNG: none starts so.
bool is_media_file(std::string_view head) {
  const size_t n = head.size();
  const auto at = [&](size_t offset, std::string_view magic) { return n >= offset + magic.size() && head.substr(offset, magic.size()) == magic; };
  unsigned char h[12] = {};
  std::memcpy(h, head.data(), std::min(n, sizeof h));
  if (at(0, "ID3") && n >= 5 && h[3] >= 2 && h[3] <= 4 && h[4] != 0xFF) return true;  // ID3v2.2-2.4
  if (at(0, "fLaC") || at(0, "OggS") || at(4, "ftyp") || at(0, "MAC ") || at(0, "wvpk") ||
      at(0, "DSD ") || at(0, "caff"))
    return true;
  if (at(0, "RIFF") && (at(8, "WAVE") || at(8, "AVI "))) return true;
  if (at(0, "RF64") || (at(0, "FORM") && (at(8, "AIFF") || at(8, "AIFC")))) return true;
  if (n >= 4 && h[0] == 0x1A && h[1] == 0x45 && h[2] == 0xDF && h[3] == 0xA3) return true;  // Matroska, WebM
  if (n >= 4 && h[0] == 0x30 && h[1] == 0x26 && h[2] == 0xB2 && h[3] == 0x75) return true;  // ASF, WMA
  // An MPEG audio frame: 11 sync bits, layer II or III (not I: a UTF-16 text's byte order mark,
  // FF FE, reads as a layer I header), a bitrate and a sample rate that exist; or an ADTS (AAC)
  // frame: 12 sync bits and layer 0.
  if (n < 3 || h[0] != 0xFF) return false;
  const unsigned layer = (h[1] >> 1) & 3;
  if ((h[1] & 0xE0) == 0xE0 && (layer == 1 || layer == 2)) return (h[2] >> 4) != 0xF && ((h[2] >> 2) & 3) != 3;
  return (h[1] & 0xF6) == 0xF0;
}

// The temporary file, made new: O_EXCL | O_NOFOLLOW. Its name is predictable (the pid), and
// fopen("wb") followed a symbolic link planted there by anyone who may write the output's folder:
// the link's target was truncated and overwritten with the result, and the rename then put the
// link in the output's place (hostile pass 10, H10C-5; the sibling of issue 53's M10). Whatever
// is at the name (a link, a file a dead process left) is removed, never opened, and the file made
// again; a name that keeps being taken is an error.
std::FILE* open_new(const std::string& temp) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) {
      std::FILE* f = ::fdopen(fd, "wb");
      if (!f) ::close(fd);
      return f;
    }
    if (errno != EEXIST) return nullptr;
    if (::unlink(temp.c_str()) != 0 && errno != ENOENT) return nullptr;
  }
  errno = EEXIST;
  return nullptr;
}
// The file a chain of symbolic links at `path` names, whether it is there yet or not: where the
// shell's `> path` writes. "" for a loop (ELOOP in errno).
std::string named_through_links(const std::string& path) {
  fs::path p = path;
  std::error_code ec;
  for (int hops = 0; hops < 40; ++hops) {
    if (!fs::is_symlink(p, ec)) return p.string();
    const fs::path to = fs::read_symlink(p, ec);
    if (ec) return p.string();
    p = to.is_absolute() ? to : p.parent_path() / to;
  }
  errno = ELOOP;
  return "";
}
}  // namespace

OutputFile::OutputFile(const std::string& path, Target target) {
  if (path.empty() || path == "-") {
    f_ = stdout;
    path_ = "standard output";
    return;
  }
  path_ = path;
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  // What is there, told by its first bytes (read once, and never from a pipe: a FIFO is opened
  // below as the output itself).
  const std::string head = target == Target::Named && exists && S_ISREG(st.st_mode) ? read_file_head(path, 16) : std::string();
  // An index (or its write-ahead log) is never replaced by a result: `search x --csv library.db`
  // or `--m3u "$CLAPSEARCH_DB"` (a slip of a shell variable or a completion) renamed a CSV over
  // the index, and its users, plays, stars and playlists were gone, exit status 0 (hostile pass
  // 10, H10C-3). An SQLite file is told by its first bytes, a WAL by its magic number.
  if (is_sqlite_file(head))
    throw Error(path + ": an SQLite database (a clapsearch index?) is there; an output never replaces one: name another file");
  // Nor is a song: `playlist --seed a.flac --m3u b.flac` (a slip of completion, or the two
  // names swapped) replaced the user's recording with a 200-byte playlist, exit status 0
  // (hostile pass 21, H21C-1). Told by the container's first bytes, whatever the name.
  if (is_media_file(head))
    throw Error(path + ": an audio or video file is there; an output never replaces one: name another file");
  const bool special = target == Target::Named && exists && !S_ISREG(st.st_mode);
  if (special) {  // a device or a pipe: no temporary file beside it
    f_ = std::fopen(path.c_str(), "wb");
  } else {
    // Through a symlink, the file it points to is replaced (not the link): a result the user
    // named. A file the program names (a cache, an index beside the database) replaces whatever
    // is at its name, a link too: through one, the window index of a library replaced /dev/zero,
    // or whatever file the link named (hostile pass 14, H14C-7).
    // A link to where nothing is yet is written through too, as the shell's `>` does: it was
    // replaced by the result, which was then not where the link pointed, and the user's link was
    // gone (hostile pass 15, H15C-6). A loop of links is an error, not replaced.
    target_ = target == Target::Named ? named_through_links(path) : path;
    if (target_.empty()) throw Error(path + ": cannot write: a loop of symbolic links (following them never reaches a file)");
    // stat() followed the links: st is the file replaced. Its mode and owner go to the new file;
    // the temporary's own (0666 less the umask) made a private file readable by all (hostile
    // pass 20, H20C-3).
    if (target == Target::Named && exists && S_ISREG(st.st_mode)) {
      keeps_mode_ = true;
      mode_ = st.st_mode & 07777;
      uid_ = st.st_uid;
      gid_ = st.st_gid;
    }
    temp_ = target_ + ".tmp." + std::to_string(::getpid());
    f_ = open_new(temp_);
  }
  if (!f_) {
    const int err = errno;
    // As for --db: a folder named in an output path is not made, and the message says which
    // one is missing rather than "No such file or directory" (the folder the file goes to,
    // through a link's target).
    std::error_code ec;
    const fs::path folder = fs::path(target_.empty() ? path : target_).parent_path();
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
  if (!failed_ && keeps_mode_) {
    // The owner first (a change of owner clears the set-id bits), then the mode. A process that
    // may not give the file away (not root) keeps its own: the mode still applies.
    if (::fchown(::fileno(f_), uid_, gid_) != 0 && ::fchown(::fileno(f_), static_cast<uid_t>(-1), gid_) != 0) {
      // Neither: the new file stays the process's own, with the old file's mode below.
    }
    if (::fchmod(::fileno(f_), mode_) != 0) failed_ = true, error_ = errno;
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
