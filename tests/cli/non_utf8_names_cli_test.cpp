// Issue 33 (#9): file names need not be UTF-8 (a Latin-1 "café.wav"), and a PostgreSQL text
// column rejects invalid UTF-8. `migrate` of a SQLite index holding such names to PostgreSQL used
// to fail as a whole on the first one (the server's raw error, nothing copied); the PostgreSQL
// store now stores such a value escaped and reads it back as the same bytes, so every track
// moves and reads back byte for byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
std::string q(const std::string& s) { return test::quoted(s); }

int cli(const std::string& args, std::string* out, std::string* err) {
  const std::string root = test::temp_dir();
  return test::run_cli(args, out, err, "HOME=" + q(root) + " XDG_CACHE_HOME=" + q(root + "/cache"));
}

std::vector<std::string> paths(const std::string& location) {
  std::vector<std::string> out;
  for (const store::Track& t : store::open_store(location, store::OpenMode::ReadOnly)->tracks()) out.push_back(t.path);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(NonUtf8Names, MigrateToPostgresqlMovesEveryTrackWithItsNameBytes) {
  const std::string root = test::temp_dir();
  const std::string lib = root + "/lib";
  test::ffmpeg(lib + "/caf\xe9.wav", "-f lavfi -i sine=f=440:d=3:sample_rate=16000");         // Latin-1 é
  test::ffmpeg(lib + "/na\xefve/\xfc" "ber.wav", "-f lavfi -i sine=f=660:d=3:sample_rate=16000");  // ï, ü
  test::ffmpeg(lib + "/plain.wav", "-f lavfi -i sine=f=880:d=3:sample_rate=16000");
  const std::string sqlite = root + "/library.db";
  std::string out, err;
  ASSERT_EQ(cli("index " + q(lib) + " --db " + q(sqlite) + " --model " + q(test::case_dir("tiny-unfused")) + " -q", &out, &err), 0)
      << err;
  const std::vector<std::string> before = paths(sqlite);
  ASSERT_EQ(before.size(), 3u);

  const std::string url = test::PostgresServer::shared().create_database();
  ASSERT_EQ(cli("migrate --from " + q(sqlite) + " --to " + q(url) + " -q", &out, &err), 0) << err;
  EXPECT_EQ(paths(url), before) << "the track paths differ after the migration";

  // The queries answer alike on both (JSON shows the invalid bytes as U+FFFD on both).
  std::string from_sqlite, from_pg;
  ASSERT_EQ(cli("search 'a tone' --json --db " + q(sqlite), &from_sqlite, &err), 0) << err;
  ASSERT_EQ(cli("search 'a tone' --json --db " + q(url), &from_pg, &err), 0) << err;
  EXPECT_EQ(from_pg, from_sqlite);
  EXPECT_NE(from_pg.find("plain.wav"), std::string::npos) << from_pg;
}

}  // namespace
}  // namespace clap
