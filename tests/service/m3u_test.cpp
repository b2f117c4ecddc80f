// M3U8 playlists (service/m3u.h): paths relative to the playlist's folder (with "..", spaces and
// non-ASCII names, through a symlinked folder) or absolute, the #EXTINF lines, and a file that is
// written whole or not at all.
#include "service/m3u.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "support/golden.h"

namespace clap::service {
namespace {

namespace fs = std::filesystem;
using test::error_of;

std::string touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x";
  return p.string();
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(M3uPath, RelativeToThePlaylistsFolder) {
  const fs::path root = fs::path(test::temp_dir()) / "m3u relative";
  const std::string track = touch(root / "Music" / "Sub Folder" / "Señor tone.flac");
  const std::string other = touch(root / "Music" / "a b.mp3");
  fs::create_directories(root / "Playlists");
  const std::string playlists = (root / "Playlists").string();
  EXPECT_EQ(m3u_path(track, playlists, false), "../Music/Sub Folder/Señor tone.flac");
  EXPECT_EQ(m3u_path(other, playlists, false), "../Music/a b.mp3");
  EXPECT_EQ(m3u_path(track, (root / "Music").string(), false), "Sub Folder/Señor tone.flac");
  EXPECT_EQ(m3u_path(track, (root / "Music" / "Sub Folder").string(), false), "Señor tone.flac");
  // The folder as typed does not matter: "./", "..", a trailing slash.
  EXPECT_EQ(m3u_path(track, (root / "Playlists" / ".." / "Playlists" / "." / "").string(), false),
            "../Music/Sub Folder/Señor tone.flac");
  // From a folder that does not exist yet, still the lexical way there.
  EXPECT_EQ(m3u_path(track, (root / "New" / "Deeper").string(), false), "../../Music/Sub Folder/Señor tone.flac");
  // Every relative path leads to the file from the playlist's folder.
  EXPECT_TRUE(fs::equivalent(fs::path(playlists) / m3u_path(track, playlists, false), track));
}

TEST(M3uPath, AbsoluteWhenAsked) {
  const fs::path root = fs::path(test::temp_dir()) / "m3u absolute";
  const std::string track = touch(root / "Music" / "Ünï côde.ogg");
  EXPECT_EQ(m3u_path(track, (root / "Playlists").string(), true), track);
  // A path given with "." and ".." segments is written normalised.
  EXPECT_EQ(m3u_path((root / "Music" / "." / ".." / "Music" / "Ünï côde.ogg").string(), (root / "x").string(), true),
            track);
}

TEST(M3uPath, NamesThatWouldReadAsCommentsOrLoseBlanks) {
  const fs::path root = fs::path(test::temp_dir()) / "m3u odd names";
  const std::string hash = touch(root / "#1 hit.mp3");
  const std::string blank = touch(root / " intro.flac");
  EXPECT_EQ(m3u_path(hash, root.string(), false), "./#1 hit.mp3");
  EXPECT_EQ(m3u_path(blank, root.string(), false), "./ intro.flac");
  EXPECT_EQ(m3u_path(hash, (root / "sub").string(), false), "../#1 hit.mp3");  // starts with "..": fine as it is
  const std::string error = error_of([&] { m3u_path((root / "two\nlines.mp3").string(), root.string(), false); });
  EXPECT_NE(error.find("line break"), std::string::npos) << error;
}

TEST(M3uPath, ThroughASymlinkedFolderTheRealLocationsAreRelated) {
  // The library was indexed through a link (Library -> real/Music); the playlist goes into a
  // real folder beside the music. The relative path must lead to the file from there.
  const fs::path root = fs::path(test::temp_dir()) / "m3u symlink";
  touch(root / "real" / "Music" / "a.flac");
  fs::create_directories(root / "real" / "Playlists");
  fs::create_directory_symlink(root / "real" / "Music", root / "Library");
  const std::string indexed = (root / "Library" / "a.flac").string();
  const fs::path playlists = root / "real" / "Playlists";
  const std::string line = m3u_path(indexed, playlists.string(), false);
  EXPECT_EQ(line, "../Music/a.flac");
  EXPECT_TRUE(fs::equivalent(playlists / line, indexed));
}

TEST(M3uText, ExtinfLinesAndPaths) {
  const fs::path root = fs::path(test::temp_dir()) / "m3u text";
  const std::string music = (root / "Music").string();
  std::vector<M3uEntry> entries = {
      {music + "/Sub Folder/Señor tone.flac", 12.6, "Test Tones", "Low A"},
      {music + "/only title.mp3", 8.4, "", "High A"},
      {music + "/only artist.wav", 0.5, "Noise Maker", ""},
      {music + "/my song.live.flac", 0, "", ""},                          // no tags, unknown length
      {music + "/odd.ogg", 61, "Line\nBreak", "Tab\there\x01 \xff bytes"},  // control characters, invalid UTF-8
  };
  const std::string expected =
      "#EXTM3U\n"
      "#EXTINF:13,Test Tones – Low A\n"
      "../Music/Sub Folder/Señor tone.flac\n"
      "#EXTINF:8,High A\n"
      "../Music/only title.mp3\n"
      "#EXTINF:1,Noise Maker\n"
      "../Music/only artist.wav\n"
      "#EXTINF:-1,my song.live\n"
      "../Music/my song.live.flac\n"
      "#EXTINF:61,Line Break – Tab here  \xEF\xBF\xBD bytes\n"
      "../Music/odd.ogg\n";
  EXPECT_EQ(m3u_text(entries, (root / "Playlists" / "radio.m3u8").string(), false), expected);
  const std::string absolute = m3u_text({entries[0]}, (root / "Playlists" / "radio.m3u8").string(), true);
  EXPECT_EQ(absolute, "#EXTM3U\n#EXTINF:13,Test Tones – Low A\n" + music + "/Sub Folder/Señor tone.flac\n");
  EXPECT_EQ(m3u_text({}, (root / "empty.m3u8").string(), false), "#EXTM3U\n");
}

TEST(M3uFile, WrittenWholeOrNotAtAll) {
  const fs::path root = fs::path(test::temp_dir()) / "m3u file";
  fs::create_directories(root / "Playlists");
  const fs::path file = root / "Playlists" / "radio.m3u8";
  std::vector<M3uEntry> entries;
  for (int i = 0; i < 200; ++i) entries.push_back({(root / "Music" / ("track " + std::to_string(i) + ".flac")).string(), 60.0 + i, "Artist", "Title " + std::to_string(i)});

  write_m3u(file.string(), entries, false);
  EXPECT_EQ(slurp(file), m3u_text(entries, file.string(), false));
  const auto listing = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(root / "Playlists")) names.push_back(e.path().filename().string());
    return names;
  };
  EXPECT_EQ(listing(), std::vector<std::string>{"radio.m3u8"});  // no temporary left beside it

