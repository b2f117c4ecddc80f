// The daily mixes as Subsonic playlists (issue 55): `clapsearch mix` (a real process) saves them
// as the user's playlists, which a real server (a thread of this process) lists through
// /rest/getPlaylists to that user, with their songs and reasons, and to nobody else.
#include <gtest/gtest.h>
#include <httplib.h>

#include <ctime>
#include <fstream>
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

TEST(MixPlaylists, TheUsersMixesAreTheirPlaylistsOnRestAndNobodyElses) {
  const std::string dir = test::temp_dir() + "/mix-playlists", db = dir + "/library.db";
  std::filesystem::remove_all(dir);
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
  ASSERT_EQ(test::run_cli("mix --user ann --size 6 --db " + test::quoted(db), &out, &err,
                          "HF_HOME=" + test::quoted(dir + "/hf")),
            0)
      << err;

  RunningServer server(ServerOptions{}, db, 30);
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
