// Output that cannot be lost or faked: any bytes in names and texts still give valid JSON (invalid
// UTF-8 replaced by U+FFFD), a write that fails (full disk: /dev/full) fails the run, and a file
// output appears whole or not at all.
#include <gtest/gtest.h>

#include <csignal>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;

std::string cli() { return test::cli_command(); }
std::string tiny() { return test::quoted(test::case_dir("tiny-unfused")); }

TEST(OutputCli, NonUtf8NamesAndTextsStillGiveOneJsonLinePerInput) {
  const std::string dir = test::temp_dir();
  const std::string ok = test::ffmpeg(dir + "/ok.mp3", "-f lavfi -i \"sine=f=440:d=3\"");
  std::string out, err;
  const int rc = test::run_command(cli() + " embed --model " + tiny() + " --audio \"$(printf '" + dir +
                                       "/bad\\377.wav')\" --audio '" + ok + "' --text \"$(printf 'caf\\351')\"",
                                   &out, &err);
  EXPECT_EQ(rc, 2) << err;  // one input failed (no such file): the others are still embedded
  std::istringstream lines(out);
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 3u) << out;
  EXPECT_TRUE(rows[0].contains("error"));
  EXPECT_NE(rows[0]["input"].get<std::string>().find("bad\xEF\xBF\xBD.wav"), std::string::npos) << rows[0]["input"];
  EXPECT_EQ(rows[1]["embedding"].size(), 512u);
  EXPECT_EQ(rows[2]["input"], "caf\xEF\xBF\xBD");
  EXPECT_EQ(rows[2]["embedding"].size(), 512u);

  // doctor --json on a model folder whose name is not UTF-8, and on one that does not exist:
  // a JSON document either way, not an exception.
  const std::string link = dir + "/m\xff";
  fs::create_directory_symlink(test::case_dir("tiny-unfused"), link);
  EXPECT_EQ(test::run_command(cli() + " doctor --model \"$(printf '" + dir + "/m\\377')\" --json", &out, &err), 0) << err;
  const auto doc = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << out << err;
  EXPECT_EQ(doc["status"], "ok");
  EXPECT_NE(doc["dir"].get<std::string>().find("m\xEF\xBF\xBD"), std::string::npos) << doc["dir"];
  EXPECT_EQ(test::run_command(cli() + " doctor --model \"$(printf 'nothing\\377')\" --json", &out, &err), 1);
  const auto failed = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(failed.is_discarded()) << out;
  EXPECT_EQ(failed["status"], "error");
}

TEST(OutputCli, AFailedWriteFailsTheRun) {
  std::string out, err;
  EXPECT_NE(test::run_command(cli() + " embed --model " + tiny() + " --text hello > /dev/full", &out, &err), 0);
  EXPECT_NE(err.find("standard output"), std::string::npos) << err;
  // Once (hostile pass 7: the command's own error and then main's check said it twice).
  EXPECT_EQ(err.find("clapsearch: error:"), err.rfind("clapsearch: error:")) << err;
  EXPECT_NE(test::run_command(cli() + " embed --model " + tiny() + " --text hello --output /dev/full", &out, &err), 0);
  EXPECT_NE(err.find("/dev/full: write failed"), std::string::npos) << err;
  EXPECT_TRUE(fs::is_character_file("/dev/full"));  // written in place, never replaced
}

