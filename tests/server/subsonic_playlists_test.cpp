// Hostile pass 9's H9S-7 on the /rest/ server (issue 53), on a real server (a thread of this
// process) over a real index: getPlaylists read every listed playlist again, one store read each
// (with all its entries, and its owner's name), so one user's 100,000 public playlists made every
// user's listing take 36 s; and a user could own any number of playlists.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/running_server.h"
#include "service/user_data.h"
#include "store/sqlite.h"
#include "support/golden.h"

namespace clap::server {
namespace {

using json = nlohmann::json;

class SubsonicPlaylists : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::temp_dir() + "/subsonic-playlists";
    const std::string music = dir_ + "/music";
    // Songs of different lengths (2, 3, 5 s), so that a wrong sum shows.
    test::ffmpeg(music + "/a.flac", "-f lavfi -i \"sine=f=300:d=2\" -metadata title=A -metadata artist=X -metadata album=P");
    test::ffmpeg(music + "/b.flac", "-f lavfi -i \"sine=f=400:d=3\" -metadata title=B -metadata artist=X -metadata album=P");
    test::ffmpeg(music + "/c.flac", "-f lavfi -i \"sine=f=500:d=5\" -metadata title=C -metadata artist=Y -metadata album=Q");
    db_ = dir_ + "/library.db";
    test::index_library(music, db_, test::case_dir("tiny-unfused"));
    std::ofstream(dir_ + "/pw") << "pw\n";
    for (const std::string user : {"alice", "bob", "carol"}) {
      std::string out, err;
      ASSERT_EQ(test::run_cli("user add " + user + " --db " + test::quoted(db_) + " < " + test::quoted(dir_ + "/pw"), &out, &err), 0)
          << err;
    }
  }
  static std::string dir_, db_;
};
std::string SubsonicPlaylists::dir_, SubsonicPlaylists::db_;

void sql(const std::string& db, const std::string& text) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_busy_timeout(h, 10000);
  char* err = nullptr;
  const int rc = sqlite3_exec(h, text.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << "\n" << text.substr(0, 300);
  sqlite3_free(err);
  sqlite3_close(h);
}

// The answer of /rest/QUERY as `user` (JSON; `xml` true: the XML text instead, in "body").
json rest(RunningServer& server, const std::string& user, const std::string& query, bool xml = false) {
  const std::string path = "/rest/" + query + (query.find('?') == std::string::npos ? "?" : "&") + "v=1.16.1&c=test&u=" + user +
                           "&p=pw" + (xml ? "" : "&f=json");
  auto r = server.client().Get(path);
  if (!r) throw std::runtime_error("no response to " + path);
  if (xml) return json{{"body", r->body}};
  return json::parse(r->body)["subsonic-response"];
}

// The song ids of the library, by title.
std::map<std::string, std::string> song_ids(RunningServer& server) {
  std::map<std::string, std::string> out;
  const json found = rest(server, "alice", "search3?query=%22%22");
  for (const json& s : found["searchResult3"]["song"]) out[s["title"]] = s["id"];
  EXPECT_EQ(out.size(), 3u) << found.dump();
  return out;
}

// A new public playlist of `user` holding `songs`; its id.
std::string public_playlist(RunningServer& server, const std::string& user, const std::string& name,
                            const std::vector<std::string>& songs) {
  std::string q = "createPlaylist?name=" + name;
  for (const std::string& s : songs) q += "&songId=" + s;
  const json made = rest(server, user, q);
  EXPECT_EQ(made["status"], "ok") << made.dump();
  const std::string id = made["playlist"]["id"];
  EXPECT_EQ(rest(server, user, "updatePlaylist?playlistId=" + id + "&public=true")["status"], "ok");
  return id;
}

// The statements the index was asked for while answering `user`'s getPlaylists (the server's
// refresher is off: nothing else reads the index meanwhile).
uint64_t reads_of_listing(RunningServer& server, const std::string& user, json* listing) {
  const uint64_t before = store::sql::statements_prepared();
  *listing = rest(server, user, "getPlaylists");
  return store::sql::statements_prepared() - before;
}

