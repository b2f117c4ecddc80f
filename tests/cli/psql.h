// psql on a database of the tests' PostgreSQL server, for the CLI tests that make by hand what a
// user or an administrator would (damaged tables, objects hung on clapsearch's tables).
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap::test {

// Runs `statement` on PostgreSQL database `db` (a URL) with psql; its output (-At: bare values).
inline std::string psql(const std::string& db, const std::string& statement) {
  std::string out, err;
  EXPECT_EQ(run_command(quoted(PostgresServer::shared().bin_dir() + "/psql") + " -q -At -d " + quoted(db) + " -c " +
                            quoted(statement),
                        &out, &err),
            0)
      << statement << ": " << err;
  return out;
}

}  // namespace clap::test
