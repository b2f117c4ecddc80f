// The CSV and query-file readers (core/csv.h) the CLI's eval, search, analyze and classify use.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/csv.h"
#include "core/error.h"

namespace clap {
namespace {

using Rows = CsvRows;

TEST(Csv, QuotedFieldsEscapesAndLineEnds) {
  EXPECT_EQ(parse_csv("a,b\r\n\"x, \"\"y\"\"\",z\n", "t.csv"), (Rows{{"a", "b"}, {"x, \"y\"", "z"}}));
  EXPECT_EQ(parse_csv("a\rb\n\nc", "t.csv"), (Rows{{"a"}, {"b"}, {"c"}}));       // CR, blank line, no final LF
  EXPECT_EQ(parse_csv("\xEF\xBB\xBFpath,label\n", "t.csv"), (Rows{{"path", "label"}}));  // byte order mark
  EXPECT_EQ(parse_csv("\"multi\nline\",x\n", "t.csv"), (Rows{{"multi\nline", "x"}}));
  EXPECT_EQ(parse_csv("a,\n,\n", "t.csv"), (Rows{{"a", ""}, {"", ""}}));
  EXPECT_TRUE(parse_csv("\"\"\n", "t.csv").empty());  // one empty field, quoted or not, is a blank line
  EXPECT_TRUE(parse_csv("", "t.csv").empty());
}

TEST(Csv, UnterminatedQuoteNamesTheFile) {
  try {
    parse_csv("a,\"b\n", "labels.csv");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "labels.csv: unterminated quoted field");
  }
}

TEST(Csv, PairsSkipTheHeaderAndNameTheBadRow) {
  const auto pairs = csv_pairs(parse_csv("Path,Label\na.wav,dog\nb.wav,cat,extra\n", "l.csv"), "l.csv", "label");
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].path, "a.wav");
  EXPECT_EQ(pairs[1].value, "cat");
  try {
    csv_pairs(parse_csv("a.wav,dog\nb.wav\n", "l.csv"), "l.csv", "label");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "l.csv: row 2: expected path,label");
  }
  EXPECT_THROW(csv_pairs(parse_csv("path,caption\n", "c.csv"), "c.csv", "caption"), Error);
}

TEST(Csv, QueryLinesTrimmedCommentsSkipped) {
  EXPECT_EQ(parse_query_lines("  dog barking \r\n# comment\n\n\tjazz\n", "q.txt"),
            (std::vector<std::string>{"dog barking", "jazz"}));
  EXPECT_THROW(parse_query_lines("# only a comment\n \n", "q.txt"), Error);
}

TEST(Csv, FileReadersNameTheFile) {
  const std::string dir = testing::TempDir() + "/csv_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/l.csv") << "a,b\n";
  EXPECT_EQ(read_csv(dir + "/l.csv"), (Rows{{"a", "b"}}));
  try {
    read_csv(dir + "/missing.csv");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir + "/missing.csv: no such file (CSV)");
  }
  EXPECT_THROW(read_query_file(dir), Error);  // a folder
}

// Every text file the program reads is bounded: an endless or huge file is an error naming it,
// not gigabytes of memory (`search --queries /dev/zero` grew to 7 GB before).
TEST(TextFile, EndlessAndOversizedFilesAreRefusedWithTheirName) {
  try {
    read_text_file("/dev/zero", "queries", kMaxTextFileBytes, TextSource::FileOrStream);
    FAIL() << "no error";
  } catch (const Error& e) {
    // A stream stops at its first NUL byte (R9C-3: it was read to the size bound first).
    EXPECT_EQ(std::string(e.what()), "/dev/zero: not text (a NUL byte at byte 0) (queries); is it the right file?");
  }
  // An endless stream of text is stopped at the size bound.
  FILE* endless = ::popen("yes", "r");
  ASSERT_NE(endless, nullptr);
  const std::string stream = "/proc/self/fd/" + std::to_string(::fileno(endless));
  try {
    read_text_file(stream, "queries", kMaxTextFileBytes, TextSource::FileOrStream);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), stream + ": larger than 64 MB (queries); is it the right file?");
  }
  ::pclose(endless);
  const std::string dir = testing::TempDir() + "/text_file_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/k.txt") << std::string(3000, 'x');
  EXPECT_EQ(read_text_file(dir + "/k.txt", "t", 3000).size(), 3000u);  // exactly the bound: read
  EXPECT_THROW(read_text_file(dir + "/k.txt", "t", 2999), Error);
  EXPECT_THROW(read_query_file("/dev/zero"), Error);
  EXPECT_THROW(read_csv("/dev/zero"), Error);
}

// Files at derived names (a model folder's configs, the hub cache) and the settings file are
// read only when they are regular files: a FIFO put there is refused at once, not waited on
// forever, and a device is refused without reading it.
TEST(TextFile, ARegularFileIsRequiredUnlessAStreamIsAccepted) {
  const std::string dir = testing::TempDir() + "/text_file_fifo_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ASSERT_EQ(::mkfifo((dir + "/config.json").c_str(), 0600), 0);
  try {
    read_text_file(dir + "/config.json", "model config");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir + "/config.json: not a regular file (a FIFO, socket or device?) (model config)");
  }
  EXPECT_THROW(read_text_file("/dev/zero", "model config"), Error);
  try {
    read_text_file(dir, "settings file");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir + ": is a folder (settings file)");
  }
}

TEST(Csv, AQueryLineLongerThanTheBoundNamesItsLine) {
  const std::string text = "jazz\n" + std::string(kMaxQueryLineBytes + 1, 'a') + "\n";
  try {
    parse_query_lines(text, "q.txt");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "q.txt: line 2 is longer than 65536 bytes (one query per line)");
  }
  EXPECT_EQ(parse_query_lines("jazz\n" + std::string(kMaxQueryLineBytes, 'a'), "q.txt").size(), 2u);
}

}  // namespace
}  // namespace clap
