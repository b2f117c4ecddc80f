#include "support/kept_ids.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap::test {

void forget_rows(const std::string& location, const std::string& table) {
  if (location.rfind("postgresql://", 0) == 0) {
    const auto q = [](const std::string& v) { return "'" + v + "'"; };
    EXPECT_EQ(run_command(q(PostgresServer::shared().bin_dir() + "/psql") + " -q -X -d " + q(location) + " -c " +
                          q("DELETE FROM " + table)),
              0);
    return;
  }
  sqlite_exec(location, "DELETE FROM " + table);
}

void sqlite_exec(const std::string& db, const std::string& statements) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK) << db;
  char* msg = nullptr;
  EXPECT_EQ(sqlite3_exec(h, statements.c_str(), nullptr, nullptr, &msg), SQLITE_OK) << (msg ? msg : "");
  sqlite3_free(msg);
  sqlite3_close(h);
}

}  // namespace clap::test
