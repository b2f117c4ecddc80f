// What a music server serves from a track's files besides its audio (issue 54, the Subsonic
// server's getCoverArt and lyrics): its cover picture (embedded, else an image file beside it),
// scaled and cached; its lyrics as the spec's structured lyrics. The audio file itself is opened
// and checked by the caller (server/api.h open_track_audio) and read here through that
// descriptor only; image files beside it are opened here under the same rules (inside an
// indexed root once resolved, a regular file).
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audio/media_tags.h"
#include "store/store.h"

namespace clap::service {

class LibrarySnapshot;

// True when `real_path` (already resolved: realpath) is one of `roots` or lies under one, the
// roots resolved too: a root reached through a link (~/Music -> /data/music) is a library.
bool resolves_inside_roots(const std::string& real_path, const std::vector<std::string>& roots);

// Scaled covers on disk, keyed by the sha256 of the source picture and the size: a cover
// asked for again (every app asks for every album's cover at its grid size) is read, not
// decoded and scaled again. Bounded: past max_files or max_bytes the least recently written
// go first. Best effort: a cache that cannot be written only costs the scaling again.
class CoverCache {
 public:
  // dir: clapsearch_cache_dir()/covers by default.
  explicit CoverCache(std::string dir = "", int64_t max_bytes = 256ll << 20, int max_files = 20000);
  const std::string& dir() const { return dir_; }
  std::optional<std::string> get(const std::string& key) const;
  void put(const std::string& key, const std::string& bytes) const;

 private:
  void evict() const;
  // One writer at a time: two requests scaling the same cover would write the same temporary
  // name (OutputFile's is per process) and could rename a mix of both into place.
  mutable std::mutex write_mutex_;
  std::string dir_;
  int64_t max_bytes_;
  int max_files_;
};

struct CoverImage {
  std::string bytes, content_type;
  bool scaled = false;
};

// The cover of a track whose audio file is open as `audio_fd` (checked by the caller): the
// file's embedded picture, else cover / folder / front .jpg / .jpeg / .png (any case, in that
// order) in its folder. `size` > 0 scales it (larger side, aspect kept; JPEG) through the cache.
// nullopt when it has none.
std::optional<CoverImage> track_cover(const LibrarySnapshot& snap, const store::Track& track, int audio_fd, int size,
                                      const CoverCache& cache);

// How many covers track_cover scales at once, at most (the others wait their turn), and the most
// it has scaled at once since the process started.
inline constexpr int kCoverScalingsAtOnce = 2;
int cover_scalings_peak();

// Lyrics as the OpenSubsonic songLyrics extension shapes them (StructuredLyrics).
struct LyricsLine {
  std::optional<int64_t> start_ms;  // synced lyrics only
  std::string value;
};
struct StructuredLyrics {
  std::string lang = "und";  // the tag's language, else und (the spec's "unknown")
  bool synced = false;
  int64_t offset_ms = 0;     // LRC [offset:]: positive shows the lyrics sooner, as the spec's offset
  std::vector<LyricsLine> lines;
};

// Lyrics are cut at kMaxLyricsLines lines or kMaxLyricsBytes of text (every copy of a line with
// several stamps counted): a song's lyrics are a few KB, and a tag is the file's to choose.
inline constexpr size_t kMaxLyricsLines = 10'000;
inline constexpr size_t kMaxLyricsBytes = 1u << 20;
// The part of a tag read at all: the bounds above, with room for tag rows and blank lines.
inline constexpr size_t kMaxLyricsInputRows = 4 * kMaxLyricsLines;
inline constexpr size_t kMaxLyricsInputBytes = 4 * kMaxLyricsBytes;

// One lyrics tag's text as structured lyrics: LRC ("[mm:ss.xx]text", several stamps on a line,
// [offset:ms], other [tag:value] lines dropped) becomes synced lines by start time; anything
// else is unsynced lines in order (leading and trailing empty lines dropped). Both are cut at
// the bounds above.
StructuredLyrics parse_lyrics(const std::string& text, const std::string& lang);

// The lines as plain text (what getLyrics answers): the values joined by newlines.
std::string plain_lyrics(const StructuredLyrics& lyrics);

}  // namespace clap::service
