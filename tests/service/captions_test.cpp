// Training captions from metadata (service/captions.h): templates, the captions CSV and the
// Free Music Archive's tracks.csv, and how indexed tracks are matched to their rows.
#include "service/captions.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "support/golden.h"

namespace clap::service {
namespace {

TrackMetadata meta(std::map<std::string, std::string> fields, std::vector<std::string> captions = {}) {
  TrackMetadata m;
  m.fields = std::move(fields);
  m.captions = std::move(captions);
  return m;
}

using test::error_of;

TEST(CaptionTemplate, FillsFieldsAndSkipsTracksThatLackOne) {
  const CaptionTemplate t = CaptionTemplate::parse("A {genre} track called \"{title}\" by {artist}. {{literal}}");
  EXPECT_EQ(t.fields(), (std::vector<std::string>{"genre", "title", "artist"}));
  EXPECT_EQ(t.fill(meta({{"genre", "lo-fi"}, {"title", "Rain"}, {"artist", "Mo"}})),
            (std::vector<std::string>{"A lo-fi track called \"Rain\" by Mo. {literal}"}));
  EXPECT_TRUE(t.fill(meta({{"genre", "lo-fi"}, {"title", "Rain"}})).empty());  // no artist: not used
  EXPECT_TRUE(t.fill(meta({{"genre", "  "}, {"title", "Rain"}, {"artist", "Mo"}})).empty());  // blank = missing
}

TEST(CaptionTemplate, RefusesUnknownFieldsAndBadBraces) {
  EXPECT_NE(error_of([] { CaptionTemplate::parse("{mood} music"); }).find("unknown field {mood}"), std::string::npos);
  EXPECT_NE(error_of([] { CaptionTemplate::parse("{genre music"); }).find("'{' without '}'"), std::string::npos);
  EXPECT_NE(error_of([] { CaptionTemplate::parse("genre} music"); }).find("'}' without '{'"), std::string::npos);
  EXPECT_NE(error_of([] { CaptionTemplate::parse("just music"); }).find("names no field"), std::string::npos);
}

TEST(CaptionTemplate, DefaultsParseAndCaptionsAreAddedAsTheyAre) {
  std::vector<CaptionTemplate> defaults;
  for (const std::string& t : default_caption_templates()) defaults.push_back(CaptionTemplate::parse(t));
  EXPECT_EQ(defaults.size(), 5u);
  const TrackMetadata m =
      meta({{"title", "Rain"}, {"artist", "Mo"}, {"genre", "Jazz"}}, {"a slow piano piece", "a slow piano piece"});
  const std::vector<std::string> captions = captions_for(m, defaults);
  // Templates needing tags or album are not used; the CSV caption comes once, as it is.
  EXPECT_EQ(captions, (std::vector<std::string>{"Jazz track \"Rain\" by Mo.", "Jazz music by Mo.", "a slow piano piece"}));
  // A template that names {caption} decides where given captions go.
  const std::vector<std::string> own = captions_for(m, {CaptionTemplate::parse("{caption}, by {artist}")});
  EXPECT_EQ(own, (std::vector<std::string>{"a slow piano piece, by Mo"}));
  EXPECT_TRUE(captions_for(meta({{"date", "2001"}}), defaults).empty());
}

TEST(CaptionsCsv, CaptionsAndTagsWithRelativePaths) {
  const ExternalMetadata c = parse_captions_csv(
      "path,caption\nsongs/a.mp3,warm lo-fi guitar\nsongs/a.mp3,\"rain, and a piano\"\n/abs/b.flac,noise\nc.wav,\n",
      "caps.csv", "/music");
  EXPECT_EQ(c.format, "captions CSV");
  EXPECT_EQ(c.rows, 3);
  ASSERT_TRUE(c.by_path.count("/music/songs/a.mp3"));
  EXPECT_EQ(c.by_path.at("/music/songs/a.mp3").captions, (std::vector<std::string>{"warm lo-fi guitar", "rain, and a piano"}));
  EXPECT_EQ(c.by_path.at("/abs/b.flac").captions, (std::vector<std::string>{"noise"}));
  EXPECT_FALSE(c.by_path.count("/music/c.wav"));  // an empty caption is no caption

  const ExternalMetadata t = parse_captions_csv("PATH,Tags\na.mp3,indie; lo-fi ;Indie\na.mp3,chill\n", "tags.csv", "/m");
  EXPECT_EQ(t.format, "tags CSV");
  EXPECT_EQ(t.by_path.at("/m/a.mp3").fields.at("tags"), "indie, lo-fi, chill");  // repeats (any case) once

  // Without a header every row is data, the second column a caption.
  const ExternalMetadata h = parse_captions_csv("x.mp3,a;b\n", "h.csv", "/m");
  EXPECT_EQ(h.by_path.at("/m/x.mp3").captions, (std::vector<std::string>{"a;b"}));

  EXPECT_NE(error_of([] { parse_captions_csv("path,mood\na,b\n", "m.csv", "/"); }).find("m.csv: row 1"), std::string::npos);
  EXPECT_NE(error_of([] { parse_captions_csv("path,caption\nonly-a-path\n", "m.csv", "/"); }).find("m.csv: row 2"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_captions_csv("path,caption\n", "m.csv", "/"); }).find("no row"), std::string::npos);
  // A header with another first column name is refused, not read as a file called "file".
  EXPECT_NE(error_of([] { parse_captions_csv("file,caption\na.mp3,x\n", "m.csv", "/"); })
                .find("m.csv: row 1: a header's first column must be \"path\" (found \"file\")"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_captions_csv("Filename,Tags\na.mp3,x\n", "m.csv", "/"); }).find("row 1"), std::string::npos);
}

