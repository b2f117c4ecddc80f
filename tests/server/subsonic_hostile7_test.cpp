// Hostile pass 7 on the /rest/ server (issue 53), on a real server (a thread of this process) over
// a real index: concurrent writes to one playlist keep every change; the lists whose count the
// client names are bounded; a search query that is not text is refused. Its rough edges (R7S):
// only the ids the server issued name something; a kept player name must be text; a file link
// out of the library says so when played.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <vector>

#include "server/running_server.h"
#include "support/golden.h"

namespace clap::server {
namespace {

using json = nlohmann::json;

class SubsonicHostile7 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = test::temp_dir() + "/subsonic-hostile7", music = dir + "/music";
    db_ = dir + "/library.db";
    for (int i = 1; i <= 3; ++i)
      test::ffmpeg(music + "/s" + std::to_string(i) + ".flac",
                   "-f lavfi -i \"sine=f=" + std::to_string(300 + 100 * i) + ":d=3\" -metadata title=Song" + std::to_string(i) +
                       " -metadata artist=Band -metadata album=Disc");
    test::index_library(music, db_, test::case_dir("tiny-unfused"));
    std::ofstream(dir + "/pw") << "pw\n";
    std::string out, err;
    ASSERT_EQ(test::run_cli("user add alice --db " + test::quoted(db_) + " < " + test::quoted(dir + "/pw"), &out, &err), 0) << err;
  }
  static std::string db_;
};
std::string SubsonicHostile7::db_;

// Each call on a connection of its own: these run at once.
json rest_get(int port, const std::string& query) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);
  auto r = client.Get("/rest/" + query + "&f=json&v=1.16.1&c=test&u=alice&p=pw");
  if (!r) throw std::runtime_error("no response to " + query);
  const json body = json::parse(r->body, nullptr, false);
  if (!body.contains("subsonic-response")) throw std::runtime_error(query.substr(0, 60) + ": " + r->body.substr(0, 300));
  return body["subsonic-response"];
}

// H7S-1: updatePlaylist read the playlist, changed it and wrote it back in separate steps, so of
// two updates at once each adding a song, one song was lost (30 adds at once kept 25, every
// one answered "ok"). Three rounds of 24 at once: every song added is kept.
TEST_F(SubsonicHostile7, UpdatesOfOnePlaylistAtOnceKeepEveryChange) {
  RunningServer server(ServerOptions{}, db_, 30);
  const json made = rest_get(server.port(), "createPlaylist?name=together");
  ASSERT_EQ(made["status"], "ok") << made.dump();
  const std::string id = made["playlist"]["id"];
  constexpr int kAtOnce = 24, kRounds = 3;
  for (int round = 1; round <= kRounds; ++round) {
    std::vector<std::future<json>> adds;
    for (int i = 0; i < kAtOnce; ++i)
      adds.push_back(std::async(std::launch::async, [&, i] {
        return rest_get(server.port(), "updatePlaylist?playlistId=" + id + "&songIdToAdd=" + std::to_string(1 + i % 3));
      }));
    for (auto& a : adds) EXPECT_EQ(a.get()["status"], "ok");
    EXPECT_EQ(rest_get(server.port(), "getPlaylist?id=" + id)["playlist"]["songCount"], round * kAtOnce) << "round " << round;
  }
  // Removals at once, each of the first song shown: each removes one.
  std::vector<std::future<json>> removes;
  for (int i = 0; i < 10; ++i)
    removes.push_back(std::async(std::launch::async, [&] {
      return rest_get(server.port(), "updatePlaylist?playlistId=" + id + "&songIndexToRemove=0");
    }));
  for (auto& r : removes) EXPECT_EQ(r.get()["status"], "ok");
  EXPECT_EQ(rest_get(server.port(), "getPlaylist?id=" + id)["playlist"]["songCount"], kRounds * kAtOnce - 10);
  // The checks still come first: a position past the end changes nothing.
  const json past = rest_get(server.port(), "updatePlaylist?playlistId=" + id + "&songIndexToRemove=999&songIdToAdd=1");
  EXPECT_EQ(past["status"], "failed") << past.dump();
  EXPECT_EQ(rest_get(server.port(), "getPlaylist?id=" + id)["playlist"]["songCount"], kRounds * kAtOnce - 10);
  EXPECT_EQ(rest_get(server.port(), "updatePlaylist?playlistId=pl-999999&songIdToAdd=1")["error"]["code"], 70);
}

