// Tests for service/media_files.h's lyrics parsing (LRC and plain text as the songLyrics
// extension's structured lyrics) and the cover cache's bound.
#include "service/media_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/golden.h"

namespace clap::service {
namespace {

TEST(Lyrics, LrcBecomesSyncedLinesByStartTime) {
  const StructuredLyrics l = parse_lyrics(
      "[ti:Song]\r\n[ar:Someone]\n[offset:-250]\n[00:05.5]Later\n[00:01.00][01:02.123]Twice\n[00:02.25]Second\n", "");
  EXPECT_TRUE(l.synced);
  EXPECT_EQ(l.lang, "und");
  EXPECT_EQ(l.offset_ms, -250);
  ASSERT_EQ(l.lines.size(), 4u);
  EXPECT_EQ(*l.lines[0].start_ms, 1000);
  EXPECT_EQ(l.lines[0].value, "Twice");
  EXPECT_EQ(*l.lines[1].start_ms, 2250);
  EXPECT_EQ(*l.lines[2].start_ms, 5500);
  EXPECT_EQ(l.lines[2].value, "Later");
  EXPECT_EQ(*l.lines[3].start_ms, 62123);
  EXPECT_EQ(plain_lyrics(l), "Twice\nSecond\nLater\nTwice");
}

TEST(Lyrics, PlainTextStaysUnsyncedWithItsLanguage) {
  const StructuredLyrics l = parse_lyrics("\n[Chorus]\nLa la la\n\nLa la\n\n", "eng");
  EXPECT_FALSE(l.synced);
  EXPECT_EQ(l.lang, "eng");
  ASSERT_EQ(l.lines.size(), 4u);  // leading and trailing empty lines dropped, the inner one kept
  EXPECT_EQ(l.lines[0].value, "[Chorus]");
  EXPECT_FALSE(l.lines[0].start_ms.has_value());
  EXPECT_EQ(l.lines[2].value, "");
  // One stray time stamp among plain lines does not make them LRC.
  EXPECT_FALSE(parse_lyrics("[00:01.00]one\ntwo\nthree\n", "").synced);
}

TEST(Lyrics, ManyStampsOnOneLongLineAreBounded) {
  // Issue 53 (hostile pass 4): every stamp of a row copied the row's text, so a lyrics tag of
  // 30,000 stamps before 30,000 characters (a 285 KB file) made a 900 MB getLyrics answer and
  // 5 GB of memory. Here 3,000 x 3,000 (9 MB of copies) is cut at the byte bound.
  std::string row;
  for (int i = 0; i < 3000; ++i) row += "[00:01.00]";
  row += std::string(3000, 'x');
  const StructuredLyrics l = parse_lyrics(row, "");
  EXPECT_TRUE(l.synced);
  size_t bytes = 0;
  for (const LyricsLine& line : l.lines) bytes += line.value.size();
  EXPECT_LE(bytes, size_t{1} << 20);
  EXPECT_GT(l.lines.size(), 0u);
  EXPECT_LE(plain_lyrics(l).size(), (size_t{1} << 20) + 10000);
  // Many short lines stop at the line bound, plain or timed.
  std::string many;
  for (int i = 0; i < 20000; ++i) many += "[00:02]a\n";
  EXPECT_EQ(parse_lyrics(many, "").lines.size(), 10000u);
  std::string plain;
  for (int i = 0; i < 20000; ++i) plain += "la\n";
  EXPECT_EQ(parse_lyrics(plain, "").lines.size(), 10000u);
}

TEST(Lyrics, OnlyATagsFirstRowsAreRead) {
  // Before: every row of the tag was split off first, so 16 MB of line breaks were 16 million
  // strings (512 MB) for one request. Rows past the first 40,000 (or 4 MB) are not read.
  std::string text(50000, '\n');
  text += "[00:01.00]late\n";
  EXPECT_TRUE(parse_lyrics(text, "").lines.empty());
  std::string early = "[00:01.00]early\n" + std::string(5u << 20, 'x');
  const StructuredLyrics l = parse_lyrics(early, "");
  ASSERT_EQ(l.lines.size(), 1u);
  EXPECT_EQ(l.lines[0].value, "early");
}

TEST(CoverCache, KeepsWhatItWasGivenWithinItsBound) {
  const std::string dir = test::temp_dir() + "/covers";
  const CoverCache cache(dir, 1 << 20, 3);
  for (int i = 0; i < 5; ++i) cache.put("c" + std::to_string(i) + ".jpg", std::string(100, char('a' + i)));
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 3);
  EXPECT_EQ(cache.get("c4.jpg").value_or(""), std::string(100, 'e'));
  EXPECT_FALSE(cache.get("missing.jpg").has_value());
}

}  // namespace
}  // namespace clap::service
