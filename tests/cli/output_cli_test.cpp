// Output that cannot be lost or faked: any bytes in names and texts still give valid JSON (invalid
// UTF-8 replaced by U+FFFD), a write that fails (full disk: /dev/full) fails the run, and a file
// output appears whole or not at all.
#include <gtest/gtest.h>

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

TEST(OutputCli, TagsCannotDriveTheTerminalOrASpreadsheet) {
  const std::string dir = test::temp_dir() + "/inject";
  test::ffmpeg(dir + "/music/a.mp3", "-f lavfi -i \"sine=f=440:d=4\" -metadata title=\"$(printf 'red\\033[31mX\\033]0;owned\\007')\"");
  test::ffmpeg(dir + "/music/b.mp3", "-f lavfi -i \"sine=f=550:d=4\" -metadata title='=HYPERLINK(\"http://x\")' -metadata artist=-12.5");
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
  EXPECT_NE(err.find("x?]0;owned??2J.mp3"), std::string::npos) << err;
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