// A file-size limit (`ulimit -f`): SIGXFSZ killed the run mid-write (status 153, a core dump, no
// file named) in `index`, `embed -o`, a redirected output (hostile pass 10, H10C-1). Now a write
// past the limit is a failed write like a full disk's: an error naming the file, and the index
// the next run (without the limit) completes.
TEST(OutputCli, AFileSizeLimitFailsTheWriteInsteadOfKillingTheRun) {
  // The limit's signal at its default action in this process and so in the commands it starts
  // (a parent that ignores it, as Python does, would hide the defect).
  const auto old_handler = std::signal(SIGXFSZ, SIG_DFL);
  const std::string dir = test::temp_dir();
  test::ffmpeg(dir + "/lib/a.wav", "-f lavfi -i sine=f=440:d=3:sample_rate=16000");
  test::ffmpeg(dir + "/lib/b.wav", "-f lavfi -i sine=f=880:d=3:sample_rate=16000");
  const std::string limit = "ulimit -f 4 && ";  // 4 KB
  std::string out, err;

  EXPECT_EQ(test::run_command(limit + cli() + " embed --model " + tiny() + " --text hello > " + test::quoted(dir + "/e.jsonl"),
                              &out, &err), 1) << err;
  EXPECT_NE(err.find("standard output"), std::string::npos) << err;
  EXPECT_NE(err.find("File too large"), std::string::npos) << err;
  EXPECT_EQ(test::run_command(limit + cli() + " embed --model " + tiny() + " --text hello -o " + test::quoted(dir + "/o.jsonl"),
                              &out, &err), 1) << err;
  EXPECT_NE(err.find(dir + "/o.jsonl"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir + "/o.jsonl"));  // whole or not at all

  const std::string db = dir + "/lib.db";
  const std::string index = cli() + " index " + test::quoted(dir + "/lib") + " --db " + test::quoted(db) + " --model " + tiny() + " -q";
  // SQLite reports the failed COMMIT as "disk I/O error", not always with the errno: the run
  // fails naming the index, and is not killed.
  const int rc = test::run_command(limit + index, &out, &err);
  EXPECT_EQ(rc, 1) << err;
  EXPECT_NE(err.find(db), std::string::npos) << err;
  ASSERT_EQ(test::run_command(index, &out, &err), 0) << err;
  ASSERT_EQ(test::run_command(cli() + " status --json --db " + test::quoted(db), &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["tracks"], 2) << out;
  std::signal(SIGXFSZ, old_handler);
}

// An output named like the index (`--csv "$CLAPSEARCH_DB"`, a completion slip) renamed the result
// over it: users, plays and playlists gone, exit status 0 (hostile pass 10, H10C-3). Every
// output that a user names (--csv, --m3u, -o, map --out) refuses an SQLite file or its WAL.
TEST(OutputCli, AnOutputNeverReplacesAnIndex) {
  const std::string dir = test::temp_dir();
  test::ffmpeg(dir + "/lib/a.wav", "-f lavfi -i sine=f=440:d=3:sample_rate=16000");
  test::ffmpeg(dir + "/lib/b.wav", "-f lavfi -i sine=f=880:d=3:sample_rate=16000");
  const std::string db = dir + "/lib.db";
  test::index_library(dir + "/lib", db, test::case_dir("tiny-unfused"));
  // The commands themselves may write the index (the text cache): it must stay an SQLite index
  // holding its tracks, not become their output.
  const auto still_the_index = [&] {
    return test::read_file(db).compare(0, 16, std::string("SQLite format 3\0", 16)) == 0;
  };
  const std::string q = test::quoted(db);
  std::string out, err;
  for (const std::string& c : {" search x --csv " + q + " --db " + q, " classify --labels a,b --all --csv " + q + " --db " + q,
                               " playlist --seed 1 -n 2 --m3u " + q + " --db " + q, " embed --model " + tiny() + " --text a -o " + q}) {
    EXPECT_EQ(test::run_command(cli() + c, &out, &err), 1) << c << "\n" << err;
    EXPECT_NE(err.find(db + ": an SQLite database"), std::string::npos) << c << "\n" << err;
    EXPECT_TRUE(still_the_index()) << c;
  }
  // A copy of the index under a picture's name, and a write-ahead log: the same.
  fs::copy_file(db, dir + "/copy.svg");
  const std::string copy = test::read_file(dir + "/copy.svg");
  EXPECT_EQ(test::run_command(cli() + " map --out " + test::quoted(dir + "/copy.svg") + " --db " + q, &out, &err), 1) << err;
  EXPECT_TRUE(test::read_file(dir + "/copy.svg") == copy);
  std::ofstream(dir + "/x-wal", std::ios::binary) << std::string("\x37\x7f\x06\x82", 4) << std::string(28, '\0');
  EXPECT_EQ(test::run_command(cli() + " search x --csv " + test::quoted(dir + "/x-wal") + " --db " + q, &out, &err), 1) << err;
  ASSERT_EQ(test::run_command(cli() + " status --json --db " + q, &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["ok"], 2) << out;
  // Any other existing file is replaced as before.
  std::ofstream(dir + "/old.csv") << "old";
  EXPECT_EQ(test::run_command(cli() + " search x --csv " + test::quoted(dir + "/old.csv") + " --db " + q, &out, &err), 0) << err;
  EXPECT_NE(test::read_file(dir + "/old.csv").find("query,rank"), std::string::npos);
}

// `playlist --seed a.flac --m3u b.flac` (a completion slip, or the names swapped) renamed the
// playlist over the recording b.flac: the song was gone, exit status 0 (hostile pass 21, H21C-1).
// Every output a user names refuses an audio or video file, told by its first bytes.
TEST(OutputCli, AnOutputNeverReplacesASong) {
  const std::string dir = test::temp_dir();
  test::ffmpeg(dir + "/lib/a.flac", "-f lavfi -i sine=f=440:d=3:sample_rate=16000");
  test::ffmpeg(dir + "/lib/b.mp3", "-f lavfi -i sine=f=880:d=3:sample_rate=16000");
  test::ffmpeg(dir + "/lib/c.wav", "-f lavfi -i sine=f=660:d=3:sample_rate=16000");
  test::ffmpeg(dir + "/lib/d.ogg", "-f lavfi -i sine=f=550:d=3:sample_rate=16000 -c:a libvorbis");
  test::ffmpeg(dir + "/lib/e.m4a", "-f lavfi -i sine=f=330:d=3:sample_rate=16000 -c:a aac");
  // An MP3 of bare frames (no ID3 tag), under a playlist's name.
  test::ffmpeg(dir + "/raw.m3u8", "-f lavfi -i sine=f=220:d=3:sample_rate=16000 -f mp3 -write_id3v2 0");
  const std::string db = dir + "/lib.db";
  test::index_library(dir + "/lib", db, test::case_dir("tiny-unfused"));
  const std::string q = test::quoted(db);
  const auto song = [&](const std::string& name) { return test::quoted(dir + "/" + name); };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"lib/b.mp3", " playlist --seed " + song("lib/a.flac") + " -n 2 --m3u " + song("lib/b.mp3") + " --db " + q},
      {"lib/a.flac", " playlist --seed " + song("lib/a.flac") + " -n 2 --m3u " + song("lib/a.flac") + " --db " + q},
      {"lib/c.wav", " search x --csv " + song("lib/c.wav") + " --db " + q},
      {"lib/d.ogg", " similar " + song("lib/a.flac") + " --csv " + song("lib/d.ogg") + " --db " + q},
      {"lib/e.m4a", " embed --model " + tiny() + " --text a -o " + song("lib/e.m4a")},
      {"raw.m3u8", " path " + song("lib/a.flac") + " " + song("lib/c.wav") + " -n 2 --m3u " + song("raw.m3u8") + " --db " + q},
  };
  std::string out, err;
  for (const auto& [name, command] : cases) {
    const std::string before = test::read_file(dir + "/" + name);
    ASSERT_GT(before.size(), 1000u) << name;
    EXPECT_EQ(test::run_command(cli() + command, &out, &err), 1) << command << "\n" << err;
    EXPECT_NE(err.find(dir + "/" + name + ": an audio or video file is there"), std::string::npos) << command << "\n" << err;
    EXPECT_TRUE(test::read_file(dir + "/" + name) == before) << name << " was replaced";
  }
  // A playlist is still replaced by the next one, and a UTF-16 text (its byte order mark FF FE
  // looks like an MPEG frame's sync word) by a CSV.
  std::ofstream(dir + "/old.m3u8") << "#EXTM3U\nold.flac\n";
  EXPECT_EQ(test::run_command(cli() + " playlist --seed " + song("lib/a.flac") + " -n 2 --m3u " + song("old.m3u8") + " --db " + q,
                              &out, &err),
            0)
      << err;
  EXPECT_EQ(test::read_file(dir + "/old.m3u8").find("old.flac"), std::string::npos);
  std::ofstream(dir + "/utf16.csv", std::ios::binary) << std::string("\xFF\xFEo\0l\0d\0", 8);
  EXPECT_EQ(test::run_command(cli() + " search x --csv " + song("utf16.csv") + " --db " + q, &out, &err), 0) << err;
  EXPECT_NE(test::read_file(dir + "/utf16.csv").find("query,rank"), std::string::npos);
}

