// The daily mixes as Subsonic playlists (issue 55): `clapsearch mix` (a real process) saves them
// as the user's playlists, which a real server (a thread of this process) lists through
// /rest/getPlaylists to that user, with their songs and reasons, and to nobody else; and the
// For you routes of /api/ (users, taste, mixes) answer what `clapsearch taste` and `mix` print.
#include <gtest/gtest.h>
#include <httplib.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <tuple>
#include <utility>
#include <nlohmann/json.hpp>

#include "server/running_server.h"
#include "support/golden.h"
#include "support/taste_library.h"

namespace clap::server {
namespace {

using json = nlohmann::json;

json rest(RunningServer& server, const std::string& query) {
  auto r = server.client().Get("/rest/" + query + "&f=json&v=1.16.1&c=test");
  if (!r) throw std::runtime_error("no response to " + query);
  EXPECT_EQ(r->status, 200) << query << ": " << r->body;
  return json::parse(r->body)["subsonic-response"];
}

// An index with users ann (plays of two clusters, her mixes saved by a real `clapsearch mix`,
// whose --json answer is kept) and bob (no history): made once (a shared fixture), and copied for
// each test, which may write to it (the server re-attaches references, an app edits a playlist).
struct MixedIndex {
  std::string db;
  json mix;  // `clapsearch mix --user ann --size 6 --json`
};
MixedIndex mixed_index(const std::string& test_name) {
  const std::string fixture = test::shared_fixture("mix-playlists", [](const std::string& dir) {
    const std::string db = dir + "/library.db";
    test::ffmpeg(dir + "/music/real.flac", "-f lavfi -i \"sine=f=440:d=4\" -metadata title=Real");
    test::index_library(dir + "/music", db, test::case_dir("tiny-unfused"));
    const test::TasteLibrary tracks = test::write_taste_library(db, store::ModelIdentity{});
    std::ofstream(dir + "/pw") << "open sesame\n";
    for (const char* name : {"ann", "bob"}) {
      std::string err;
      ASSERT_EQ(test::run_cli(std::string("user add ") + name + " --db " + test::quoted(db) + " < " + test::quoted(dir + "/pw"),
                              nullptr, &err),
                0)
          << err;
    }
    {
      auto st = store::open_store(db, store::OpenMode::ReadWrite);
      const int64_t now = static_cast<int64_t>(std::time(nullptr));
      test::add_user_plays(*st, "ann", std::vector<int64_t>(tracks.a.begin(), tracks.a.begin() + 8), 3, now - 10 * 86400);
      test::add_user_plays(*st, "ann", std::vector<int64_t>(tracks.b.begin(), tracks.b.begin() + 8), 2, now - 10 * 86400);
    }
    std::string out, err;
    ASSERT_EQ(test::run_cli("mix --user ann --size 6 --json --db " + test::quoted(db), &out, &err,
                            "HF_HOME=" + test::quoted(dir + "/hf")),
              0)
        << err;
    std::ofstream(dir + "/mix.json") << out;
  });
  const std::string dir = test::temp_dir() + "/" + test_name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& f : std::filesystem::directory_iterator(fixture))
    if (f.path().filename().string().rfind("library.db", 0) == 0) std::filesystem::copy(f.path(), dir / f.path().filename());
  std::ifstream mix(fixture + "/mix.json");
  return {dir + "/library.db", json::parse(mix)};
}

TEST(MixPlaylists, TheUsersMixesAreTheirPlaylistsOnRestAndNobodyElses) {
  RunningServer server(ServerOptions{}, mixed_index("mix-playlists-rest").db, 30);
  const json ann = rest(server, "getPlaylists.view?u=ann&p=open%20sesame");
  ASSERT_EQ(ann["playlists"]["playlist"].size(), 2u) << ann.dump(1);
  for (const json& p : ann["playlists"]["playlist"]) {
    EXPECT_EQ(p["name"].get<std::string>().rfind("Mix ", 0), 0u) << p.dump();
    EXPECT_EQ(p["owner"], "ann");
    EXPECT_EQ(p["songCount"], 6);
    EXPECT_EQ(p["public"], false);
    const std::string id = p["id"].is_string() ? p["id"].get<std::string>() : p["id"].dump();
    const json one = rest(server, "getPlaylist.view?u=ann&p=open%20sesame&id=" + id);
    EXPECT_EQ(one["playlist"]["entry"].size(), 6u) << one.dump(1);
    EXPECT_NE(one["playlist"]["comment"].get<std::string>().find("\n1. "), std::string::npos) << one.dump(1);
    // Bob sees neither the list nor the playlist.
    const json theirs = rest(server, "getPlaylist.view?u=bob&p=open%20sesame&id=" + id);
    EXPECT_EQ(theirs["status"], "failed") << theirs.dump(1);
  }
  const json bob = rest(server, "getPlaylists.view?u=bob&p=open%20sesame");
  EXPECT_TRUE(!bob["playlists"].contains("playlist") || bob["playlists"]["playlist"].empty()) << bob.dump(1);
}

}  // namespace
}  // namespace clap::server