// H9S-7: the listing reads every listed playlist's entries with one store read, and each owner's
// name once: the reads it makes do not grow with the playlists listed. What it shows of each
// playlist is what getPlaylist shows of it (songs still in the library counted, their lengths
// summed), in the same form.
TEST_F(SubsonicPlaylists, PlaylistsAreCountedFromOneRead) {
  ServerOptions o;
  o.refresh_ms = 3600 * 1000;  // no refresh reads during the test
  RunningServer server(o, db_, 60);
  const auto ids = song_ids(server);
  ASSERT_EQ(ids.size(), 3u);
  const std::string a = ids.at("A"), b = ids.at("B"), c = ids.at("C");
  ASSERT_EQ(rest(server, "alice", "createPlaylist?name=mine&songId=" + a + "&songId=" + c)["status"], "ok");
  std::vector<std::string> bobs = {public_playlist(server, "bob", "first", {a, b}), public_playlist(server, "bob", "second", {c, c, b})};
  ASSERT_EQ(rest(server, "bob", "createPlaylist?name=private&songId=" + a)["status"], "ok");  // not alice's to see

  json listing;
  reads_of_listing(server, "alice", &listing);  // the user's first request reads what later ones keep
  const uint64_t few = reads_of_listing(server, "alice", &listing);
  const size_t listed = listing["playlists"]["playlist"].size();
  ASSERT_GE(listed, 3u) << listing.dump();
  for (int i = 0; i < 30; ++i) bobs.push_back(public_playlist(server, "bob", "more" + std::to_string(i), {b, a, b}));
  const uint64_t many = reads_of_listing(server, "alice", &listing);
  EXPECT_EQ(many, few) << "getPlaylists of " << listed << " playlists made " << few << " reads, of " << listed + 30 << ": " << many;

  ASSERT_EQ(listing["status"], "ok") << listing.dump();
  const json& list = listing["playlists"]["playlist"];
  ASSERT_EQ(list.size(), listed + 30) << listing.dump();
  std::map<std::string, json> by_name;
  for (const json& p : list) by_name[p["name"]] = p;
  EXPECT_EQ(by_name.count("private"), 0u);
  EXPECT_EQ(by_name["mine"]["owner"], "alice");
  EXPECT_EQ(by_name["mine"]["songCount"], 2);
  EXPECT_EQ(by_name["mine"]["duration"], 7);
  EXPECT_EQ(by_name["first"]["owner"], "bob");
  EXPECT_EQ(by_name["first"]["songCount"], 2);
  EXPECT_EQ(by_name["first"]["duration"], 5);
  EXPECT_EQ(by_name["second"]["songCount"], 3);
  EXPECT_EQ(by_name["second"]["duration"], 13);
  EXPECT_EQ(by_name["more29"]["songCount"], 3);
  EXPECT_EQ(by_name["more29"]["duration"], 8);
  // Each entry as getPlaylist shows the playlist, without its songs.
  for (const json& p : list) {
    json full = rest(server, "alice", "getPlaylist?id=" + p["id"].get<std::string>())["playlist"];
    full.erase("entry");
    EXPECT_EQ(p, full);
  }
  // The XML form lists the same.
  const std::string xml = rest(server, "alice", "getPlaylists", true)["body"];
  EXPECT_NE(xml.find("name=\"second\" owner=\"bob\" public=\"true\" songCount=\"3\" duration=\"13\""), std::string::npos) << xml;
}

// An entry whose song is not in the library (gone, or a track id nothing has) is kept but not
// counted, in the listing as in getPlaylist; a playlist without entries is listed with none.
TEST_F(SubsonicPlaylists, EntriesOfSongsGoneAreNotCounted) {
  ServerOptions o;
  o.refresh_ms = 3600 * 1000;
  RunningServer server(o, db_, 60);
  const auto ids = song_ids(server);
  const std::string made = public_playlist(server, "carol", "gone", {ids.at("B")});
  ASSERT_EQ(rest(server, "carol", "createPlaylist?name=empty")["status"], "ok");
  const std::string number = made.substr(3);
  sql(db_, "INSERT INTO playlist_entries(playlist_id, position, track_id, content_hash, path) VALUES (" + number +
               ", 1, 987654, 'nothing', '/nowhere.flac')");
  const json listing = rest(server, "carol", "getPlaylists?username=carol");
  std::map<std::string, json> by_name;
  for (const json& p : listing["playlists"]["playlist"]) by_name[p["name"]] = p;
  ASSERT_TRUE(by_name.count("gone") && by_name.count("empty")) << listing.dump();
  EXPECT_EQ(by_name["gone"]["songCount"], 1);
  EXPECT_EQ(by_name["gone"]["duration"], 3);
  EXPECT_EQ(by_name["empty"]["songCount"], 0);
  EXPECT_EQ(by_name["empty"]["duration"], 0);
  EXPECT_EQ(rest(server, "carol", "getPlaylist?id=" + made)["playlist"]["songCount"], 1);
}

