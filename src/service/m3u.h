// Playlists as M3U8 files that players and music servers read (mpv, VLC, Navidrome, Jellyfin):
//
//   #EXTM3U
//   #EXTINF:<whole seconds>,<artist> – <title>
//   <path>
//   ...
//
// UTF-8, "\n" line ends. The label is "artist – title", whichever of the two the tags have, else
// the file name without its extension; control characters in it become spaces (a line break in a
// tag would end the line) and invalid UTF-8 becomes U+FFFD. The duration is rounded to whole
// seconds, -1 when unknown (the format's "unknown"). A path is written with its exact bytes:
// relative to the playlist file's folder by default (what a music server resolves, see README
// "Playlists"), or absolute.
#pragma once
#include <string>
#include <vector>

#include "store/store.h"

namespace clap::service {

struct M3uEntry {
  std::string path;        // the audio file, absolute
  double duration_s = 0;   // <= 0: unknown
  std::string artist, title;
};

M3uEntry m3u_entry(const store::Track& track);

// The line naming `file` in a playlist kept in `playlist_dir`: std::filesystem::relative between
// the two lexically normalised absolute paths (so symlinked folders are resolved, and the path
// holds from the folder's real location), or the absolute path when `absolute` is set or no
// relative path exists. A relative path that would read as a comment or lose leading blanks
// ("#1 hit.mp3", " intro.flac") gets "./" in front. Throws clap::Error for a file name holding a
// line break, which no M3U line can carry.
std::string m3u_path(const std::string& file, const std::string& playlist_dir, bool absolute);

// False for a file name no M3U line can carry (one holding a line break).
bool m3u_can_name(const std::string& file);

// The whole playlist as it is written to `playlist_path` (whose folder relative paths start from).
// An entry whose file name no line can carry is left out (one odd name does not cost the whole
// playlist) and its path added to `skipped` when given.
std::string m3u_text(const std::vector<M3uEntry>& entries, const std::string& playlist_path, bool absolute,
                     std::vector<std::string>* skipped = nullptr);

// Writes m3u_text to `playlist_path` whole or not at all (core/output_file.h: a temporary file
// renamed into place once complete) and returns the paths of the entries left out. Throws
// clap::Error naming the file and the reason.
std::vector<std::string> write_m3u(const std::string& playlist_path, const std::vector<M3uEntry>& entries, bool absolute);

}  // namespace clap::service
