// An index copy put back (`mv copy.db library.db`) under a running server (H12S-3): SQLite finds
// a database's -wal by its name, so the copy was paired with the old file's WAL, whose pages
// were written into it (the server's reopen, and SQLite's next open of the file after the server
// stopped): /api/ answered "malformed" and the restored backup failed integrity_check.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <nlohmann/json.hpp>

#include "server/running_server.h"
#include "support/golden.h"

namespace clap::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The rows of `sql` (one column) in the SQLite file `db`, one a line, or the error.
std::string query(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  std::string out;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) out = "cannot open";
  else {
    char* err = nullptr;
    const auto row = [](void* o, int, char** values, char**) {
      *static_cast<std::string*>(o) += std::string(values[0] ? values[0] : "NULL") + "\n";
      return 0;
    };
    if (sqlite3_exec(h, sql.c_str(), row, &out, &err) != SQLITE_OK) out += std::string("error: ") + (err ? err : "?");
    sqlite3_free(err);
  }
  sqlite3_close_v2(h);
  return out;
}

TEST(ServeLive, AnIndexCopyMovedOverItIsServedAndKeptIntact) {
  const std::string dir = test::temp_dir() + "/moved_over", music = dir + "/music", db = dir + "/library.db";
  fs::remove_all(dir);
  test::ffmpeg(music + "/a.flac", "-f lavfi -i \"sine=f=440:d=4\" -metadata title=A");
  test::ffmpeg(music + "/b.flac", "-f lavfi -i \"sine=f=660:d=4\" -metadata title=B");
  test::ffmpeg(music + "/c.flac", "-f lavfi -i \"sine=f=990:d=4\" -metadata title=C");
  test::index_library(music, db, test::case_dir("tiny-unfused"));
  std::ofstream(dir + "/pw") << "secret\n";
  std::string err;
  ASSERT_EQ(test::run_cli("user add bob --db " + test::quoted(db) + " < " + test::quoted(dir + "/pw"), nullptr, &err), 0) << err;
  // The backup: the index as it is now (no stars), its pages laid out anew (VACUUM), so that a
  // page of the old file's WAL written into it does not fit.
  fs::copy_file(db, dir + "/copy.db");
  ASSERT_EQ(query(dir + "/copy.db", "VACUUM"), "");
  ASSERT_EQ(query(dir + "/copy.db", "PRAGMA integrity_check"), "ok\n");

  ServerOptions o;
  o.db = db;
  o.refresh_ms = 100;
  {
    RunningServer s(o, db, 60);
    const auto rest = [&](const std::string& call) {
      auto r = s.client().Get("/rest/" + call + (call.find('?') == std::string::npos ? "?" : "&") +
                              "u=bob&p=secret&f=json&v=1.16.1&c=t");
      return r ? json::parse(r->body)["subsonic-response"] : json{{"status", "no answer"}};
    };
    // Writes the WAL holds (none is checkpointed before the file is replaced).
    for (int id = 1; id <= 3; ++id) {
      ASSERT_EQ(rest("star?id=" + std::to_string(id))["status"], "ok");
      ASSERT_EQ(rest("scrobble?id=" + std::to_string(id))["status"], "ok");
    }
    ASSERT_EQ(rest("createPlaylist?name=kept&songId=1&songId=2")["status"], "ok");
    ASSERT_GT(fs::file_size(db + "-wal"), 0u);

    ASSERT_EQ(std::rename((dir + "/copy.db").c_str(), db.c_str()), 0);
    const auto songs = [](const json& r) { return r.value("starred2", json::object()).value("song", json::array()); };
    json starred;
    for (int i = 0; i < 100; ++i) {  // an upper bound for the refresh loop to reopen, not a timing check
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      starred = rest("getStarred2");
      if (starred["status"] == "ok" && songs(starred).empty()) break;
    }
    EXPECT_EQ(starred["status"], "ok") << starred.dump();
    EXPECT_TRUE(songs(starred).empty()) << starred.dump();  // the copy's, none
    const json found = s.get_json("/api/search?q=tone&k=10");
    EXPECT_EQ(found["queries"][0]["results"].size(), 3u) << found.dump();
    EXPECT_EQ(rest("star?id=2")["status"], "ok");  // written into the copy
  }
  // The copy on disk after the server stopped (and opened again by SQLite: a WAL left at its
  // name would be read into it now).
  EXPECT_EQ(query(db, "PRAGMA integrity_check"), "ok\n");
  EXPECT_EQ(query(db, "SELECT count(*) FROM stars"), "1\n");
  EXPECT_EQ(query(db, "SELECT count(*) FROM plays"), "0\n");
  EXPECT_EQ(query(db, "SELECT count(*) FROM playlists"), "0\n");
  EXPECT_EQ(query(db, "SELECT count(*) FROM tracks"), "3\n");
}

}  // namespace
}  // namespace clap::server
