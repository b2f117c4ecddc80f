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
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(location.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, ("DELETE FROM " + table).c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

}  // namespace clap::test
