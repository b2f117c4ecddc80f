// The rough edges hostile pass 13 named and left (bench/runs/2026-11-28-rough14.md), through the
// real CLI on a small library indexed with the tiny golden model:
// - R13C-1: a path holding a line break in an error prints on one line, the break as \x0a; a
//   message's own indented lines (a filter's caret) are kept; an M3U never holds half a name;
// - R13C-3: --db a dangling symbolic link is refused as the place of a new index (SQLite made
//   the index at the link's target while the lock and key went beside the link);
// - R13C-4: an ok track's duration of ±1e308 is damage that `status` names, not "inf h (ok)";
// - rough13: `mix --m3u DIR` makes DIR only when it writes a mix file into it;
// - H15C-4 (hostile pass 15): the model id and revision an index holds reach `status` escaped.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/golden.h"
#include "support/kept_ids.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
std::string q(const std::string& s) { return test::quoted(s); }
std::string model() { return test::case_dir("tiny-unfused"); }

// Two tones, one of them named with a line break, indexed once for the suite; tests copy the index.
struct Library {
  std::string music, db;
};
const Library& library() {
  static const Library lib = [] {
    Library l;
    const std::string dir = test::shared_fixture("shown-names-cli", [](const std::string& d) {
      test::ffmpeg(d + "/music/plain.wav", "-f lavfi -i sine=f=440:d=3:sample_rate=16000");
      test::ffmpeg(d + "/music/two\nlines.wav", "-f lavfi -i sine=f=880:d=3:sample_rate=16000");
      test::index_library(d + "/music", d + "/library.db", model());
    });
    l.music = dir + "/music";
    l.db = dir + "/library.db";
    return l;
  }();
  return lib;
}

// A writable copy of the suite's index in this test's scratch folder.
std::string copy_of_index(const std::string& name) {
  const std::string db = test::temp_dir() + "/" + name;
  fs::copy_file(library().db, db, fs::copy_options::overwrite_existing);
  return db;
}

