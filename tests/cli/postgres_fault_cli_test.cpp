// A PostgreSQL server's own trouble (its disk full) named with the way out, not with the
// statement that met it (rough15p; SQLite's full disk: FaultCli, R13C-2). The server is a real
// one of the test's own, with support/faultfs.c preloaded: every write to a file of its
// tablespace "full-disk" fails with ENOSPC, as a full disk under that tablespace would, so the
// server itself says "could not extend file ...: No space left on device" (SQLSTATE 53100).
// Before: "database error: ERROR:  could not extend file ... HINT:  Check free disk space.
// (INSERT INTO users ...)".
#include <gtest/gtest.h>
#include <unistd.h>

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

// Hostile pass 16: the conditions a real server makes here, not only mapped in code. A role at its
// CONNECTION LIMIT (53300, refused at connect: libpq's "FATAL: too many connections for role" stood
// alone, with no way out); a statement waiting on a lock past the role's statement_timeout (57014);
// the backend of a waiting `index` ended by pg_terminate_backend (57P01, which libpq reports as the
// connection lost): named, no statement, and what the index held before stays for the next run.
TEST(PostgresFaultCli, AConnectionLimitATimeoutAndATerminatedBackendAreNamed) {
  test::PostgresServer& server = test::PostgresServer::shared();
  const std::string root = test::temp_dir() + "/pg-limits";
  test::ffmpeg(root + "/lib/a.wav", "-f lavfi -i sine=f=440:d=2:sample_rate=16000");
  const std::string url = server.create_database(), name = url.substr(url.rfind('/') + 1);
  const std::string model = " --model " + q(test::case_dir("tiny-unfused"));
  std::string out, err;
  ASSERT_EQ(test::run_cli("index " + q(root + "/lib") + " --db " + q(url) + model + " -q", &out, &err), 0) << err;
  const std::string role = "h16c_limited_" + std::to_string(::getpid());
  store::pg::Connection admin(url);
  admin.exec("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" + role + "') THEN CREATE ROLE " + role +
             " LOGIN; END IF; END $$; GRANT ALL ON ALL TABLES IN SCHEMA public TO " + role + "; GRANT ALL ON SCHEMA public TO " +
             role + "; ALTER ROLE " + role + " CONNECTION LIMIT 0");
  const std::string as_role = "postgresql://" + role + "@" + url.substr(url.find('@') + 1);
  const auto named = [](const std::string& text, const std::string& words) {
    EXPECT_NE(text.find(words), std::string::npos) << text;
    for (const char* statement : {"INSERT INTO", "SELECT ", "database error"})
      EXPECT_EQ(text.find(statement), std::string::npos) << statement << "\n" << text;
  };
  EXPECT_EQ(test::run_cli("status --db " + q(as_role), &out, &err), 1);
  named(err, "too many connections for role");
  named(err, "; the role has no connection left (its CONNECTION LIMIT): close its other clients, or raise the limit "
             "(`ALTER ROLE ... CONNECTION LIMIT`), and run the command again");
  admin.exec("ALTER ROLE " + role + " CONNECTION LIMIT -1; ALTER ROLE " + role + " SET statement_timeout = '300ms'");
  // Another session holds meta, which every command reads at open: the statement waits, then
  // its timeout cancels it.
  store::pg::Connection holder(url);
  holder.exec("BEGIN");
  holder.exec("LOCK TABLE meta IN ACCESS EXCLUSIVE MODE");
  EXPECT_EQ(test::run_cli("status --db " + q(as_role), &out, &err), 1);
  named(err, "the PostgreSQL server cancelled the statement (canceling statement due to statement timeout)");
  // An index waiting on that lock, its backend ended by an administrator.
  test::ffmpeg(root + "/lib/b.wav", "-f lavfi -i sine=f=880:d=2:sample_rate=16000");
  const test::Child index = test::start_cli({"index", root + "/lib", "--db", url, "--model", test::case_dir("tiny-unfused"), "-q"});
  int64_t backend = 0;
  ASSERT_TRUE(test::wait_until([&] {
    auto r = admin.query("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' LIMIT 1",
                         store::pg::Params().add(name));
    if (r.rows() > 0) backend = r.int64(0, 0);
    return backend > 0;
  }));
  admin.query("SELECT pg_terminate_backend($1::int)", store::pg::Params().add(backend));
  EXPECT_EQ(test::wait_exit(index.pid), 1);
  // libpq reads the end of the connection, not the server's 57P01 message: "server closed the
  // connection unexpectedly" (checked by hand with a real server, hostile pass 16).
  named(test::read_file(index.err_path), ": the connection to the PostgreSQL server was lost (");
  named(test::read_file(index.err_path), "); run the command again once the server is back");
  holder.exec("ROLLBACK");
  EXPECT_EQ(admin.query("SELECT count(*) FROM tracks").int64(0, 0), 1);  // what it held stays
  ASSERT_EQ(test::run_cli("index " + q(root + "/lib") + " --db " + q(url) + model + " -q", &out, &err), 0) << err;
  EXPECT_EQ(admin.query("SELECT count(*) FROM tracks").int64(0, 0), 2);
}

}  // namespace
}  // namespace clap
