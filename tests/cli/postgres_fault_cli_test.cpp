// A PostgreSQL server's own trouble (its disk full) named with the way out, not with the
// statement that met it (rough15p; SQLite's full disk: FaultCli, R13C-2). The server is a real
// one of the test's own, with support/faultfs.c preloaded: every write to a file of its
// tablespace "full-disk" fails with ENOSPC, as a full disk under that tablespace would, so the
// server itself says "could not extend file ...: No space left on device" (SQLSTATE 53100).
// Before: "database error: ERROR:  could not extend file ... HINT:  Check free disk space.
// (INSERT INTO users ...)".
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "store/postgres.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

std::string q(const std::string& s) { return test::quoted(s); }

// A new database on `server` holding an index (no tracks yet).
std::string new_index(test::PostgresServer& server) {
  const std::string url = server.create_database();
  auto s = store::open_store(url, store::OpenMode::ReadWrite);
  store::ModelIdentity m;
  m.id = "org/model";
  m.revision = "local";
  m.dim = 4;
  s->set_model(m);
  return url;
}

// `clapsearch user add ann` into the index at `url` (its password from a file; its key under `dir`).
int user_add(const std::string& url, const std::string& dir, std::string* err) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/pw") << "a password\n";
  std::string out;
  return test::run_cli("user add ann --password-file " + q(dir + "/pw") + " --db " + q(url), &out, err,
                       "XDG_DATA_HOME=" + q(dir + "/data"));
}

int64_t users(const std::string& url) {
  store::pg::Connection c(url);
  return c.query("SELECT count(*) FROM users").int64(0, 0);
}

TEST(PostgresFaultCli, TheServersFullDiskIsNamedWithTheWayOutNotTheStatement) {
  const auto server = test::PostgresServer::started_with(
      "LD_PRELOAD=" + q(CLAPSEARCH_FAULTFS_PATH) + " FAULTFS_PATH=/full-disk/ FAULTFS_OPS=write FAULTFS_FAIL_AT=1 FAULTFS_PERSIST=1");
  const std::string url = new_index(*server);
  {
    // The table moved to a tablespace while its disk had room (ALTER writes its empty indexes'
    // first pages), then that disk "filled": the folder now lies under the name faultfs fails.
    const std::string room = server->folder("tablespace");
    store::pg::Connection c(url);
    c.exec("CREATE TABLESPACE elsewhere LOCATION '" + room + "'");
    c.exec("ALTER TABLE users SET TABLESPACE elsewhere");
    std::filesystem::rename(room, std::filesystem::path(room).parent_path() / "full-disk");
    std::filesystem::create_directory_symlink("full-disk", room);
  }
  std::string err;
  const int status = user_add(url, test::temp_dir() + "/pg-full", &err);
  EXPECT_EQ(status, 1) << err;
  EXPECT_NE(err.find(store::pg::redact(url) + ": cannot write the index: the PostgreSQL server's disk is full (could not extend file"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("No space left on device); free space on the server's disk"), std::string::npos) << err;
  for (const char* statement : {"INSERT INTO", "SELECT ", "BEGIN", "database error", "ERROR:", "HINT"})
    EXPECT_EQ(err.find(statement), std::string::npos) << statement << "\n" << err;
  EXPECT_EQ(users(url), 0);  // nothing half written
}

// Siblings: other conditions of the server met by a statement, each named with its way out and
// without the statement (before: "database error: ERROR: ... (SELECT value FROM meta ...)").
TEST(PostgresFaultCli, TheServersOtherConditionsAreNamedWithoutTheStatement) {
  test::PostgresServer& server = test::PostgresServer::shared();
  const std::string dir = test::temp_dir() + "/pg-conditions";
  const auto named = [](const std::string& err, const std::string& words) {
    EXPECT_NE(err.find(words), std::string::npos) << err;
    for (const char* statement : {"INSERT INTO", "SELECT ", "BEGIN", "database error", "ERROR:"})
      EXPECT_EQ(err.find(statement), std::string::npos) << statement << "\n" << err;
  };
  std::string err;
  {  // a read-only server (a standby; here default_transaction_read_only): 25006
    const std::string url = new_index(server);
    store::pg::Connection(url).exec("ALTER DATABASE " + url.substr(url.rfind('/') + 1) + " SET default_transaction_read_only = on");
    EXPECT_EQ(user_add(url, dir, &err), 1);
    named(err, "cannot write the index: the PostgreSQL server takes no writes here (cannot execute");
    named(err, "give --db the primary server's URL");
  }
  {  // a user without rights on the index's tables: 42501
    const std::string url = new_index(server);
    store::pg::Connection admin(url);
    admin.exec("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'clap_no_rights') THEN CREATE ROLE clap_no_rights LOGIN; END IF; END $$");
    const std::string as_other = "postgresql://clap_no_rights@" + url.substr(url.find('@') + 1);
    EXPECT_EQ(user_add(as_other, dir, &err), 1);
    named(err, "the PostgreSQL user has no right to this (permission denied for table");
  }
  {  // a table locked by another session, with lock_timeout set: 55P03
    const std::string url = new_index(server);
    store::pg::Connection holder(url);
    holder.exec("ALTER DATABASE " + url.substr(url.rfind('/') + 1) + " SET lock_timeout = '100ms'");
    holder.exec("BEGIN");
    holder.exec("LOCK TABLE meta, users IN ACCESS EXCLUSIVE MODE");
    EXPECT_EQ(user_add(url, dir, &err), 1);
    named(err, "another session of the PostgreSQL server held what this needed (canceling statement due to lock timeout)");
    holder.exec("ROLLBACK");
  }
}

}  // namespace
}  // namespace clap