// H7S-2: search2/search3 took any songCount, artistCount and albumCount: songCount=1000000000
// over 100,000 songs answered 70 MB and held 0.5-0.8 GB while it was built; getTopSongs' count
// likewise. Each list now stops at ServerOptions::max_list_items (5,000), here 2.
TEST_F(SubsonicHostile7, ListsWhoseCountTheClientNamesAreBounded) {
  ServerOptions o;
  o.max_list_items = 2;
  RunningServer server(o, db_, 30);
  const json all = rest_get(server.port(), "search3?query=&songCount=1000000000&albumCount=1000000000&artistCount=1000000000");
  ASSERT_EQ(all["status"], "ok") << all.dump();
  EXPECT_EQ(all["searchResult3"]["song"].size(), 2u) << all.dump();
  const json next = rest_get(server.port(), "search2?query=song&songCount=1000000000&songOffset=2");
  EXPECT_EQ(next["searchResult2"]["song"].size(), 1u) << next.dump();  // the offsets page on
  EXPECT_EQ(rest_get(server.port(), "getTopSongs?artist=Band&count=1000000000")["topSongs"]["song"].size(), 2u);
}

// H7S-4: a query of bytes that are not UTF-8 folded to no word, the empty query, and answered a
// page of the whole library as if it matched.
TEST_F(SubsonicHostile7, ASearchQueryThatIsNotTextIsRefused) {
  RunningServer server(ServerOptions{}, db_, 30);
  for (const std::string endpoint : {"search2", "search3"}) {
    const json r = rest_get(server.port(), endpoint + "?query=%FF%FE");
    EXPECT_EQ(r["status"], "failed") << r.dump();
    EXPECT_EQ(r.value("error", json::object()).value("message", ""), "parameter query: not valid UTF-8") << r.dump();
  }
  EXPECT_EQ(rest_get(server.port(), "search3?query=")["searchResult3"]["song"].size(), 3u);  // "" is everything, as before
}

// H7S-5: getPlaylists compared `username` with the stored name byte for byte, while sign-in and
// getUser match names as they look (service::user_name_key): a user signed in as "ALICE" who asked
// for ALICE's playlists was answered 50, "not authorized", for their own.
TEST_F(SubsonicHostile7, AUserAsksForTheirOwnPlaylistsInAnySpellingOfTheirName) {
  RunningServer server(ServerOptions{}, db_, 30);
  ASSERT_EQ(rest_get(server.port(), "createPlaylist?name=mine")["status"], "ok");
  for (const std::string name : {"alice", "ALICE", "Alice"}) {
    httplib::Client client("127.0.0.1", server.port());
    auto r = client.Get("/rest/getPlaylists?f=json&v=1.16.1&c=test&u=" + name + "&p=pw&username=" + name);
    ASSERT_TRUE(r);
    const json body = json::parse(r->body)["subsonic-response"];
    EXPECT_EQ(body["status"], "ok") << name << ": " << r->body;
    bool mine = false;
    for (const json& p : body.value("playlists", json::object()).value("playlist", json::array())) mine |= p["name"] == "mine";
    EXPECT_TRUE(mine) << name << ": " << r->body;
  }
  EXPECT_EQ(rest_get(server.port(), "getPlaylists?username=nobody")["error"]["code"], 50);  // others' still need an admin
}

