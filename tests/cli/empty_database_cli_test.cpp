// Issue 33 (#13): only the commands that build an index create one. A read command (`search`,
// `status`) or a `worker` pointed at a database without an index - a typo'd database name, the
// `postgres` maintenance database, an empty SQLite file - fails with a clear message and leaves
// the database as it was: no tables appear.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "store/postgres.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
std::string q(const std::string& s) { return test::quoted(s); }

int64_t table_count(const std::string& url) {
  store::pg::Connection c(url);
  return c.query("SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', "
                 "'information_schema')")
      .int64(0, 0);
}

int cli(const std::string& args, std::string* err) {
  const std::string root = test::temp_dir();
  return test::run_cli(args, nullptr, err, "HOME=" + q(root) + " XDG_CACHE_HOME=" + q(root + "/cache"));
}

TEST(EmptyDatabase, ReadCommandsAndWorkersRefuseAnEmptyPostgresDatabaseAndCreateNothing) {
  test::PostgresServer& server = test::PostgresServer::shared();
  const std::string empty = server.create_database();
  const std::string maintenance = server.url("postgres");
  ASSERT_EQ(table_count(empty), 0);
  ASSERT_EQ(table_count(maintenance), 0);
  for (const std::string& url : {empty, maintenance}) {
    for (const char* c : {"search 'a tone'", "status", "worker --until-done", "similar 1", "search 'x' --json"}) {
      const std::string command = c;
      std::string err;
      EXPECT_EQ(cli(command + " --db " + q(url), &err), 1) << command << " --db " << url;
      EXPECT_NE(err.find("no index here"), std::string::npos) << command << ": " << err;
      EXPECT_NE(err.find("clapsearch index"), std::string::npos) << command << ": " << err;
      EXPECT_EQ(table_count(url), 0) << "`clapsearch " << command << "` created tables in " << url;
    }
  }
}

TEST(EmptyDatabase, ReadCommandsLeaveAnEmptySqliteFileEmpty) {
  const std::string db = test::temp_dir() + "/empty.db";
  std::ofstream(db).close();  // a file of 0 bytes (`touch`)
  for (const char* c : {"search 'a tone'", "status", "similar 1"}) {
    const std::string command = c;
    std::string err;
    EXPECT_EQ(cli(command + " --db " + q(db), &err), 1) << command;
    EXPECT_NE(err.find("no index here"), std::string::npos) << command << ": " << err;
    EXPECT_EQ(fs::file_size(db), 0u) << "`clapsearch " << command << "` wrote into " << db;
    EXPECT_FALSE(fs::exists(db + "-wal")) << command;
  }
  // A missing file stays missing (and so does its folder).
  const std::string none = test::temp_dir() + "/typo/library.db";
  std::string err;
  EXPECT_EQ(cli("search 'a tone' --db " + q(none), &err), 1);
  EXPECT_NE(err.find("no index here"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(fs::path(none).parent_path()));
}

// Hostile pass 4 (R5): an index path that is a FIFO made every command hang (search, status,
// user, index --rebuild: opening a FIFO blocks until a writer comes); a folder or a device gave
// SQLite's bare "disk I/O error". Each is named, at once, and nothing is made.
TEST(EmptyDatabase, AnIndexPathThatIsNotAFileIsNamed) {
  const std::string dir = test::temp_dir();
  const std::string fifo = dir + "/fifo.db";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::ofstream(dir + "/pw") << "a password\n";
  for (const std::string& args : {std::string("search hello"), std::string("status"), std::string("user list"),
                                  std::string("user add bob --password-file ") + q(dir + "/pw"),
                                  std::string("index ") + q(dir) + " --rebuild"}) {
    std::string err;
    EXPECT_EQ(cli(args + " --db " + q(fifo), &err), 1) << args << ": " << err;  // a hang: ctest's timeout
    EXPECT_NE(err.find("a FIFO"), std::string::npos) << args << ": " << err;
  }
  std::string err;
  EXPECT_EQ(cli("status --db /dev/null", &err), 1);
  EXPECT_NE(err.find("/dev/null: not an index: this is a device"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(fifo + ".key"));
}

// Hostile pass 7 leftover: --db naming a loop of symbolic links was "no index here" (status,
// search) or "it cannot be written (SQLite: unable to open database file)" (index); neither said
// why. Each command now names the path as a loop; so does every text file read (its sibling).
TEST(EmptyDatabase, AnIndexPathThatIsALoopOfLinksIsNamedSo) {
  const std::string dir = test::temp_dir();
  const std::string loop = dir + "/loop.db", other = dir + "/other.db";
  ASSERT_EQ(symlink(other.c_str(), loop.c_str()), 0);
  ASSERT_EQ(symlink(loop.c_str(), other.c_str()), 0);
  std::ofstream(dir + "/pw") << "a password\n";
  fs::create_directory(dir + "/music");
  for (const std::string& args : {std::string("search hello"), std::string("status"), std::string("user list"),
                                  std::string("history"), std::string("index ") + q(dir + "/music"),
                                  std::string("user add bob --password-file ") + q(dir + "/pw")}) {
    std::string err;
    EXPECT_EQ(cli(args + " --db " + q(loop), &err), 1) << args << ": " << err;
    EXPECT_NE(err.find(loop + ": not an index: this is a loop of symbolic links"), std::string::npos) << args << ": " << err;
  }
  std::string err;
  EXPECT_NE(cli("status --config-file " + q(loop), &err), 0);
  EXPECT_NE(err.find(loop + ": cannot read (settings file): a loop of symbolic links"), std::string::npos) << err;
  EXPECT_TRUE(fs::is_symlink(loop) && fs::is_symlink(other));  // nothing replaced them
}

}  // namespace
}  // namespace clap
