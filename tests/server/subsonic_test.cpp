// The OpenSubsonic front end's own parts (src/server/subsonic*.cpp): the XML form of an answer,
// and the music catalog's ids and folders (src/service/music_catalog.h) over a real library
// indexed by the CLI. The endpoints themselves are driven by the real npm subsonic-api client
// (tests/subsonic/run.sh, the CTest test Server.Subsonic).
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>

#include "server/running_server.h"
#include "server/subsonic.h"
#include "service/library.h"
#include "service/music_catalog.h"
#include "support/golden.h"

namespace clap::server::subsonic {
namespace {

namespace fs = std::filesystem;

TEST(SubsonicXml, ScalarsAreAttributesObjectsAndArraysAreElements) {
  ojson env = {{"status", "ok"}, {"version", "1.16.1"}, {"openSubsonic", true}};
  env["album"] = {{"id", "al-1"}, {"songCount", 2}, {"song", ojson::array({{{"id", "1"}}, {{"id", "2"}}})}};
  env["genres"] = {{"genre", ojson::array({{{"value", "Rock & Roll"}, {"songCount", 3}}})}};
  env["isrc"] = ojson::array({"A1", "B2"});
  env["empty"] = ojson::object();
  EXPECT_EQ(to_xml(env),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<subsonic-response xmlns=\"http://subsonic.org/restapi\" status=\"ok\" version=\"1.16.1\" openSubsonic=\"true\">"
            "<album id=\"al-1\" songCount=\"2\"><song id=\"1\"/><song id=\"2\"/></album>"
            "<genres><genre songCount=\"3\">Rock &amp; Roll</genre></genres>"
            "<isrc>A1</isrc><isrc>B2</isrc>"
            "<empty/>"
            "</subsonic-response>");
}

// The members the XSD declares as child elements with text (ArtistInfoBase, AlbumInfo) are
// elements, in the members' order and before the similar artists; an attribute of the same name
// elsewhere (a song's musicBrainzId) stays an attribute.
TEST(SubsonicXml, InfoTextMembersAreElementsAsTheXsdDeclaresThem) {
  ojson env = {{"status", "ok"}};
  env["artistInfo2"] = {{"biography", "Born in Zürich & raised on \"drones\" <loud>, she wrote 'Ünïty' in 1999."},
                        {"musicBrainzId", "5b11f4ce-a62d-471e-81fc-a69a8278c7da"},
                        {"lastFmUrl", "https://www.last.fm/music/Sine+Ensemble?a=1&b=2"},
                        {"similarArtist", ojson::array({{{"id", "ar-1"}, {"name", "Noise Collective"}, {"musicBrainzId", "x"}}})}};
  env["albumInfo"] = {{"notes", "Liner notes: \u2018Tones\u2019 & more"}, {"musicBrainzId", ""}};
  EXPECT_EQ(to_xml(env),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<subsonic-response xmlns=\"http://subsonic.org/restapi\" status=\"ok\">"
            "<artistInfo2><biography>Born in Zürich &amp; raised on \"drones\" &lt;loud&gt;, she wrote 'Ünïty' in 1999.</biography>"
            "<musicBrainzId>5b11f4ce-a62d-471e-81fc-a69a8278c7da</musicBrainzId>"
            "<lastFmUrl>https://www.last.fm/music/Sine+Ensemble?a=1&amp;b=2</lastFmUrl>"
            "<similarArtist id=\"ar-1\" name=\"Noise Collective\" musicBrainzId=\"x\"/></artistInfo2>"
            "<albumInfo><notes>Liner notes: \u2018Tones\u2019 &amp; more</notes><musicBrainzId></musicBrainzId></albumInfo>"
            "</subsonic-response>");
}

TEST(SubsonicXml, TextIsAlwaysWellFormed) {
  // Tags hold anything: markup, quotes, control characters XML 1.0 cannot carry, invalid UTF-8.
  ojson env = {{"status", "ok"}};
  env["song"] = {{"title", std::string("a<b>&\"c\"\x01\x7f\xff" "d\te\n")}, {"value", std::string("x<\x02y")}};
  EXPECT_EQ(to_xml(env),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<subsonic-response xmlns=\"http://subsonic.org/restapi\" status=\"ok\">"
            "<song title=\"a&lt;b&gt;&amp;&quot;c&quot;\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "d&#9;e&#10;\">x&lt;\xEF\xBF\xBDy</song>"
            "</subsonic-response>");
}

TEST(SubsonicXml, NoncharactersXmlCannotCarryAreReplaced) {
  // U+FFFE and U+FFFF are valid UTF-8 but outside XML 1.0's Char production: a title holding
  // one made every list with the song unparseable (xmllint: "Char 0xFFFE out of allowed range").
  // U+FFFD and the characters around the two stay as they are.
  ojson env = {{"status", "ok"}};
  env["song"] = {{"title", std::string("a\xEF\xBF\xBE" "b\xEF\xBF\xBF" "c\xEF\xBF\xBD" "d\xEF\xBF\xBC")},
                 {"value", std::string("\xEF\xBF\xBF")}};
  EXPECT_EQ(to_xml(env),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<subsonic-response xmlns=\"http://subsonic.org/restapi\" status=\"ok\">"
            "<song title=\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD" "d\xEF\xBF\xBC\">\xEF\xBF\xBD</song>"
            "</subsonic-response>");
}

TEST(SubsonicRecords, DateTimesCarryAZone) {
  EXPECT_EQ(date_time(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(date_time(1795723897), "2026-11-26T20:11:37Z");
  EXPECT_EQ(suffix_of_path("/m/a.B/c.FLAC"), "flac");
  EXPECT_EQ(suffix_of_path("/m/a.b/c"), "");
  EXPECT_EQ(content_type_of_path("/m/x.mp3"), "audio/mpeg");
}

struct CatalogLibrary {
  std::string dir = test::temp_dir() + "/subsonic-catalog";
  std::string music = dir + "/music";
  std::string db = dir + "/library.db";

  CatalogLibrary() {
    fs::remove_all(dir);
    auto song = [this](const std::string& path, const std::string& tags) {
      test::ffmpeg(music + "/" + path, "-f lavfi -i \"sine=f=440:d=7\" " + tags);
    };
    song("Band/First/01.flac", "-metadata artist=Band -metadata album=First -metadata track=1 -metadata date=2001-05-02 -metadata genre=Rock");
    song("Band/First/02.flac", "-metadata artist=band -metadata album=first -metadata track=2 -metadata genre=Rock");
    song("Mix/01.mp3", "-metadata artist=Solo -metadata album=Mix -metadata album_artist=\"Various Artists\"");
    song("Mix/02.mp3", "-metadata artist=Band -metadata album=Mix -metadata album_artist=\"Various Artists\"");
    song("loose/untagged.ogg", "");
    test::index_library(music, db, test::case_dir("tiny-unfused"));
  }
};

TEST(MusicCatalog, GroupsTracksUnderStableIds) {
  const CatalogLibrary lib;
  service::LibraryOptions o;
  o.db = lib.db;
  service::Library library(o, service::Access::ReadOnly);
  const auto snap = library.snapshot();
  const service::MusicCatalog& c = snap->music_catalog();
  using service::MusicCatalog;

  // "Band"/"band" and "First"/"first" are one artist and one album (normalise_name), named as
  // tagged on the first track; a compilation is its album artist's, and that artist exists.
  const service::CatalogAlbum* first = c.album(MusicCatalog::album_id("BAND", "FIRST"));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->tracks.size(), 2u);
  EXPECT_EQ(first->year, 2001);
  EXPECT_EQ(first->genre, "Rock");
  EXPECT_EQ(first->artist_id, MusicCatalog::artist_id("Band"));
  const service::CatalogAlbum* mix = c.album(MusicCatalog::album_id("Various Artists", "Mix"));
  ASSERT_NE(mix, nullptr);
  EXPECT_EQ(mix->artist, "Various Artists");
  ASSERT_NE(c.artist(mix->artist_id), nullptr);
  EXPECT_EQ(c.artist(mix->artist_id)->songs, 0);
  // An untagged file is still reachable: under the unknown artist's unknown album.
  EXPECT_NE(c.album(MusicCatalog::album_id("[Unknown Artist]", "[Unknown Album]")), nullptr);
  const service::CatalogArtist* band = c.artist(MusicCatalog::artist_id("Band"));
  ASSERT_NE(band, nullptr);
  EXPECT_EQ(band->songs, 3);  // two on First, one on the compilation
  EXPECT_EQ(band->albums.size(), 1u);
  EXPECT_EQ(c.artists().size(), 4u);  // Band, Solo, Various Artists, [Unknown Artist]

  // Ids are made of what they name, so the same everywhere; song ids are track ids.
  EXPECT_EQ(MusicCatalog::album_id("Band", "First"), MusicCatalog::album_id("band", "first"));
  EXPECT_NE(MusicCatalog::album_id("Band", "First"), MusicCatalog::album_id("Solo", "First"));
  EXPECT_EQ(MusicCatalog::track_of_song_id(MusicCatalog::song_id(42)), 42);
  EXPECT_EQ(MusicCatalog::track_of_song_id("al-42"), -1);
  EXPECT_EQ(MusicCatalog::track_of_song_id("-1"), -1);
  EXPECT_EQ(MusicCatalog::track_of_song_id(""), -1);

  // Folders: the root, then every folder down to each track, children in name order.
  ASSERT_EQ(c.music_folders().size(), 1u);
  const service::MusicFolder& root = c.music_folders()[0];
  EXPECT_GT(root.id, 0);
  EXPECT_EQ(root.id, MusicCatalog::music_folder_id(fs::canonical(lib.music).string()));
  const service::CatalogFolder& top = c.folders()[root.folder];
  std::vector<std::string> names;
  for (const size_t f : top.folders) names.push_back(c.folders()[f].name);
  EXPECT_EQ(names, (std::vector<std::string>{"Band", "loose", "Mix"}));
  for (const store::Track& t : snap->tracks()) {
    const service::CatalogFolder* f = c.folder_of(t.id);
    ASSERT_NE(f, nullptr) << t.path;
    EXPECT_EQ(f->path, fs::path(t.path).parent_path().string());
    EXPECT_EQ(f->music_folder, root.id);
  }
  EXPECT_EQ(c.tracks_in(root.id).size(), snap->tracks().size());

  // The same library read again gives the same ids.
  service::Library again(o, service::Access::ReadOnly);
  const service::MusicCatalog& c2 = again.snapshot()->music_catalog();
  ASSERT_EQ(c2.albums().size(), c.albums().size());
  for (size_t i = 0; i < c.albums().size(); ++i) EXPECT_EQ(c2.albums()[i].id, c.albums()[i].id);
}

TEST(SubsonicRequests, FormPostsAreBoundedAndEverythingElseIsAnEnvelope) {
  const CatalogLibrary lib;
  RunningServer server(ServerOptions{}, lib.db, 30);
  httplib::Client& c = server.client();
  // The formPost extension's body: urlencoded, of a declared length, at most 1 MB.
  auto json_post = c.Post("/rest/ping", "{\"u\":\"a\"}", "application/json");
  ASSERT_TRUE(json_post);
  EXPECT_EQ(json_post->status, 415);
  auto huge = c.Post("/rest/ping", std::string((1 << 20) + 1, 'a'), "application/x-www-form-urlencoded");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  auto chunked = c.Post("/rest/ping", [](size_t, httplib::DataSink& sink) {
    sink.write("f=json", 6);
    sink.done();
    return true;
  }, "application/x-www-form-urlencoded");
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->status, 411);
  // A form within the limits reaches the dispatcher: its parameters are read (f=json), and an
  // index without users has /rest/ off, said in the envelope.
  auto form = c.Post("/rest/ping.view", "f=json&v=1.16.1&c=test", "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 404);
  const auto body = nlohmann::json::parse(form->body);
  EXPECT_EQ(body["subsonic-response"]["status"], "failed") << form->body;
  EXPECT_NE(body["subsonic-response"]["error"]["message"].get<std::string>().find("clapsearch user add"), std::string::npos);
  // XML unless f=json; the Host rule holds for /rest/ as for everything else.
  auto xml = c.Get("/rest/ping");
  ASSERT_TRUE(xml);
  EXPECT_EQ(xml->get_header_value("Content-Type"), "application/xml; charset=utf-8");
  EXPECT_EQ(xml->body.rfind("<?xml", 0), 0u) << xml->body;
  auto rebound = c.Get("/rest/ping", httplib::Headers{{"Host", "evil.example"}});
  ASSERT_TRUE(rebound);
  EXPECT_EQ(rebound->status, 421);
}

// browse: the orders, search texts and folder membership the browse endpoints read
// (subsonic_browse.cpp, subsonic_lists.cpp), made once per snapshot.
TEST(MusicCatalog, PrecomputesOrdersAndSearchTexts) {
  const CatalogLibrary lib;
  service::LibraryOptions o;
  o.db = lib.db;
  service::Library library(o, service::Access::ReadOnly);
  const auto snap = library.snapshot();
  const service::MusicCatalog& c = snap->music_catalog();
  using service::MusicCatalog;

  // Index letters ignore a leading article and fold accents and case; anything else is "#".
  EXPECT_EQ(MusicCatalog::index_key("The Beatles"), (std::pair<std::string, std::string>{"B", "beatles"}));
  EXPECT_EQ(MusicCatalog::index_key("Ólafur Arnalds").first, "O");
  EXPECT_EQ(MusicCatalog::index_key("65daysofstatic").first, "#");
  EXPECT_EQ(MusicCatalog::index_key("The").first, "T");  // an article alone is the name

  auto album_names = [&](const std::vector<size_t>& order) {
    std::vector<std::string> out;
    for (const size_t a : order) out.push_back(c.albums()[a].name);
    return out;
  };
  EXPECT_EQ(album_names(c.albums_by_name()), (std::vector<std::string>{"[Unknown Album]", "First", "Mix"}));
  EXPECT_EQ(album_names(c.albums_by_artist()), (std::vector<std::string>{"[Unknown Album]", "First", "Mix"}));
  EXPECT_EQ(album_names(c.albums_by_year()).back(), "First");  // the only album with a year
  ASSERT_NE(c.albums_of_genre("Rock"), nullptr);
  EXPECT_EQ(album_names(*c.albums_of_genre("Rock")), (std::vector<std::string>{"First"}));
  EXPECT_EQ(c.albums_of_genre("Polka"), nullptr);

  // Every song once, album by album; the search text of each is its title, artist and album.
  ASSERT_EQ(c.songs().size(), snap->tracks().size());
  for (size_t i = 0; i < c.songs().size(); ++i) {
    const store::Track* t = snap->track(c.songs()[i]);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(c.song_text(i).front(), ' ');
    EXPECT_EQ(c.song_folder(i), c.music_folders()[0].id);
    if (t->album == "Mix") {
      EXPECT_NE(c.song_text(i).find(" mix"), std::string::npos) << c.song_text(i);
    }
  }
  // An artist is in a music folder through its own songs, and through the albums it is the
  // album artist of (a compilation's Various Artists has no song of its own).
  const service::CatalogArtist* various = c.artist(MusicCatalog::artist_id("Various Artists"));
  ASSERT_NE(various, nullptr);
  EXPECT_TRUE(c.artist_songs(c.position_of(*various)).empty());
  EXPECT_TRUE(c.artist_in(c.position_of(*various), c.music_folders()[0].id));
  EXPECT_FALSE(c.artist_in(c.position_of(*various), c.music_folders()[0].id + 1));
  const service::CatalogArtist* band = c.artist(MusicCatalog::artist_id("Band"));
  ASSERT_NE(band, nullptr);
  EXPECT_EQ(c.artist_songs(c.position_of(*band)).size(), 3u);
  EXPECT_EQ(c.artist_text(c.position_of(*band)), " band");
  EXPECT_GT(c.last_modified(), 0);
}

}  // namespace
}  // namespace clap::server::subsonic