size_t lines_of(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

TEST(ShownNames, ALineBreakInAPathIsShownEscapedOnOneLine) {
  const std::string dir = test::temp_dir();
  struct Case {
    std::string args, shown;
  };
  for (const Case& c : {Case{"status --db " + q(dir + "/a\nb.db"), "a\\x0ab.db: no index here"},
                        Case{"search x --db " + q(dir + "/no\nfolder/a.db"), "no\\x0afolder/a.db: no index here"},
                        Case{"index " + q(dir + "/no\nmusic") + " --db " + q(dir + "/new.db") + " --model " + q(model()),
                             "no\\x0amusic"},
                        Case{"classify --all --labels-file " + q(dir + "/labels\n.txt") + " --db " + q(copy_of_index("h.db")),
                             "labels\\x0a.txt"}}) {
    std::string out, err;
    EXPECT_NE(test::run_cli(c.args, &out, &err), 0) << c.args;
    EXPECT_NE(err.find(c.shown), std::string::npos) << c.args << "\n" << err;
    // One line for the message (a usage error adds its "Run with --help" line).
    const size_t extra = err.find("Run with --help") == std::string::npos ? 0 : 1;
    EXPECT_EQ(lines_of(err), 1 + extra) << c.args << "\n" << err;
  }
  // A message's own further lines are indented and kept: a filter's caret under its column.
  std::string out, err;
  EXPECT_EQ(test::run_cli("search x --where 'bpm >' --db " + q(library().db), &out, &err), 2) << err;
  EXPECT_NE(err.find("\n  bpm >\n  "), std::string::npos) << err;
}

TEST(ShownNames, AnM3uNeverHoldsHalfAName) {
  const std::string db = copy_of_index("m3u.db"), m3u = test::temp_dir() + "/list.m3u8";
  std::string out, err;
  ASSERT_EQ(test::run_cli("playlist --seed " + q(library().music + "/plain.wav") + " -n 2 --m3u " + q(m3u) + " --db " + q(db),
                          &out, &err),
            0)
      << err;
  const std::string text = test::read_file(m3u);
  EXPECT_NE(text.find("plain.wav\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("two"), std::string::npos) << text;
  EXPECT_EQ(text.find("lines.wav"), std::string::npos) << text;
  // The warning naming the file left out is one line.
  EXPECT_NE(err.find("two?lines.wav: a file name with a line break (shown as '?') cannot be written"), std::string::npos) << err;
  EXPECT_EQ(err.find("\nlines.wav"), std::string::npos) << err;
}

TEST(ShownNames, AnImpossibleDurationIsNamedAsDamageNotTotalledAsOk) {
  for (const char* value : {"1e308", "-1e308", "9e999"}) {
    const std::string db = copy_of_index("duration.db");
    test::sqlite_exec(db, std::string("UPDATE tracks SET duration_s = ") + value + " WHERE path LIKE '%plain.wav'");
    std::string out, err;
    EXPECT_EQ(test::run_cli("status --db " + q(db), &out, &err), 1) << value << "\n" << out << err;
    EXPECT_EQ(out.find("inf h"), std::string::npos) << value << "\n" << out;
    EXPECT_EQ(out.find("(ok)"), std::string::npos) << value << "\n" << out;
    EXPECT_NE(out.find("audio     unknown: a track's stored duration is damaged"), std::string::npos) << value << "\n" << out;
    EXPECT_NE(err.find("the index is damaged: track"), std::string::npos) << value << "\n" << err;
    EXPECT_NE(err.find("plain.wav) has a duration of"), std::string::npos) << value << "\n" << err;
    EXPECT_NE(err.find("--rebuild"), std::string::npos) << value << "\n" << err;
    EXPECT_EQ(test::run_cli("status --json --db " + q(db), &out, &err), 1) << value << "\n" << err;
    const nlohmann::json j = nlohmann::json::parse(out);
    EXPECT_TRUE(j["audio_seconds"].is_null()) << out;
    EXPECT_NE(j["damaged"].get<std::string>().find("has a duration of"), std::string::npos) << out;
  }
  // An index as made: no damage, the audio totalled.
  std::string out, err;
  EXPECT_EQ(test::run_cli("status --db " + q(library().db), &out, &err), 0) << err;
  EXPECT_NE(out.find("in the tracks that are searched (ok)"), std::string::npos) << out;
}

// Hostile pass 15, H15C-4: `status` printed the model id and revision the index holds as they
// were: an ESC sequence written into meta by anyone who may write the file cleared the screen or
// set the terminal's title. A model path that is a loop of links failed `status` with a raw
// "filesystem error: status: Too many levels of symbolic links".
TEST(ShownNames, AStoredModelNameReachesTheTerminalWithoutItsControlCharacters) {
  const std::string db = copy_of_index("model-name.db");
  test::sqlite_exec(db, "UPDATE meta SET value = '/m' || char(27) || '[2J' || char(7) WHERE key = 'model_id'; "
                        "UPDATE meta SET value = 'r' || char(27) || ']0;t' || char(7) WHERE key = 'model_revision'");
  std::string out, err;
  EXPECT_EQ(test::run_cli("status --db " + q(db), &out, &err), 0) << err;
  EXPECT_EQ((out + err).find_first_of("\x1b\x07"), std::string::npos) << out << err;
  EXPECT_NE(out.find("model     /m?[2J?@r?]0;t?"), std::string::npos) << out;
  const std::string dir = test::temp_dir() + "/model-loop";
  fs::create_directories(dir);
  fs::create_symlink(dir + "/b", dir + "/a");
  fs::create_symlink(dir + "/a", dir + "/b");
  test::sqlite_exec(db, "UPDATE meta SET value = '" + dir + "/a' WHERE key = 'model_id'; "
                        "UPDATE meta SET value = 'local' WHERE key = 'model_revision'");
  EXPECT_EQ(test::run_cli("status --db " + q(db), &out, &err), 0) << err;
  EXPECT_NE(out.find("model     " + dir + "/a"), std::string::npos) << out;
}

TEST(DbLink, ADanglingLinkIsRefusedAsANewIndexAndNothingIsMade) {
  const std::string dir = test::temp_dir() + "/dangling";
  fs::create_directories(dir + "/disk");
  const std::string link = dir + "/library.db", target = dir + "/disk/library.db";
  fs::create_symlink(target, link);
  std::ofstream(dir + "/pw") << "a password\n";
  std::string out, err;
  for (const std::string& args : {"index " + q(library().music) + " --model " + q(model()) + " -q",
                                  "user add ann --password-file " + q(dir + "/pw")}) {
    EXPECT_EQ(test::run_cli(args + " --db " + q(link), &out, &err), 1) << args << "\n" << err;
    // `user add` needs an index that is there: "no index here", as for any path.
    const std::string said = args.rfind("index", 0) == 0 ? ": cannot create the index: this is a symbolic link to " + target +
                                                                ", where nothing is yet; give --db that path"
                                                          : ": no index here";
    EXPECT_NE(err.find(link + said), std::string::npos) << args << "\n" << err;
    for (const std::string& made : {target, target + ".lock", target + ".key", link + ".lock", link + ".key", link + "-wal"})
      EXPECT_FALSE(fs::exists(fs::symlink_status(made))) << args << ": " << made;
  }
  EXPECT_TRUE(fs::is_symlink(link));  // the user's link is left as it is
  // Made at the file's own path, the index is reached through the link, with one lock and key.
  ASSERT_EQ(test::run_cli("index " + q(library().music) + " --model " + q(model()) + " -q --db " + q(target), &out, &err), 0)
      << err;
  ASSERT_EQ(test::run_cli("user add ann --password-file " + q(dir + "/pw") + " --db " + q(link), &out, &err), 0) << err;
  ASSERT_EQ(test::run_cli("index " + q(library().music) + " --model " + q(model()) + " -q --db " + q(link), &out, &err), 0)
      << err;
  EXPECT_TRUE(fs::exists(target + ".key"));
  EXPECT_TRUE(fs::exists(target + ".lock"));
  EXPECT_FALSE(fs::exists(link + ".key"));
  EXPECT_FALSE(fs::exists(link + ".lock"));
}

TEST(MixM3u, ARefusedMixLeavesNoFolder) {
  const std::string db = copy_of_index("mix.db"), folder = test::temp_dir() + "/mixes";
  std::string out, err;
  std::ofstream(test::temp_dir() + "/pw") << "a password\n";
  ASSERT_EQ(test::run_cli("user add ann --password-file " + q(test::temp_dir() + "/pw") + " --db " + q(db), &out, &err), 0) << err;
  // ann has played nothing: no mixes, so no folder.
  EXPECT_EQ(test::run_cli("mix --user ann --m3u " + q(folder) + " --db " + q(db), &out, &err), 0) << err;
  EXPECT_NE((out + err).find("ann: no mixes: no taste centres yet"), std::string::npos) << out << err;
  EXPECT_FALSE(fs::exists(folder)) << err;
  // A run refused after the options were read (an unknown user) leaves none either.
  EXPECT_EQ(test::run_cli("mix --user bob --m3u " + q(folder) + " --db " + q(db), &out, &err), 1) << err;
  EXPECT_FALSE(fs::exists(folder)) << err;
}

}  // namespace
}  // namespace clap
