// The key id a PostgreSQL index's database records for its users' password key file
// (store/database_id.h; hostile pass 11, H11C-7): recorded once by a writable open, the same for
// every later open however the URL is spelt, kept by a wipe and by migrate's replace, never
// recorded by a read-only open; a SQLite store has none; a hand-edited value is a damaged index.
#include <gtest/gtest.h>

#include "core/error.h"
#include "store/database_id.h"
#include "store/postgres.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap::store {
namespace {

ModelIdentity model(const std::string& id) {
  ModelIdentity m;
  m.id = id;
  m.revision = "local";
  m.dim = 4;
  return m;
}

std::string by_localhost(const std::string& url) {
  const size_t at = url.find("@127.0.0.1:");
  return url.substr(0, at) + "@localhost:" + url.substr(at + std::string("@127.0.0.1:").size());
}

// Fails before: nothing recorded one (password_key_id was nullopt).
TEST(PostgresKeyId, IsRecordedOnceAndKeptByAWipeAndAReplace) {
  const std::string url = test::PostgresServer::shared().create_database();
  std::optional<std::string> id;
  {
    auto s = open_store(url, OpenMode::ReadWrite);
    id = password_key_id(*s);
    ASSERT_TRUE(id);
    EXPECT_EQ(id->size(), 32u);
    EXPECT_EQ(id->find_first_not_of("0123456789abcdef"), std::string::npos) << *id;
    s->set_model(model("org/model"));
    s->wipe(model("org/other"));
    EXPECT_EQ(password_key_id(*s), id) << "a wipe keeps the users, and the key id of their passwords";
    {
      const auto scope = s->begin_replace(model("org/third"), {});
      scope->commit();
    }
    EXPECT_EQ(password_key_id(*s), id) << "so does migrate's replace";
  }
  EXPECT_EQ(password_key_id(*open_store(by_localhost(url), OpenMode::ReadWriteExisting)), id);
  EXPECT_EQ(password_key_id(*open_store(by_localhost(url), OpenMode::ReadOnly)), id);
  // Another database: another id.
  const std::string other = test::PostgresServer::shared().create_database();
  EXPECT_NE(password_key_id(*open_store(other, OpenMode::ReadWrite)), id);
}

TEST(PostgresKeyId, AReadOnlyOpenRecordsNone) {
  const std::string url = test::PostgresServer::shared().create_database();
  open_store(url, OpenMode::ReadWrite)->set_model(model("org/model"));
  pg::Connection(url).exec("DELETE FROM meta WHERE key = 'key_id'");  // as an older clapsearch left it
  EXPECT_EQ(password_key_id(*open_store(url, OpenMode::ReadOnly)), std::nullopt);
  EXPECT_EQ(pg::Connection(url).query("SELECT COUNT(*) FROM meta WHERE key = 'key_id'").int64(0, 0), 0);
  EXPECT_TRUE(password_key_id(*open_store(url, OpenMode::ReadWriteExisting)));
}

TEST(PostgresKeyId, SqliteHasNone) {
  const std::string db = test::temp_dir() + "/library.db";
  EXPECT_EQ(password_key_id(*open_store(db, OpenMode::ReadWrite)), std::nullopt);
}

// It names a file: a value that is not 32 hex digits is refused, never put into a path.
TEST(PostgresKeyId, AHandEditedIdIsADamagedIndex) {
  const std::string url = test::PostgresServer::shared().create_database();
  open_store(url, OpenMode::ReadWrite)->set_model(model("org/model"));
  pg::Connection(url).exec("UPDATE meta SET value = '../../../etc/x' WHERE key = 'key_id'");
  auto s = open_store(url, OpenMode::ReadOnly);
  try {
    password_key_id(*s);
    FAIL() << "no error";
  } catch (const DamagedIndex& e) {
    EXPECT_NE(std::string(e.what()).find("meta row key_id is not 32 hex digits"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("DELETE FROM meta WHERE key = 'key_id'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace clap::store