// The temporary file beside an output is named by the pid: a symbolic link planted there (by anyone
// who may write the output's folder) was followed, its target truncated and overwritten with the
// result, and the link renamed into the output's place (hostile pass 10, H10C-5).
TEST(OutputCli, ALinkPlantedAtTheTemporaryNameIsNeverFollowed) {
  const std::string dir = test::temp_dir();
  fs::create_directories(dir + "/shared");
  const std::string victim = dir + "/victim.txt";
  for (const char* name : {"out.jsonl", "out.npy"}) {
    std::ofstream(victim) << "precious\n";
    const std::string out_path = dir + "/shared/" + name;
    // The shell that plants the link execs clapsearch: the same pid.
    const std::string command = "sh -c 'ln -s " + victim + " " + out_path + ".tmp.$$ && exec \"$0\" \"$@\"' " + cli() +
                                " embed --model " + tiny() + " --text hello -o " + test::quoted(out_path);
    std::string out, err;
    ASSERT_EQ(test::run_command(command, &out, &err), 0) << err;
    EXPECT_EQ(test::read_file(victim), "precious\n") << name;
    EXPECT_FALSE(fs::is_symlink(out_path)) << name;
    EXPECT_TRUE(fs::is_regular_file(out_path)) << name;
  }
}

TEST(OutputCli, AFileOutputAppearsWholeOrNotAtAll) {
  const std::string dir = test::temp_dir() + "/out";
  fs::create_directories(dir);
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " embed --model " + tiny() + " --text hello --format npy --output " + dir + "/e.npy",
                              &out, &err),
            0)
      << err;
  EXPECT_EQ(fs::file_size(dir + "/e.npy"), 128u + 512u * 4u);
  ASSERT_EQ(test::run_command(cli() + " embed --model " + tiny() + " --text hello --output " + dir + "/e.jsonl", &out, &err), 0)
      << err;
  EXPECT_GT(fs::file_size(dir + "/e.jsonl"), 1000u);
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.is_regular_file();
  EXPECT_EQ(entries, 2u);  // no temporary file left behind
  // Through a symlink, the file it points to gets the output and the link stays a link.
  fs::create_symlink(dir + "/e.jsonl", dir + "/latest.jsonl");
  ASSERT_EQ(test::run_command(cli() + " embed --model " + tiny() + " --text a --text b --output " + dir + "/latest.jsonl", &out, &err),
            0)
      << err;
  EXPECT_TRUE(fs::is_symlink(dir + "/latest.jsonl"));
  std::ifstream written(dir + "/e.jsonl");
  size_t lines = 0;
  for (std::string line; std::getline(written, line);) ++lines;
  EXPECT_EQ(lines, 2u);
  fs::remove(dir + "/latest.jsonl");
  // A run that fails leaves nothing behind (no folder, no partial file).
  EXPECT_NE(test::run_command(cli() + " embed --model " + tiny() + " --text x --output " + dir + "/missing/e.jsonl", &out, &err),
            0);
  EXPECT_FALSE(fs::exists(dir + "/missing"));
}

