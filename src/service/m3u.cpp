#include "service/m3u.h"

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/one_line_text.h"
#include "core/output_file.h"
#include "core/utf8.h"
#include "store/rows.h"

namespace clap::service {
namespace {

namespace fs = std::filesystem;

fs::path absolute_normal(const std::string& path) { return fs::absolute(fs::path(path)).lexically_normal(); }

// Tag text for the #EXTINF line: one line of valid UTF-8.
std::string label_text(const std::string& s) {
  std::string text;
  if (!sanitize_utf8(s, text)) text = s;
  for (char& c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return text;
}

std::string label_of(const M3uEntry& e) {
  if (!e.artist.empty() && !e.title.empty()) return label_text(e.artist + " – " + e.title);
  if (!e.artist.empty() || !e.title.empty()) return label_text(e.artist + e.title);
  return label_text(fs::path(e.path).stem().string());
}

}  // namespace

M3uEntry m3u_entry(const store::Track& track) { return {track.path, track.duration_s, track.artist, track.title}; }

bool m3u_can_name(const std::string& file) { return file.find_first_of("\r\n") == std::string::npos; }

std::string m3u_path(const std::string& file, const std::string& playlist_dir, bool absolute) {
  if (!m3u_can_name(file))
    throw Error(control_escaped(file) + ": a file name with a line break cannot be written to an M3U playlist");
  const fs::path target = absolute_normal(file);
  if (absolute) return target.string();
  std::error_code ec;
  const fs::path relative = fs::relative(target, absolute_normal(playlist_dir), ec);
  if (ec || relative.empty()) return target.string();
  std::string line = relative.string();
  if (line[0] == '#' || line[0] == ' ' || line[0] == '\t') line = "./" + line;
  return line;
}

std::string m3u_text(const std::vector<M3uEntry>& entries, const std::string& playlist_path, bool absolute,
                     std::vector<std::string>* skipped) {
  const std::string dir = absolute_normal(playlist_path).parent_path().string();
  std::string text = "#EXTM3U\n";
  for (const M3uEntry& e : entries) {
    if (!m3u_can_name(e.path)) {
      if (skipped) skipped->push_back(e.path);
      continue;
    }
    // -1 is M3U's "length unknown": also for a stored duration no audio has (infinity, 1e308: hand
    // damage that `status` names), which std::lround turned into #EXTINF:-9223372036854775808
    // (hostile pass 16). store::known_duration_s is 0 for those.
    const double known = store::known_duration_s(e.duration_s);
    const long seconds = known > 0 ? std::lround(known) : -1;
    text += "#EXTINF:" + std::to_string(seconds) + "," + label_of(e) + "\n";
    text += m3u_path(e.path, dir, absolute) + "\n";
  }
  return text;
}

std::vector<std::string> write_m3u(const std::string& playlist_path, const std::vector<M3uEntry>& entries, bool absolute) {
  std::vector<std::string> skipped;
  const std::string text = m3u_text(entries, playlist_path, absolute, &skipped);
  OutputFile out(playlist_path);
  out.write(text);
  out.commit();
  return skipped;
}

}  // namespace clap::service
