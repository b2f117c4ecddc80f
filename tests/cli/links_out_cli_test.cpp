// R7S-1: links out of the library, with the real CLI and a real server on loopback. A file link
// (or a folder link) whose target is outside every indexed folder was indexed and listed but never
// played (the server serves nothing outside its folders). Safe by default: `index` leaves such a
// link out with a warning naming it, where it leads and the opt-in; `--follow-links-out` indexes
// it, and `serve --follow-links-out` plays it while the link still leads to the file indexed.
// An index that holds such links drops them on a run without the opt-in as it drops a deleted
// file: their stars stay, and come back on the same track when the links are indexed again.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

#include "store/store.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string q(const std::string& s) { return test::quoted(s); }

std::set<std::string> indexed_paths(const std::string& db) {
  std::set<std::string> out;
  for (const store::Track& t : store::open_store(db, store::OpenMode::ReadOnly)->tracks()) out.insert(t.path);
  return out;
}

// The HTTP status and body of a GET on the server.
std::pair<std::string, std::string> get(int port, const std::string& path) {
  std::string out, err;
  const std::string body = test::temp_dir() + "/links-out-body";
  test::run_command("curl -s -m 60 -o " + q(body) + " -w '%{http_code}' " + q("http://127.0.0.1:" + std::to_string(port) + path), &out,
                    &err);
  return {out, test::read_file(body)};
}

std::string rest(const std::string& call) { return "/rest/" + call + "&u=alice&p=alicepw&v=1.16.1&c=test&f=json"; }

struct Server {
  test::Child child;
  int port = 0;
  explicit Server(const std::vector<std::string>& args) : child(test::start_cli(args)), port(test::served_port(child)) {}
  ~Server() {
    ::kill(child.pid, SIGTERM);
    test::wait_exit(child.pid);
  }
};