// Hostile pass 15, H15C-6: a symbolic link to where nothing is yet (latest.jsonl -> a file a
// cleanup removed) was replaced by the output: the result was not where the link pointed, and the
// link was gone. It is written through, as the shell's `>` does; a link into a missing folder
// names that folder; a loop of links is an error and stays.
TEST(OutputCli, ALinkToWhereNothingIsYetGetsTheOutputAndStays) {
  const std::string dir = test::temp_dir() + "/dangling-out";
  fs::create_directories(dir + "/reports");
  fs::create_symlink("reports/latest.jsonl", dir + "/latest.jsonl");
  fs::create_symlink(dir + "/gone/e.jsonl", dir + "/into-missing.jsonl");
  fs::create_symlink(dir + "/loop.jsonl", dir + "/loop.jsonl");
  const std::string embed = cli() + " embed --model " + tiny() + " --text hello --output ";
  std::string out, err;
  ASSERT_EQ(test::run_command(embed + test::quoted(dir + "/latest.jsonl"), &out, &err), 0) << err;
  EXPECT_TRUE(fs::is_symlink(dir + "/latest.jsonl"));
  EXPECT_TRUE(fs::is_regular_file(dir + "/reports/latest.jsonl"));
  EXPECT_NE(test::run_command(embed + test::quoted(dir + "/into-missing.jsonl"), &out, &err), 0);
  EXPECT_NE(err.find(dir + "/into-missing.jsonl: cannot write: the folder " + dir + "/gone does not exist"), std::string::npos)
      << err;
  EXPECT_TRUE(fs::is_symlink(dir + "/into-missing.jsonl"));
  EXPECT_NE(test::run_command(embed + test::quoted(dir + "/loop.jsonl"), &out, &err), 0);
  EXPECT_NE(err.find(dir + "/loop.jsonl: cannot write: a loop of symbolic links"), std::string::npos) << err;
  EXPECT_TRUE(fs::is_symlink(dir + "/loop.jsonl"));
}