namespace clap::server {
namespace {

// GET `path` on the server: its status and JSON body.
std::pair<int, json> api(RunningServer& server, const std::string& path) {
  auto r = server.client().Get(path);
  if (!r) throw std::runtime_error("no response to " + path);
  return {r->status, json::parse(r->body)};
}

TEST(ForYouApi, TasteAndMixesAnswerWhatTheCliPrintsAndRefuseUnclearUsersByName) {
  const MixedIndex x = mixed_index("for-you-api");
  RunningServer server(ServerOptions{}, x.db, 30);

  const json users = server.get_json("/api/users");
  EXPECT_EQ(users["users"], json::array({"ann", "bob"})) << users.dump();
  EXPECT_TRUE(users["default"].is_null()) << users.dump();

  // The refusals name the input and the reason.
  for (const std::string route : {"taste", "mixes"}) {
    auto [status, body] = api(server, "/api/" + route);
    EXPECT_EQ(status, 400) << body.dump();
    EXPECT_NE(body["detail"].get<std::string>().find("ann, bob"), std::string::npos) << body.dump();
    EXPECT_NE(body["detail"].get<std::string>().find("?user=NAME"), std::string::npos) << body.dump();
    std::tie(status, body) = api(server, "/api/" + route + "?user=nobody");
    EXPECT_EQ(status, 404) << body.dump();
    EXPECT_EQ(body["error"], "unknown user") << body.dump();
    EXPECT_NE(body["detail"].get<std::string>().find("no user named 'nobody'"), std::string::npos) << body.dump();
    std::tie(status, body) = api(server, "/api/" + route + "?user=");
    EXPECT_EQ(status, 400) << body.dump();
    EXPECT_EQ(body["detail"].get<std::string>().rfind("user", 0), 0u) << body.dump();
  }
  for (const std::string bad : {"nearest=101", "max_centres=0", "half_life=0", "nearest=abc"}) {
    auto [status, body] = api(server, "/api/taste?user=ann&" + bad);
    EXPECT_EQ(status, 400) << bad << ": " << body.dump();
    EXPECT_EQ(body["detail"].get<std::string>().rfind(bad.substr(0, bad.find('=')), 0), 0u) << body.dump();
  }

  // Ann's taste: what `clapsearch taste --json` lists.
  std::string out, err;
  ASSERT_EQ(test::run_cli("taste --user ann --json --db " + test::quoted(x.db), &out, &err), 0) << err;
  const json cli_taste = json::parse(out);
  const json taste = server.get_json("/api/taste?user=ann");
  EXPECT_EQ(taste["user"], "ann");
  EXPECT_EQ(taste["plays"], cli_taste["plays"]);
  ASSERT_EQ(taste["centres"].size(), 2u) << taste.dump(1);
  ASSERT_EQ(taste["centres"].size(), cli_taste["centres"].size());
  for (size_t i = 0; i < taste["centres"].size(); ++i) {
    const json &c = taste["centres"][i], &want = cli_taste["centres"][i];
    EXPECT_EQ(c["label"], want["label"]);
    EXPECT_EQ(c["weight"], want["weight"]);
    EXPECT_EQ(c["size"], want["size"]);
    EXPECT_EQ(c["top_artists"], want["top_artists"]);
    ASSERT_EQ(c["tracks"].size(), want["tracks"].size());
    for (size_t j = 0; j < c["tracks"].size(); ++j) {
      EXPECT_EQ(c["tracks"][j]["track_id"], want["tracks"][j]["id"]);
      EXPECT_EQ(c["tracks"][j]["plays"], want["tracks"][j]["plays"]);
    }
    // Placed on the map as /api/map places tracks (the same projection).
    EXPECT_TRUE(c["map"].is_object()) << c.dump();
  }

  // Ann's mixes: what `clapsearch mix --json` made and saved, each song with its reason.
  const json mixes = server.get_json("/api/mixes?user=ann");
  EXPECT_EQ(mixes["user"], "ann");
  ASSERT_EQ(mixes["mixes"].size(), x.mix["mixes"].size()) << mixes.dump(1);
  for (size_t i = 0; i < mixes["mixes"].size(); ++i) {
    const json &m = mixes["mixes"][i], &want = x.mix["mixes"][i];
    EXPECT_EQ(m["name"], want["name"]);
    EXPECT_EQ(m["playlist_id"], want["playlist_id"]);
    EXPECT_EQ(m["missing"], 0);
    ASSERT_EQ(m["tracks"].size(), want["tracks"].size());
    for (size_t j = 0; j < m["tracks"].size(); ++j) {
      EXPECT_EQ(m["tracks"][j]["track_id"], want["tracks"][j]["id"]);
      EXPECT_EQ(m["tracks"][j]["reason"], want["tracks"][j]["reason"]);
      EXPECT_FALSE(m["tracks"][j]["reason"].get<std::string>().empty());
    }
  }

  // A mix edited in an app (its first song removed): each song left keeps its own reason.
  std::string first;  // its Subsonic id
  const json lists = rest(server, "getPlaylists.view?u=ann&p=open%20sesame");
  for (const json& p : lists["playlists"]["playlist"])
    if (p["name"] == x.mix["mixes"][0]["name"]) first = p["id"].is_string() ? p["id"].get<std::string>() : p["id"].dump();
  ASSERT_FALSE(first.empty()) << lists.dump(1);
  const json edited = rest(server, "updatePlaylist.view?u=ann&p=open%20sesame&playlistId=" + first + "&songIndexToRemove=0");
  EXPECT_EQ(edited["status"], "ok") << edited.dump();
  const json after = server.get_json("/api/mixes?user=ann");
  const json& songs = after["mixes"][0]["tracks"];
  ASSERT_EQ(songs.size() + 1, x.mix["mixes"][0]["tracks"].size()) << after.dump(1);
  for (size_t j = 0; j < songs.size(); ++j) {
    EXPECT_EQ(songs[j]["track_id"], x.mix["mixes"][0]["tracks"][j + 1]["id"]);
    EXPECT_EQ(songs[j]["reason"], x.mix["mixes"][0]["tracks"][j + 1]["reason"]);
  }

  // Bob has no history: an empty taste and no mixes, not an error.
  const json bob = server.get_json("/api/taste?user=bob");
  EXPECT_EQ(bob["plays"], 0);
  EXPECT_TRUE(bob["centres"].empty());
  EXPECT_TRUE(server.get_json("/api/mixes?user=BOB")["mixes"].empty());  // names match in any case
}

TEST(ForYouApi, AnIndexWithoutUsersSaysHowToAddOne) {
  const std::string dir = test::temp_dir() + "/for-you-no-users", db = dir + "/library.db";
  std::filesystem::remove_all(dir);
  test::ffmpeg(dir + "/music/one.flac", "-f lavfi -i \"sine=f=330:d=3\"");
  test::index_library(dir + "/music", db, test::case_dir("tiny-unfused"));
  RunningServer server(ServerOptions{}, db, 30);
  const json users = server.get_json("/api/users");
  EXPECT_TRUE(users["users"].empty());
  EXPECT_TRUE(users["default"].is_null());
  for (const std::string route : {"taste", "mixes"}) {
    auto [status, body] = api(server, "/api/" + route);
    EXPECT_EQ(status, 404) << body.dump();
    EXPECT_NE(body["detail"].get<std::string>().find("clapsearch user add"), std::string::npos) << body.dump();
  }
}

}  // namespace
}  // namespace clap::server