TEST(LinksOut, LeftOutWithAWarningIndexedAndPlayedOnlyWhenAllowedAndRefusedOnceRepointed) {
  const std::string dir = test::temp_dir() + "/links-out", music = dir + "/music", db = dir + "/library.db";
  fs::remove_all(dir);
  test::ffmpeg(music + "/a.flac", "-f lavfi -i \"sine=f=440:d=5\"");
  test::ffmpeg(dir + "/elsewhere/out.flac", "-f lavfi -i \"sine=f=550:d=5\"");
  test::ffmpeg(dir + "/elsewhere/folder/deep.flac", "-f lavfi -i \"sine=f=660:d=5\"");
  fs::create_symlink(music + "/a.flac", music + "/in-link.flac");          // inside: as before (the file once)
  fs::create_symlink(dir + "/elsewhere/out.flac", music + "/out-link.flac");  // a file link out
  fs::create_symlink(dir + "/elsewhere/folder", music + "/out-folder");       // a folder link out
  const std::string model = " --model " + q(test::case_dir("tiny-unfused"));
  std::string out, err;

  // By default: left out, one warning each, saying where it leads and how to allow it.
  ASSERT_EQ(test::run_cli("index " + q(music) + " --db " + q(db) + model, &out, &err), 0) << err;
  EXPECT_EQ(indexed_paths(db), (std::set<std::string>{music + "/a.flac"})) << err;
  for (const auto& [link, target] : {std::pair{music + "/out-link.flac", dir + "/elsewhere/out.flac"},
                                     std::pair{music + "/out-folder", dir + "/elsewhere/folder"}}) {
    const std::string said = link + ": a link to " + target + ", outside the library folders: not indexed";
    EXPECT_NE(err.find(said), std::string::npos) << err;
    EXPECT_EQ(err.find(said), err.rfind(said)) << "said twice: " << err;
  }
  EXPECT_NE(err.find("--follow-links-out"), std::string::npos) << err;
  EXPECT_NE(err.find(music + "/in-link.flac: the same file as " + music + "/a.flac"), std::string::npos) << err;

  // Allowed: indexed under the link's names.
  ASSERT_EQ(test::run_cli("index " + q(music) + " --db " + q(db) + model + " --follow-links-out -q", &out, &err), 0) << err;
  const std::set<std::string> all = {music + "/a.flac", music + "/out-link.flac", music + "/out-folder/deep.flac"};
  EXPECT_EQ(indexed_paths(db), all);
  int64_t link_id = 0;
  {
    auto s = store::open_store(db, store::OpenMode::ReadWrite);
    const store::Track t = *s->track_by_path(music + "/out-link.flac");
    link_id = t.id;
    store::UserRecord u;
    u.name = "ann";
    const int64_t ann = s->add_user(u);
    s->put_star({ann, "song", "", store::SongRef{t.id, t.content_hash, t.path}, 0, 1000});
  }
  // A run without the opt-in drops the links as deleted files (the star kept), one with it takes
  // them back on their ids, the star with them.
  ASSERT_EQ(test::run_cli("index " + q(music) + " --db " + q(db) + model + " --json", &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out)["pruned"], 2) << out;
  EXPECT_EQ(indexed_paths(db), (std::set<std::string>{music + "/a.flac"}));
  EXPECT_EQ(err.find("--prune-missing"), std::string::npos) << "left out on purpose, not vanished: " << err;
  ASSERT_EQ(test::run_cli("index " + q(music) + " --db " + q(db) + model + " --follow-links-out -q", &out, &err), 0) << err;
  EXPECT_EQ(indexed_paths(db), all);
  {
    auto s = store::open_store(db, store::OpenMode::ReadOnly);
    EXPECT_EQ(s->track_by_path(music + "/out-link.flac")->id, link_id);
    const auto stars = s->stars(s->users()[0].id);
    ASSERT_EQ(stars.size(), 1u);
    EXPECT_EQ(stars[0].song.track_id, link_id);
  }

  std::ofstream(dir + "/pw") << "alicepw\n";
  ASSERT_EQ(test::run_cli("user add alice --password-file " + q(dir + "/pw") + " --db " + q(db), &out, &err), 0) << err;
  const std::string id = std::to_string(link_id);
  const std::string bytes = test::read_file(dir + "/elsewhere/out.flac");
  {
    // Without the opt-in the server plays none of them (as before).
    Server plain({"serve", "--db", db, "--port", "0"});
    ASSERT_NE(plain.port, 0) << test::read_file(plain.child.err_path);
    EXPECT_EQ(get(plain.port, "/api/tracks/" + id + "/audio").first, "404");
    EXPECT_NE(get(plain.port, rest("stream?id=" + id)).second.find("\"code\":70"), std::string::npos);
  }
  Server server({"serve", "--db", db, "--port", "0", "--follow-links-out"});
  ASSERT_NE(server.port, 0) << test::read_file(server.child.err_path);
  EXPECT_EQ(get(server.port, "/api/tracks/" + id + "/audio"), std::make_pair(std::string("200"), bytes));
  EXPECT_EQ(get(server.port, rest("stream?id=" + id)), std::make_pair(std::string("200"), bytes));
  EXPECT_EQ(get(server.port, rest("download?id=" + id)).first, "200");
  const int64_t deep = store::open_store(db, store::OpenMode::ReadOnly)->track_by_path(music + "/out-folder/deep.flac")->id;
  EXPECT_EQ(get(server.port, rest("stream?id=" + std::to_string(deep))),
            std::make_pair(std::string("200"), test::read_file(dir + "/elsewhere/folder/deep.flac")));

  // The link pointed at another file since, one with the same bytes, size and modification time
  // (cp -p): not the file indexed, refused on both routes.
  ASSERT_EQ(test::run_command("cp -p " + q(dir + "/elsewhere/out.flac") + " " + q(dir + "/elsewhere/copy.flac")), 0);
  fs::remove(music + "/out-link.flac");
  fs::create_symlink(dir + "/elsewhere/copy.flac", music + "/out-link.flac");
  const auto [status, said] = get(server.port, "/api/tracks/" + id + "/audio");
  EXPECT_EQ(status, "404");
  EXPECT_NE(said.find("no longer leads to the file indexed"), std::string::npos) << said;
  EXPECT_EQ(said.find(dir), std::string::npos) << "names where the library lives: " << said;
  const std::string refused = get(server.port, rest("stream?id=" + id)).second;
  EXPECT_NE(refused.find("\"code\":70"), std::string::npos) << refused;
}

}  // namespace
}  // namespace clap