// Hostile pass 20, H20C-3: a file output is written under a temporary name (made 0666 less the
// umask) and renamed over the old file, so a result the user had made private (chmod 600, a
// playlist of what they listen to) came back readable by all. The shell's `>` keeps the mode of
// the file it rewrites; so does every named output now (through a link too). A new file still
// gets the umask's mode.
TEST(OutputCli, ARewrittenFileKeepsItsPermissions) {
  const std::string dir = test::temp_dir() + "/modes";
  fs::create_directories(dir);
  const std::string embed = "umask 022; " + cli() + " embed --model " + tiny() + " --text hello --output ";
  const auto mode = [](const std::string& p) { return fs::status(p).permissions() & fs::perms::mask; };
  std::string out, err;
  for (const auto kept : {fs::perms::owner_read | fs::perms::owner_write,
                          fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read}) {
    const std::string path = dir + "/private.jsonl";
    std::ofstream(path) << "old\n";
    fs::permissions(path, kept);
    ASSERT_EQ(test::run_command(embed + test::quoted(path), &out, &err), 0) << err;
    EXPECT_NE(test::read_file(path), "old\n");
    EXPECT_EQ(mode(path), kept);
  }
  fs::create_symlink("private.jsonl", dir + "/link.jsonl");
  fs::permissions(dir + "/private.jsonl", fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_EQ(test::run_command(embed + test::quoted(dir + "/link.jsonl"), &out, &err), 0) << err;
  EXPECT_EQ(mode(dir + "/private.jsonl"), fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_EQ(test::run_command(embed + test::quoted(dir + "/new.jsonl"), &out, &err), 0) << err;
  EXPECT_EQ(mode(dir + "/new.jsonl"), fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                          fs::perms::others_read);
}

TEST(OutputCli, TagsCannotDriveTheTerminalOrASpreadsheet) {
  const std::string dir = test::temp_dir() + "/inject";
  test::ffmpeg(dir + "/music/a.mp3", "-f lavfi -i \"sine=f=440:d=4\" -metadata title=\"$(printf 'red\\033[31mX\\033]0;owned\\007')\"");
  test::ffmpeg(dir + "/music/b.mp3", "-f lavfi -i \"sine=f=550:d=4\" -metadata title='=HYPERLINK(\"http://x\")' -metadata artist=-12.5");
  // Hostile pass 18: strtod read "-inf" and "-0x10" as numbers, so they were left bare, and a
  // spreadsheet reads them as formulas (#NAME?).
  test::ffmpeg(dir + "/music/c.mp3", "-f lavfi -i \"sine=f=660:d=4\" -metadata title=-inf -metadata artist=-0x10");
  const std::string db = test::quoted(dir + "/library.db");
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index '" + dir + "/music' --db " + db + " --model " + tiny(), &out, &err), 0) << err;
  ASSERT_EQ(test::run_command(cli() + " search tone -k 5 --db " + db, &out, &err), 0) << err;
  EXPECT_EQ(out.find('\033'), std::string::npos) << "an escape sequence reached the terminal";
  EXPECT_EQ(out.find('\007'), std::string::npos);
  EXPECT_NE(out.find("red?[31mX?]0;owned?"), std::string::npos) << out;
  ASSERT_EQ(test::run_command(cli() + " search tone -k 5 --csv - --db " + db, &out, &err), 0) << err;
  EXPECT_NE(out.find(",\"'=HYPERLINK(\"\"http://x\"\")\""), std::string::npos) << out;  // text, not a formula
  EXPECT_NE(out.find(",-12.5,"), std::string::npos) << out;  // a number stays a number
  EXPECT_NE(out.find(",'-0x10,'-inf\n"), std::string::npos) << out;
  EXPECT_NE(out.find("red\033[31mX\033]0;owned\007"), std::string::npos) << out;  // to a pipe: the exact text
  // Hostile pass 9, H9C-8: `--csv -` typed at a terminal wrote the title's escape sequences to
  // it (script(1) gives the run a terminal); there its cells are shown as a table's are.
  ASSERT_EQ(test::run_command("script -qec " + test::quoted(cli() + " search tone -k 5 --csv - --db " + db) + " /dev/null", &out, &err), 0)
      << err;
  EXPECT_EQ(out.find('\033'), std::string::npos) << "an escape sequence reached the terminal";
  EXPECT_EQ(out.find('\007'), std::string::npos);
  EXPECT_NE(out.find("red?[31mX?]0;owned?"), std::string::npos) << out;
  ASSERT_EQ(test::run_command(cli() + " search tone -k 5 --json --db " + db, &out, &err), 0) << err;
  bool exact = false;
  for (const auto& r : nlohmann::json::parse(out)) exact |= r["title"] == "red\033[31mX\033]0;owned\007";
  EXPECT_TRUE(exact) << out;  // JSON keeps the exact text
}

// Messages are as safe as tables: an index run's "skipped NAME: reason", embed's error and a
// table's path show escape sequences, BEL, C1 controls and bytes that are not UTF-8 as '?'.
TEST(OutputCli, FileNamesCannotDriveTheTerminalInMessagesOrTables) {
  const std::string dir = test::temp_dir() + "/inject-names";
  const std::string evil = dir + "/music/x\033]0;owned\007\x9b" "2J.mp3";  // OSC title, BEL, a lone 0x9B (CSI)
  fs::create_directories(dir + "/music");
  std::ofstream(evil) << "not audio at all";
  test::ffmpeg(dir + "/music/caf\xe9.mp3", "-f lavfi -i \"sine=f=440:d=4\"");  // a Latin-1 name
  const std::string db = test::quoted(dir + "/library.db");
  const auto safe = [](const std::string& text) {
    EXPECT_EQ(text.find('\033'), std::string::npos) << text;
    EXPECT_EQ(text.find('\007'), std::string::npos) << text;
    EXPECT_EQ(text.find('\x9b'), std::string::npos) << text;
  };
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index " + test::quoted(dir + "/music") + " --db " + db + " --model " + tiny(), &out, &err), 0)
      << err;
  safe(err);
  EXPECT_NE(err.find("skipped " + dir + "/music/x?]0;owned??2J.mp3: "), std::string::npos) << err;
  EXPECT_NE(test::run_command(cli() + " embed --model " + tiny() + " --audio " + test::quoted(evil), &out, &err), 0);
  safe(err);
  // An error message shows a C0 control as \xNN (R13C-1: one line, and the byte named); a C1
  // control and a byte that is not UTF-8 as '?', as everywhere.
  EXPECT_NE(err.find("x\\x1b]0;owned\\x07?2J.mp3"), std::string::npos) << err;
  ASSERT_EQ(test::run_command(cli() + " search tone -k 5 --db " + db, &out, &err), 0) << err;
  safe(out);
  EXPECT_EQ(out.find("caf\xe9"), std::string::npos) << "a byte that is not UTF-8 reached the terminal";
  EXPECT_NE(out.find("caf?.mp3"), std::string::npos) << out;
  ASSERT_EQ(test::run_command(cli() + " status --errors --db " + db, &out, &err), 0) << err;
  safe(out);
}

// Hostile pass 9, R9C-6: U+2028/U+2029 and the bidirectional controls are not control
// characters (Cc), so tables showed them as they are: a title could break a row or reverse what
// follows it (a right-to-left override shows "gpj.exe" as "exe.jpg"). They are shown as '?' too;
// JSON keeps them.
TEST(OutputCli, LineSeparatorsAndBidiControlsAreShownAsQuestionMarks) {
  const std::string dir = test::temp_dir() + "/bidi";
  // U+2028, U+2029, U+202E (RLO), U+2066 (LRI), U+2069 (PDI); U+00E9 and U+200F (RLM) are kept.
  const std::string title = "a\u2028b\u2029c\u202Eevil\u2066d\u2069e caf\u00e9\u200F";
  test::ffmpeg(dir + "/music/a.mp3", "-f lavfi -i \"sine=f=440:d=4\" -metadata title=\"$(printf '" + title + "')\"");
  const std::string db = test::quoted(dir + "/library.db");
  std::string out, err;
  ASSERT_EQ(test::run_command(cli() + " index '" + dir + "/music' --db " + db + " --model " + tiny(), &out, &err), 0) << err;
  ASSERT_EQ(test::run_command(cli() + " search tone -k 5 --db " + db, &out, &err), 0) << err;
  for (const char* c : {"\u2028", "\u2029", "\u202E", "\u2066", "\u2069"})
    EXPECT_EQ(out.find(c), std::string::npos) << "a layout control reached the terminal: " << out;
  EXPECT_NE(out.find("a?b?c?evil?d?e caf\u00e9\u200F"), std::string::npos) << out;
  ASSERT_EQ(test::run_command(cli() + " search tone -k 5 --json --db " + db, &out, &err), 0) << err;
  EXPECT_NE(out.find("\u202E"), std::string::npos) << "JSON keeps the exact text: " << out;
}

}  // namespace
}  // namespace clap
