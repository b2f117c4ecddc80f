#include "service/media_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <system_error>

#include "core/deadline.h"
#include "core/turns.h"
#include "core/output_file.h"
#include "core/sha256.h"
#include "core/user_dirs.h"
#include "audio/media_unavailable.h"
#include "service/library.h"

namespace clap::service {

namespace fs = std::filesystem;

bool resolves_inside_roots(const std::string& path, const std::vector<std::string>& roots) {
  for (const std::string& root : roots) {
    char buf[PATH_MAX];
    if (!::realpath(root.c_str(), buf)) continue;
    const std::string r = buf;
    if (r == "/" || path == r || (path.size() > r.size() && path.compare(0, r.size(), r) == 0 && path[r.size()] == '/'))
      return true;
  }
  return false;
}

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The whole of a small regular file open as `fd` (at most `limit` bytes; nullopt past it).
std::optional<std::string> read_small(int fd, size_t limit) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || static_cast<size_t>(st.st_size) > limit)
    return std::nullopt;
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::pread(fd, bytes.data() + got, bytes.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    got += static_cast<size_t>(n);
  }
  return bytes;
}

// cover, folder, front (.jpg, .jpeg, .png, any case) in the track's folder: the first that is
// a regular file inside an indexed root once every link is resolved.
std::optional<std::string> folder_picture(const LibrarySnapshot& snap, const store::Track& track) {
  const std::string dir = fs::path(track.path).parent_path().string();
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
    ::closedir(d);
  }
  static const char* const stems[] = {"cover", "folder", "front"};
  static const char* const exts[] = {".jpg", ".jpeg", ".png"};
  for (const char* stem : stems)
    for (const char* ext : exts)
      for (const std::string& name : names) {
        if (lower(name) != std::string(stem) + ext) continue;
        char real[PATH_MAX];
        if (!::realpath((dir + "/" + name).c_str(), real) || !resolves_inside_roots(real, snap.roots())) continue;
        // The resolved file, its last part not a link, never a FIFO's blocking open.
        const int fd = ::open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0) continue;
        auto bytes = read_small(fd, audio::kMaxPictureBytes);
        ::close(fd);
        if (bytes && !audio::image_content_type(*bytes).empty()) return bytes;
      }
  return std::nullopt;
}

}  // namespace

CoverCache::CoverCache(std::string dir, int64_t max_bytes, int max_files)
    : dir_(dir.empty() ? clapsearch_cache_dir() + "/covers" : std::move(dir)), max_bytes_(max_bytes), max_files_(max_files) {}

std::optional<std::string> CoverCache::get(const std::string& key) const {
  const int fd = ::open((dir_ + "/" + key).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  auto bytes = read_small(fd, audio::kMaxPictureBytes);
  ::close(fd);
  return bytes;
}

void CoverCache::put(const std::string& key, const std::string& bytes) const {
  const std::lock_guard<std::mutex> lock(write_mutex_);
  try {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    OutputFile out(dir_ + "/" + key, OutputFile::Target::Derived);
    out.write(bytes);
    out.commit();
    evict();
  } catch (const std::exception&) {
    // A full or read-only cache: the cover is still answered, only scaled again next time.
  }
}

void CoverCache::evict() const {
  struct Entry {
    std::string path;
    int64_t size;
    fs::file_time_type written;
  };
  std::vector<Entry> entries;
  int64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::error_code e2;
    if (!e.is_regular_file(e2)) continue;
    const auto size = static_cast<int64_t>(e.file_size(e2));
    entries.push_back({e.path().string(), size, e.last_write_time(e2)});
    total += size;
  }
  if (total <= max_bytes_ && static_cast<int64_t>(entries.size()) <= max_files_) return;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.written < b.written; });
  size_t count = entries.size();
  for (const Entry& e : entries) {
    if (total <= max_bytes_ && static_cast<int64_t>(count) <= max_files_) break;
    fs::remove(e.path, ec);
    total -= e.size;
    --count;
  }
}

namespace {

// Covers decoded and scaled at once. Decoding a cover holds its whole picture (up to 36
// megapixels, about 150 MB with the scaler's copies): 16 requests at once for sizes of one
// 35-megapixel cover (a phone's grid, or one user asking on purpose) took the server from 70 MB
// to 950 MB. The rest wait their turn, within the request's budget (503 past it).
Turns& scaling_turns() {
  static Turns turns(kCoverScalingsAtOnce, "waiting for a turn to scale a cover");
  return turns;
}

struct ScalingTurn {
  ScalingTurn() { scaling_turns().take(); }
  ~ScalingTurn() { scaling_turns().give_back(); }
  ScalingTurn(const ScalingTurn&) = delete;
  ScalingTurn& operator=(const ScalingTurn&) = delete;
};

}  // namespace

int cover_scalings_peak() { return scaling_turns().peak(); }

