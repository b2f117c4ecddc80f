// R7S-2: a folder of many files through /rest/ (getIndexes, getMusicDirectory, getAlbum), on a
// real server (a thread of this process). The answers used to be built whole as a tree, copied
// twice more, then written (a folder of 100,000 files: 77 MB answered, a 4.3 GB peak); their
// song lists are now written record by record (Call::lazy_list). This checks what they answer —
// every song once, each record as getSong gives it, the same in XML — not their memory
// (bench/runs/2026-11-27-left53s.md measures that).
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/running_server.h"
#include "server/subsonic.h"
#include "server/written_tracks.h"
#include "store/store.h"
#include "support/golden.h"

namespace clap::server {
namespace {

using json = nlohmann::json;
constexpr int kSongs = 3000;

std::string get(int port, const std::string& query) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  auto r = client.Get("/rest/" + query + (query.find('?') == std::string::npos ? "?" : "&") + "v=1.16.1&c=test&u=alice&p=pw");
  if (!r) throw std::runtime_error("no response to " + query);
  return r->body;
}

json rest(int port, const std::string& query) {
  return json::parse(get(port, query + (query.find('?') == std::string::npos ? "?" : "&") + "f=json"))["subsonic-response"];
}

using test_tracks::count_of;

TEST(SubsonicBigFolder, AFolderOfThousandsOfFilesIsAnsweredWholeAndInOrder) {
  // One real file indexed by the CLI (the model and the folder recorded), then the flat folder's
  // other songs written as the indexer writes tracks (no audio: browsing reads only the index).
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  const test_tracks::WrittenIndex x = test_tracks::written_index(
      "subsonic-big-folder", "-metadata album=Flat -metadata artist=Many", kSongs - 1,
      [&](int i, store::Track& t, std::vector<float>& embedding) {
        char name[32];
        std::snprintf(name, sizeof name, "/song%05d.mp3", i);
        t.path += name;
        t.size = 1000 + i;
        t.title = "Song <" + std::to_string(i) + "> & \"more\"";  // escaped in both forms
        t.artist = "Many";
        t.album = "Flat";
        t.track_no = i + 1;
        for (float& v : embedding) v = normal(rng);
      });
  const std::string& db = x.db;

  RunningServer server(ServerOptions{}, db, 60);
  const json indexes = rest(server.port(), "getIndexes");
  ASSERT_EQ(indexes["status"], "ok") << indexes.dump().substr(0, 500);
  const json& songs = indexes["indexes"]["child"];
  ASSERT_EQ(songs.size(), static_cast<size_t>(kSongs)) << indexes.dump().substr(0, 1500);
  std::set<std::string> ids;
  for (const json& song : songs) ids.insert(song["id"].get<std::string>());
  EXPECT_EQ(ids.size(), static_cast<size_t>(kSongs));
  // Each record is the one getSong answers (made by the same code, written another way).
  for (const size_t i : {size_t{0}, size_t{1}, size_t{kSongs / 2}, size_t{kSongs - 1}})
    EXPECT_EQ(songs[i], rest(server.port(), "getSong?id=" + songs[i]["id"].get<std::string>())["song"]) << i;

  const std::string folder = songs[0]["parent"];
  const json directory = rest(server.port(), "getMusicDirectory?id=" + folder)["directory"];
  EXPECT_EQ(directory["child"], songs);
  const json album = rest(server.port(), "getAlbum?id=" + songs[0]["albumId"].get<std::string>())["album"];
  EXPECT_EQ(album["songCount"], kSongs);
  ASSERT_EQ(album["song"].size(), static_cast<size_t>(kSongs));

  // XML: one <child> per song, the texts escaped; the answer parses as the same count.
  for (const std::string& query : {std::string("getIndexes"), "getMusicDirectory?id=" + folder}) {
    const std::string xml = get(server.port(), query);
    EXPECT_EQ(count_of(xml, "<child "), static_cast<size_t>(kSongs)) << query;
    EXPECT_EQ(count_of(xml, "title=\"Song &lt;7&gt; &amp; &quot;more&quot;\""), 1u) << query;
    EXPECT_NE(xml.find("</subsonic-response>"), std::string::npos) << query;
  }
}


// getArtists of many artists, and getIndexes of many folders: their lettered lists are written
// record by record too (hostile pass 9: 100,000 artists as one tree raised the server's peak by
// 230 MB for a 12 MB answer, kept after it). Same answers: every artist once, under its letter,
// each record as getArtist gives it, the same in XML.
TEST(SubsonicBigFolder, ManyArtistsAndFoldersAreWrittenRecordByRecord) {
  constexpr int kArtists = 2000;
  const char* starts[] = {"Alpha", "beta", "The Gamma", "9 Lives", "\xc3\x89" "cho", "\xe2\x9c\x93 Mark"};
  const test_tracks::WrittenIndex x = test_tracks::written_index(
      "subsonic-many-artists", "-metadata album=One -metadata artist=Zed", kArtists, [&](int i, store::Track& t, std::vector<float>&) {
        char name[48];
        std::snprintf(name, sizeof name, "/folder%05d/song.mp3", i);  // a folder each: getIndexes lists them
        t.path += name;
        t.size = 1000 + i;
        t.title = "Song";
        t.artist = std::string(starts[i % 6]) + " <" + std::to_string(i) + "> & \"co\"";
        t.album = "Album " + std::to_string(i);
      });
  const std::string& db = x.db;
  RunningServer server(ServerOptions{}, db, 60);

  const uint64_t made_before = subsonic::lazy_records_made();
  const json artists = rest(server.port(), "getArtists");
  ASSERT_EQ(artists["status"], "ok") << artists.dump().substr(0, 500);
  EXPECT_GE(subsonic::lazy_records_made() - made_before, static_cast<uint64_t>(kArtists + 1));
  std::set<std::string> ids, letters;
  for (const json& letter : artists["artists"]["index"]) {
    EXPECT_TRUE(letters.insert(letter["name"].get<std::string>()).second) << letter["name"] << " twice";
    for (const json& artist : letter["artist"]) {
      EXPECT_TRUE(ids.insert(artist["id"].get<std::string>()).second);
      // "The Gamma" under G (the ignored article), the others under their first letter.
      const std::string name = artist["name"], expected = name.rfind("The ", 0) == 0 ? "G" : name.rfind("9", 0) == 0 ? "#" : "";
      if (!expected.empty()) {
        EXPECT_EQ(letter["name"], expected) << name;
      }
    }
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kArtists + 1));
  const json& first = artists["artists"]["index"][0]["artist"][0];
  json one = rest(server.port(), "getArtist?id=" + first["id"].get<std::string>())["artist"];
  one.erase("album");
  EXPECT_EQ(first, one);
  const std::string xml = get(server.port(), "getArtists");
  EXPECT_EQ(count_of(xml, "<artist "), static_cast<size_t>(kArtists + 1));
  EXPECT_EQ(count_of(xml, "<index "), letters.size());
  EXPECT_EQ(count_of(xml, "name=\"Alpha &lt;0&gt; &amp; &quot;co&quot;\""), 1u);