  // An entry no M3U line can carry (a line break in its file name) is left out and reported;
  // the rest of the playlist is written (one odd name used to refuse the whole playlist).
  auto bad = entries;
  bad[150].path = (root / "Music" / "two\nlines.flac").string();
  EXPECT_EQ(write_m3u(file.string(), bad, false), std::vector<std::string>{bad[150].path});
  auto without = entries;
  without.erase(without.begin() + 150);
  EXPECT_EQ(slurp(file), m3u_text(without, file.string(), false));
  write_m3u(file.string(), entries, false);
  const std::string before = slurp(file);

  // A write that fails half-way (the file-size limit, as a full disk would): the previous
  // playlist stays as it was, no partial file and no temporary are left, and the error says so.
  std::vector<M3uEntry> longer = entries;
  for (auto& e : longer) e.title += " (remastered)";
  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);  // the write returns EFBIG instead of killing the test
  struct rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string error = error_of([&] { write_m3u(file.string(), longer, false); });
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(error.find("write failed"), std::string::npos) << error;
  EXPECT_NE(error.find("radio.m3u8"), std::string::npos) << error;
  EXPECT_EQ(slurp(file), before);
  EXPECT_EQ(listing(), std::vector<std::string>{"radio.m3u8"});
  ASSERT_GT(m3u_text(longer, file.string(), false).size(), 4096u);  // the limit did cut the write
}

}  // namespace
}  // namespace clap::service