// The layout of fma_metadata/tracks.csv: three header rows, then one row per track.
const char* kFmaTracks =
    ",album,artist,track,track,track,track\n"
    ",title,name,date_recorded,genre_top,tags,title\n"
    "track_id,,,,,,\n"
    "2,AWOL - A Way Of Life,AWOL,2008-11-26 01:44:45,Hip-Hop,\"['hiphop', \"\"it's\"\"]\",Food\n"
    "3,AWOL - A Way Of Life,AWOL,,Hip-Hop,[],Electric Ave\n"
    "140,Constant Hitmaker,Kurt Vile,,Folk,['lo-fi'],Freeway\n";

// R11C-5's siblings: a cell a message quotes shows its first 200 bytes and its size, not a
// 1 MB cell whole.
TEST(CaptionsCsv, AQuotedCellIsBounded) {
  const std::string huge(size_t{1} << 20, 'x'), shown = std::string(200, 'x') + "... (1048576 bytes)";
  for (const auto& [text, said] : std::vector<std::pair<std::string, std::string>>{
           {huge + ",caption\na.wav,a tone\n", "a header's first column must be \"path\" (found \"" + shown + "\")"},
           {"path," + huge + "\na.wav,a tone\n", "the second column must be \"caption\" or \"tags\" (found \"" + shown + "\")"}}) {
    const std::string e = error_of([&] { parse_captions_csv(text, "c.csv", "/m"); });
    EXPECT_NE(e.find(said), std::string::npos) << e.substr(0, 400);
    EXPECT_LT(e.size(), 1000u);
  }
  const std::string e = error_of([&] { parse_fma_tracks(",track,track\n,title,artist_name\ntrack_id,,\n" + huge + ",A,B\n", "t.csv"); });
  EXPECT_NE(e.find("track_id \"" + shown + "\" is not a number"), std::string::npos) << e.substr(0, 400);
  EXPECT_LT(e.size(), 1000u);
}

TEST(FmaTracks, FlattensTheHeaderAndMatchesByIdOrTitleAndArtist) {
  const ExternalMetadata f = parse_fma_tracks(kFmaTracks, "tracks.csv");
  EXPECT_EQ(f.format, "FMA tracks.csv");
  EXPECT_EQ(f.rows, 3);
  const TrackMetadata& food = f.by_fma_id.at(2);
  EXPECT_EQ(food.fields.at("title"), "Food");
  EXPECT_EQ(food.fields.at("artist"), "AWOL");
  EXPECT_EQ(food.fields.at("album"), "AWOL - A Way Of Life");
  EXPECT_EQ(food.fields.at("genre"), "Hip-Hop");
  EXPECT_EQ(food.fields.at("tags"), "hiphop, it's");
  EXPECT_EQ(f.by_fma_id.at(3).fields.at("tags"), "");

  store::Track by_id;
  by_id.path = "/fma_small/000/000140.mp3";
  ASSERT_NE(f.find(by_id), nullptr);
  EXPECT_EQ(f.find(by_id)->fields.at("title"), "Freeway");
  store::Track by_tags;
  by_tags.path = "/music/freeway.mp3";
  by_tags.title = " FREEWAY";
  by_tags.artist = "kurt vile";
  ASSERT_NE(f.find(by_tags), nullptr);
  EXPECT_EQ(f.find(by_tags)->fields.at("genre"), "Folk");
  store::Track unknown;
  unknown.path = "/music/000999.mp3";
  EXPECT_EQ(f.find(unknown), nullptr);

  EXPECT_EQ(fma_id_of("/a/000002.mp3"), 2);
  EXPECT_EQ(fma_id_of("/a/2b.mp3"), -1);
  EXPECT_NE(error_of([] { parse_fma_tracks("path,caption\na,b\n", "t.csv"); }).find("not an FMA tracks.csv"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_fma_tracks(",track\n,title\ntrack_id,\nx2,Food\n", "t.csv"); }).find("row 4"),
            std::string::npos);
}

TEST(IndexMetadata, TagsAndStoredLabels) {
  store::Track t;
  t.title = "Rain";
  t.genre = "Jazz";
  const TrackMetadata m = index_metadata(t, {{1, "piano", 0.4f}, {1, "calm", 0.2f}});
  EXPECT_EQ(m.fields.at("title"), "Rain");
  EXPECT_EQ(m.fields.at("genre"), "Jazz");
  EXPECT_EQ(m.fields.at("artist"), "");
  EXPECT_EQ(m.fields.at("tags"), "piano, calm");
}

}  // namespace
}  // namespace clap::service