// A user owns at most service::kMaxPlaylistsPerUser playlists: one more is refused with the spec's
// generic error (code 0) and the bound in the message. Playlists owned past the bound (an index of
// before) are all kept and listed, and the user may still change and delete them.
TEST_F(SubsonicPlaylists, AUserOwnsAtMostTheBoundOfPlaylists) {
  const std::string db = dir_ + "/bounded.db";
  std::filesystem::copy_file(db_, db, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(db_ + ".key", db + ".key", std::filesystem::copy_options::overwrite_existing);
  const int64_t bound = service::kMaxPlaylistsPerUser;
  // dave's playlists, one short of the bound, written as that many createPlaylist calls would.
  {
    std::string out, err;
    ASSERT_EQ(test::run_cli("user add dave --db " + test::quoted(db) + " < " + test::quoted(dir_ + "/pw"), &out, &err), 0) << err;
  }
  sql(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(bound - 1) +
              ") INSERT INTO playlists(owner, name, comment, public, created_at, changed_at) "
              "SELECT (SELECT id FROM users WHERE name = 'dave'), 'old ' || i, '', 0, 1795790000, 1795790000 FROM n");
  ServerOptions o;
  o.refresh_ms = 3600 * 1000;
  RunningServer server(o, db, 60);
  const json last = rest(server, "dave", "createPlaylist?name=last");
  ASSERT_EQ(last["status"], "ok") << last.dump();
  const std::string message = "a user owns at most " + std::to_string(bound) +
                              " playlists (delete one to make another, or add the songs to one already made)";
  const json refused = rest(server, "dave", "createPlaylist?name=one+more");
  EXPECT_EQ(refused["status"], "failed") << refused.dump();
  EXPECT_EQ(refused["error"]["code"], 0) << refused.dump();
  EXPECT_EQ(refused["error"]["message"], message) << refused.dump();
  const std::string xml = rest(server, "dave", "createPlaylist?name=one+more", true)["body"];
  EXPECT_NE(xml.find("<error code=\"0\" message=\"" + message + "\"/>"), std::string::npos) << xml;
  // Another user is not bound by dave's playlists.
  EXPECT_EQ(rest(server, "alice", "createPlaylist?name=hers")["status"], "ok");

  // Past the bound (written before it existed): nothing is deleted, a new one is still refused,
  // and the playlists held are changed, replaced and deleted as before.
  sql(db, "INSERT INTO playlists(owner, name, comment, public, created_at, changed_at) SELECT owner, 'past ' || id, '', 0, 1, 1 "
          "FROM playlists WHERE owner = (SELECT id FROM users WHERE name = 'dave') ORDER BY id LIMIT 3");
  const json listing = rest(server, "dave", "getPlaylists");
  ASSERT_EQ(listing["status"], "ok") << listing.dump().substr(0, 300);
  EXPECT_EQ(listing["playlists"]["playlist"].size(), static_cast<size_t>(bound + 3));
  EXPECT_EQ(rest(server, "dave", "createPlaylist?name=still+not")["error"]["code"], 0);
  const std::string id = last["playlist"]["id"];
  EXPECT_EQ(rest(server, "dave", "updatePlaylist?playlistId=" + id + "&name=renamed")["status"], "ok");
  EXPECT_EQ(rest(server, "dave", "createPlaylist?playlistId=" + id + "&name=replaced")["status"], "ok");
  EXPECT_EQ(rest(server, "dave", "deletePlaylist?id=" + id)["status"], "ok");
  EXPECT_EQ(rest(server, "dave", "getPlaylists")["playlists"]["playlist"].size(), static_cast<size_t>(bound + 2));
  EXPECT_EQ(rest(server, "dave", "createPlaylist?name=still+not")["error"]["code"], 0);  // bound + 2 owned
}


// getPlaylists?username=bob by an admin lists bob's playlists (his private ones too) from a read of
// his alone: the rows it reads do not grow with other users' playlists and entries (it read
// every user's playlists and entries, then kept bob's).
TEST_F(SubsonicPlaylists, AnAdminsListingOfAUsersPlaylistsReadsOnlyTheirs) {
  const std::string db = dir_ + "/admin.db";
  std::filesystem::copy_file(db_, db, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(db_ + ".key", db + ".key", std::filesystem::copy_options::overwrite_existing);
  {
    std::string out, err;
    ASSERT_EQ(test::run_cli("user add root --admin --db " + test::quoted(db) + " < " + test::quoted(dir_ + "/pw"), &out, &err), 0) << err;
  }
  ServerOptions o;
  o.refresh_ms = 3600 * 1000;  // no refresh reads during the test
  RunningServer server(o, db, 60);
  const auto ids = song_ids(server);
  ASSERT_EQ(ids.size(), 3u);
  public_playlist(server, "bob", "bobs-open", {ids.at("A"), ids.at("B")});
  ASSERT_EQ(rest(server, "bob", "createPlaylist?name=bobs-closed&songId=" + ids.at("C"))["status"], "ok");
  public_playlist(server, "carol", "carols", {ids.at("A")});
  auto rows_of_listing = [&](json* listing) {
    const uint64_t before = store::sql::rows_stepped();
    *listing = rest(server, "root", "getPlaylists?username=bob");
    return store::sql::rows_stepped() - before;
  };
  json listing;
  rows_of_listing(&listing);  // the user's first request reads what later ones keep
  const uint64_t few = rows_of_listing(&listing);
  // Carol's 300 more public playlists of 3 entries each, written as createPlaylist would.
  sql(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
          "INSERT INTO playlists(owner, name, comment, public, created_at, changed_at) "
          "SELECT (SELECT id FROM users WHERE name = 'carol'), 'spam ' || i, '', 1, 1795790000, 1795790000 FROM n; "
          "INSERT INTO playlist_entries(playlist_id, position, track_id, content_hash, path) "
          "SELECT p.id, k.k, e.track_id, e.content_hash, e.path FROM playlists p, (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) k, "
          "(SELECT track_id, content_hash, path FROM playlist_entries LIMIT 1) e WHERE p.name LIKE 'spam %'");
  const uint64_t many = rows_of_listing(&listing);
  EXPECT_EQ(many, few) << "getPlaylists?username=bob read " << few << " rows, with carol's 300 more playlists " << many;
  ASSERT_EQ(listing["status"], "ok") << listing.dump();
  std::map<std::string, json> by_name;
  for (const json& p : listing["playlists"]["playlist"]) by_name[p["name"]] = p;
  EXPECT_EQ(by_name.size(), 2u) << listing.dump();
  EXPECT_EQ(by_name["bobs-open"]["owner"], "bob");
  EXPECT_EQ(by_name["bobs-open"]["songCount"], 2);
  EXPECT_EQ(by_name["bobs-open"]["duration"], 5);
  EXPECT_EQ(by_name["bobs-closed"]["public"], false);
  EXPECT_EQ(by_name["bobs-closed"]["duration"], 5);
  // Not an admin: another user's playlists are not theirs to list.
  EXPECT_EQ(rest(server, "carol", "getPlaylists?username=bob")["error"]["code"], 50);
}

// A song whose stored length no audio has (a damaged index: 1e300 s, or -5 s) counts as a song of
// unknown length, 0 s, in every record: the playlist's sum (before: -4 s added for the negative
// one), the song's own duration and bit rate (before: bitRate 0 for the 1e300 s one), its album's
// length, a sum through the catalog (before: album P of 2 s + 1e300 s was 0 s, an undefined lround).
// The server still serves the index, whose damage `status` names.
TEST_F(SubsonicPlaylists, ADurationNoAudioHasCountsNothing) {
  const std::string db = dir_ + "/lengths.db";
  std::filesystem::copy_file(db_, db, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(db_ + ".key", db + ".key", std::filesystem::copy_options::overwrite_existing);
  sql(db, "UPDATE tracks SET duration_s = 1e300 WHERE title = 'B'; UPDATE tracks SET duration_s = -5 WHERE title = 'C'");
  ServerOptions o;
  o.refresh_ms = 3600 * 1000;
  RunningServer server(o, db, 60);
  const auto ids = song_ids(server);
  ASSERT_EQ(ids.size(), 3u);
  const json made = rest(server, "alice", "createPlaylist?name=lengths&songId=" + ids.at("A") + "&songId=" + ids.at("B") +
                                              "&songId=" + ids.at("C"));
  ASSERT_EQ(made["status"], "ok") << made.dump();
  EXPECT_EQ(made["playlist"]["songCount"], 3) << made.dump();
  EXPECT_EQ(made["playlist"]["duration"], 2) << made.dump();  // A's 2 s; B and C unknown
  const json listing = rest(server, "alice", "getPlaylists");
  bool listed = false;
  for (const json& p : listing["playlists"]["playlist"])
    if (p["name"] == "lengths") {
      listed = true;
      EXPECT_EQ(p["duration"], 2) << p.dump();
    }
  EXPECT_TRUE(listed) << listing.dump();
  for (const std::string title : {"B", "C"}) {
    const json song = rest(server, "alice", "getSong?id=" + ids.at(title))["song"];
    EXPECT_EQ(song["duration"], 0) << title << ": " << song.dump();
    EXPECT_FALSE(song.contains("bitRate")) << title << ": " << song.dump();
    const json album = rest(server, "alice", "getAlbum?id=" + song["albumId"].get<std::string>())["album"];
    EXPECT_EQ(album["duration"], title == "B" ? 2 : 0) << album.dump();  // P: A's 2 s and B's nothing
  }
}

}  // namespace
}  // namespace clap::server