// R7S-4: a song id with leading zeros ("02") named song 2, and so did a playlist's ("pl-01") and
// a music folder's ("01"): ids are opaque strings, and one the server never issued is "not
// found" (70) wherever an id is read: song routes, stars, scrobbles, bookmarks, the play queue,
// playlists, music folders.
TEST_F(SubsonicHostile7, OnlyTheIdsTheServerIssuedNameSomething) {
  RunningServer server(ServerOptions{}, db_, 30);
  const json songs = rest_get(server.port(), "search3?query=");
  ASSERT_EQ(songs["status"], "ok") << songs.dump();
  const std::string song = songs["searchResult3"]["song"][0]["id"];
  ASSERT_EQ(rest_get(server.port(), "getSong?id=" + song)["status"], "ok");
  for (const std::string& other : {"0" + song, "00" + song, "%2B" + song, "%20" + song, song + "%20", "0x" + song}) {
    // savePlayQueue with its required `current` (a valid id): a missing parameter is said first.
    for (const std::string& call : std::vector<std::string>{"getSong?id=", "star?id=", "scrobble?id=", "createBookmark?position=1&id=",
                                    "savePlayQueue?current=" + song + "&id=", "getSimilarSongs?id=", "getAlbumInfo?id="}) {
      const json r = rest_get(server.port(), call + other);
      EXPECT_EQ(r.value("error", json::object()).value("code", -1), 70) << call << other << ": " << r.dump();
    }
  }
  const json made = rest_get(server.port(), "createPlaylist?name=ids&songId=" + song);
  ASSERT_EQ(made["status"], "ok") << made.dump();
  const std::string playlist = made["playlist"]["id"];  // "pl-N"
  ASSERT_EQ(playlist.rfind("pl-", 0), 0u) << playlist;
  const std::string aliased = "pl-0" + playlist.substr(3);
  EXPECT_EQ(rest_get(server.port(), "getPlaylist?id=" + aliased)["error"]["code"], 70);
  EXPECT_EQ(rest_get(server.port(), "updatePlaylist?playlistId=" + aliased + "&name=x")["error"]["code"], 70);
  EXPECT_EQ(rest_get(server.port(), "deletePlaylist?id=" + aliased)["error"]["code"], 70);
  EXPECT_EQ(rest_get(server.port(), "getPlaylist?id=" + playlist)["playlist"]["name"], "ids");  // untouched
  const json folders = rest_get(server.port(), "getMusicFolders?");
  const std::string folder = std::to_string(folders["musicFolders"]["musicFolder"][0]["id"].get<int>());
  EXPECT_EQ(rest_get(server.port(), "getIndexes?musicFolderId=" + folder)["status"], "ok");
  for (const std::string& other : std::vector<std::string>{"0" + folder, "%2B" + folder, "%20" + folder, "x"})
    for (const std::string call : {"getIndexes", "getArtists", "getStarred2", "getAlbumList2?type=newest"}) {
      const std::string q = call + (call.find('?') == std::string::npos ? "?" : "&") + "musicFolderId=" + other;
      EXPECT_EQ(rest_get(server.port(), q).value("error", json::object()).value("code", -1), 70) << q;
    }
}