  const uint64_t made_before_indexes = subsonic::lazy_records_made();
  const json indexes = rest(server.port(), "getIndexes");
  ASSERT_EQ(indexes["status"], "ok");
  EXPECT_GE(subsonic::lazy_records_made() - made_before_indexes, static_cast<uint64_t>(kArtists));
  size_t folders = 0;
  for (const json& letter : indexes["indexes"]["index"]) folders += letter["artist"].size();
  EXPECT_EQ(folders, static_cast<size_t>(kArtists));
  EXPECT_EQ(indexes["indexes"]["child"].size(), 1u);  // real.flac, in the root itself

  // H9S-4: a long lazy answer takes a turn as a long tree does (8 getIndexes of 100,000 songs at
  // once took the server from 1.6 GB to 2.4 GB, the text of each built at once).
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back([&, i] { get(server.port(), i % 2 ? "getIndexes" : "getArtists?f=json"); });
  for (std::thread& t : clients) t.join();
  EXPECT_GE(subsonic::long_answers_peak(), 1);
  EXPECT_LE(subsonic::long_answers_peak(), subsonic::kLongAnswersAtOnce);
}


// H9S-6: an artist of many albums (a "Various Artists" of 100,000 albums: getArtist took the
// server from 1.5 GB to 2.2 GB for a 47 MB answer, and as much again for XML) is written album
// by album, in getArtist and in getMusicDirectory of the artist.
TEST(SubsonicBigFolder, AnArtistOfManyAlbumsIsWrittenAlbumByAlbum) {
  constexpr int kAlbums = 1500;
  const test_tracks::WrittenIndex x = test_tracks::written_index(
      "subsonic-many-albums", "-metadata album=First -metadata artist=Various", kAlbums - 1,
      [&](int i, store::Track& t, std::vector<float>&) {
        t.path += "/album" + std::to_string(i + 1) + ".mp3";
        t.size = 1000 + i + 1;
        t.title = "Song";
        t.artist = "Various";
        t.album = "Album <" + std::to_string(i + 1) + ">";
      });
  const std::string& db = x.db;
  RunningServer server(ServerOptions{}, db, 60);
  const json artists = rest(server.port(), "getArtists");
  const std::string id = artists["artists"]["index"][0]["artist"][0]["id"];
  const uint64_t made_before = subsonic::lazy_records_made();
  const json artist = rest(server.port(), "getArtist?id=" + id)["artist"];
  EXPECT_GE(subsonic::lazy_records_made() - made_before, static_cast<uint64_t>(kAlbums));
  EXPECT_EQ(artist["albumCount"], kAlbums);
  ASSERT_EQ(artist["album"].size(), static_cast<size_t>(kAlbums));
  std::set<std::string> ids;
  for (const json& album : artist["album"]) ids.insert(album["id"].get<std::string>());
  EXPECT_EQ(ids.size(), static_cast<size_t>(kAlbums));
  json one = rest(server.port(), "getAlbum?id=" + artist["album"][7]["id"].get<std::string>())["album"];
  one.erase("song");
  EXPECT_EQ(artist["album"][7], one);
  const uint64_t made_before_directory = subsonic::lazy_records_made();
  const json directory = rest(server.port(), "getMusicDirectory?id=" + id)["directory"];
  EXPECT_GE(subsonic::lazy_records_made() - made_before_directory, static_cast<uint64_t>(kAlbums));
  ASSERT_EQ(directory["child"].size(), static_cast<size_t>(kAlbums));
  EXPECT_EQ(directory["child"][7]["id"], artist["album"][7]["id"]);
  const std::string xml = get(server.port(), "getArtist?id=" + id);
  EXPECT_EQ(count_of(xml, "<album "), static_cast<size_t>(kAlbums));
  EXPECT_EQ(count_of(xml, "name=\"Album &lt;7&gt;\""), 1u);
}

}  // namespace
}  // namespace clap::server