std::optional<CoverImage> track_cover(const LibrarySnapshot& snap, const store::Track& track, int audio_fd, int size,
                                      const CoverCache& cache) {
  std::string source;
  try {
    source = audio::embedded_picture(audio_fd, snap.display_path(track.path));
  } catch (const audio::MediaLibraryUnavailable&) {
    // No file's tags can be read now: the picture beside it would be served for one the file
    // has, or "no cover art" said of a file that has one (hostile pass 21, H21S-1).
    throw;
  } catch (const std::exception&) {
    // An audio file whose tags cannot be read may still have a cover beside it.
  }
  if (source.empty() || audio::image_content_type(source).empty()) {
    auto beside = folder_picture(snap, track);
    if (!beside) return std::nullopt;
    source = std::move(*beside);
  }
  if (size <= 0) return CoverImage{source, audio::image_content_type(source), false};
  const std::string key = sha256_hex(source).substr(0, 32) + "-" + std::to_string(size) + ".jpg";
  if (auto hit = cache.get(key); hit && audio::image_content_type(*hit) == "image/jpeg") return CoverImage{*hit, "image/jpeg", true};
  audio::ScaledImage scaled;
  {
    const ScalingTurn turn;
    scaled = audio::scale_image_to_jpeg(source, size);
  }
  cache.put(key, scaled.jpeg);
  return CoverImage{std::move(scaled.jpeg), "image/jpeg", true};
}

namespace {

// "mm:ss", "mm:ss.x", "mm:ss.xx", "mm:ss.xxx" (also mm:ss:xx, as some taggers write) -> ms.
std::optional<int64_t> lrc_time(const std::string& s) {
  size_t i = 0;
  const auto digits = [&](int64_t& v) {
    const size_t from = i;
    v = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i - from < 6) v = v * 10 + (s[i++] - '0');
    return i > from;
  };
  int64_t minutes = 0, seconds = 0;
  if (!digits(minutes) || i >= s.size() || s[i++] != ':' || !digits(seconds) || seconds >= 60) return std::nullopt;
  int64_t ms = 0;
  if (i < s.size() && (s[i] == '.' || s[i] == ':')) {
    ++i;
    const size_t from = i;
    int64_t frac = 0;
    if (!digits(frac) || i - from > 3) return std::nullopt;
    for (size_t n = i - from; n < 3; ++n) frac *= 10;
    ms = frac;
  }
  if (i != s.size()) return std::nullopt;
  return (minutes * 60 + seconds) * 1000 + ms;
}

}  // namespace

StructuredLyrics parse_lyrics(const std::string& text, const std::string& lang) {
  StructuredLyrics out;
  if (!lang.empty()) out.lang = lang;
  std::vector<std::string> rows;
  // Only the tag's first rows are read: 16 MB of line breaks (a FLAC comment's most; an ID3 frame
  // may hold more) were 16 million rows, 512 MB for one request.
  const size_t size = std::min(text.size(), kMaxLyricsInputBytes);
  for (size_t at = 0; at <= size && rows.size() < kMaxLyricsInputRows;) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos || end > size) end = size;
    std::string row = text.substr(at, end - at);
    if (!row.empty() && row.back() == '\r') row.pop_back();
    rows.push_back(std::move(row));
    at = end + 1;
  }
  std::vector<LyricsLine> synced;
  size_t synced_bytes = 0;
  size_t timed_rows = 0, text_rows = 0;
  for (const std::string& row : rows) {
    size_t i = 0;
    std::vector<int64_t> stamps;
    bool tag_row = false;
    while (i < row.size() && row[i] == '[') {
      const size_t close = row.find(']', i);
      if (close == std::string::npos) break;
      const std::string inside = row.substr(i + 1, close - i - 1);
      if (auto t = lrc_time(inside)) {
        stamps.push_back(*t);
      } else if (const size_t colon = inside.find(':'); colon != std::string::npos && stamps.empty()) {
        tag_row = true;  // [ar:...], [ti:...], [offset:...]
        if (lower(inside.substr(0, colon)) == "offset") {
          try {
            out.offset_ms = std::stoll(inside.substr(colon + 1));
          } catch (const std::exception&) {
          }
        }
      } else {
        break;
      }
      i = close + 1;
    }
    if (tag_row && stamps.empty()) continue;
    if (!stamps.empty()) {
      ++timed_rows;
      // Each stamp copies the row's text: the copies are counted against the bound, as a tag of
      // 30,000 stamps before 30,000 characters (a 285 KB file) made a 900 MB answer otherwise.
      const std::string value = row.substr(i);
      for (const int64_t t : stamps) {
        if (synced.size() >= kMaxLyricsLines || synced_bytes + value.size() > kMaxLyricsBytes) break;
        synced_bytes += value.size();
        synced.push_back({t, value});
      }
    } else if (row.find_first_not_of(" \t") != std::string::npos) {
      ++text_rows;
    }
  }
  // LRC when timed rows are the text (a stray bracket in plain lyrics does not make them LRC).
  if (timed_rows > 0 && timed_rows >= text_rows) {
    std::stable_sort(synced.begin(), synced.end(), [](const LyricsLine& a, const LyricsLine& b) { return *a.start_ms < *b.start_ms; });
    out.synced = true;
    out.lines = std::move(synced);
    return out;
  }
  out.offset_ms = 0;
  size_t first = 0, last = rows.size();
  const auto blank = [](const std::string& r) { return r.find_first_not_of(" \t") == std::string::npos; };
  while (first < last && blank(rows[first])) ++first;
  while (last > first && blank(rows[last - 1])) --last;
  size_t bytes = 0;
  for (size_t r = first; r < last && out.lines.size() < kMaxLyricsLines && bytes + rows[r].size() <= kMaxLyricsBytes; ++r) {
    bytes += rows[r].size();
    out.lines.push_back({std::nullopt, rows[r]});
  }
  return out;
}

std::string plain_lyrics(const StructuredLyrics& lyrics) {
  std::string out;
  for (size_t i = 0; i < lyrics.lines.size(); ++i) out += (i ? "\n" : "") + lyrics.lines[i].value;
  return out;
}

}  // namespace clap::service