// R7S-3: scrobble (submission=false) kept a player name (c) that is not UTF-8 or holds a NUL for
// getNowPlaying, while savePlayQueue refused the same value: both refuse it now, naming `c`.
TEST_F(SubsonicHostile7, APlayerNameThatIsNotTextIsRefusedWhereverItIsKept) {
  RunningServer server(ServerOptions{}, db_, 30);
  const std::string song = rest_get(server.port(), "search3?query=")["searchResult3"]["song"][0]["id"];
  const auto call = [&](const std::string& query, const std::string& client) {
    httplib::Client http("127.0.0.1", server.port());
    auto r = http.Get("/rest/" + query + "&f=json&v=1.16.1&u=alice&p=pw&c=" + client);
    if (!r) throw std::runtime_error("no response to " + query);
    return json::parse(r->body)["subsonic-response"];
  };
  for (const auto& [client, reason] : std::vector<std::pair<std::string, std::string>>{
           {"%FFplayer", "not valid UTF-8"}, {"a%00b", "holds a NUL character"},
           // Hostile pass 9 (H9S-1): an escape sequence in a player name, shown to every user.
           {"x%1B%5B31mred", "holds a control character"}, {"a%7F", "holds a control character"},
           {"a%0Ab", "holds a control character"}}) {
    for (const std::string& query : {"scrobble?submission=false&id=" + song, "savePlayQueue?id=" + song + "&current=" + song}) {
      const json r = call(query, client);
      EXPECT_EQ(r.value("error", json::object()).value("message", ""), "parameter c: " + reason) << query << ": " << r.dump();
    }
  }
  const json shown = call("getNowPlaying?", "x");
  for (const json& e : shown.value("nowPlaying", json::object()).value("entry", json::array()))
    EXPECT_EQ(e.value("playerName", ""), "") << shown.dump();  // nothing was kept
  // A bookmark's comment likewise, though it may hold line breaks and tabs.
  for (const char* comment : {"x%1B%5B2J", "a%7F", "a%08b"}) {
    const json r = call("createBookmark?position=1&id=" + song + "&comment=" + std::string(comment), "x");
    EXPECT_EQ(r.value("error", json::object()).value("message", ""), "parameter comment: holds a control character") << comment << r.dump();
  }
  EXPECT_EQ(call("createBookmark?position=1&id=" + song + "&comment=line%0D%0Aand%09tab", "x")["status"], "ok");
  EXPECT_EQ(call("scrobble?submission=false&id=" + song, "caf%C3%A9")["status"], "ok");  // text is kept
  EXPECT_EQ(call("getNowPlaying?", "x")["nowPlaying"]["entry"][0]["playerName"], "caf\xC3\xA9");
}

// R7S-1: a file link inside the library to a file outside it is indexed (the indexer follows
// links) and never served; stream said "a symbolic link now", as if it had been swapped since.
// The reason now says what it is, without saying where it leads.
TEST(SubsonicRough7, AFileLinkOutOfTheLibrarySaysSoWhenPlayed) {
  const std::string dir = test::temp_dir() + "/subsonic-rough7-links", music = dir + "/music", db = dir + "/library.db";
  std::filesystem::remove_all(dir);
  test::ffmpeg(music + "/in.flac", "-f lavfi -i \"sine=f=500:d=3\" -metadata title=Inside");
  test::ffmpeg(dir + "/outside/real.flac", "-f lavfi -i \"sine=f=700:d=3\" -metadata title=Outside");
  std::filesystem::create_symlink(dir + "/outside/real.flac", music + "/link-out.flac");
  // Indexed only when allowed since (R7S-1, LinksOut.*); a server without the opt-in refuses it.
  test::index_library(music, db, test::case_dir("tiny-unfused"), "--follow-links-out");
  std::ofstream(dir + "/pw") << "pw\n";
  std::string out, err;
  ASSERT_EQ(test::run_cli("user add alice --db " + test::quoted(db) + " < " + test::quoted(dir + "/pw"), &out, &err), 0) << err;
  RunningServer server(ServerOptions{}, db, 30);
  std::string outside_id;
  const json all = rest_get(server.port(), "search3?query=");
  for (const json& song : all["searchResult3"]["song"])
    if (song["title"] == "Outside") outside_id = song["id"];
  ASSERT_FALSE(outside_id.empty()) << all.dump();
  const json r = rest_get(server.port(), "stream?id=" + outside_id);
  EXPECT_EQ(r.value("error", json::object()).value("code", -1), 70) << r.dump();
  const std::string message = r.value("error", json::object()).value("message", "");
  EXPECT_NE(message.find("link-out.flac: a link to a file outside the library (not served)"), std::string::npos) << message;
  EXPECT_EQ(message.find("outside/real.flac"), std::string::npos) << message;  // never where it leads
}

}  // namespace
}  // namespace clap::server
