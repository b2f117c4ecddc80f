// Hostile pass 16: what a user can hang on the tables of a PostgreSQL index that `index --rebuild`
// silently dropped or emptied. Pass 15 (H15C-2) named another table's foreign key to a table the
// wipe empties, and views and triggers on a table the rebuild makes again (a column of it retyped
// by hand). The rest of what DROP TABLE ... CASCADE takes along, or the wipe's DELETE reaches, went
// without a word, exit 0: a table inheriting from tracks (its rows deleted with the wipe), a trigger
// ON DELETE of tracks that empties the user's own table (as a foreign key's CASCADE did), a column
// of a user's table of windows's row type (dropped with its values), a sequence OWNED BY a column
// (dropped with its value), a rule, a row-level security policy, a publication, statistics, an
// index, a grant to another role, a comment. Each is now named before anything changes, through
// the real CLI on a real PostgreSQL server.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "support/golden.h"
#include "psql.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

std::string q(const std::string& s) { return test::quoted(s); }

std::string model_arg() { return " --model " + q(test::case_dir("tiny-unfused")); }

using test::psql;

TEST(PostgresHandMade, WhatARebuildWouldDropOrEmptyIsNamedAndNothingChanges) {
  const std::string root = test::temp_dir() + "/pg-hand-made-16";
  test::ffmpeg(root + "/lib/a.wav", "-f lavfi -i sine=f=440:d=2:sample_rate=16000");
  const std::string role = "h16c_reader_" + std::to_string(::getpid());
  const std::string retype = "; ALTER TABLE windows ALTER COLUMN end_s TYPE text";  // windows is made again
  // {made by hand, how the error names it, a query whose answer the rebuild must not change}
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      // A plain rebuild (nothing damaged): the wipe's DELETE FROM tracks deleted the child's rows.
      {"CREATE TABLE my_tracks(note TEXT) INHERITS (tracks); "
       "INSERT INTO my_tracks(id, path, size, mtime_ns, status, indexed_at, note) VALUES (900, '/mine', 1, 1, 'ok', 1, 'mine')",
       "table my_tracks (inherits from tracks: its rows go with the wipe)", "SELECT count(*) FROM ONLY my_tracks"},
      {"CREATE RULE keep_prints AS ON DELETE TO fingerprints DO INSTEAD NOTHING", "rule keep_prints on fingerprints",
       "SELECT count(*) FROM pg_rewrite WHERE rulename = 'keep_prints'"},
      {"CREATE TABLE mine(x INT); INSERT INTO mine VALUES (1); CREATE FUNCTION empty_mine() RETURNS trigger LANGUAGE plpgsql "
       "AS $$BEGIN DELETE FROM mine; RETURN OLD; END$$; "
       "CREATE TRIGGER gone_with_tracks AFTER DELETE ON tracks FOR EACH ROW EXECUTE FUNCTION empty_mine()",
       "trigger gone_with_tracks on tracks (run by the wipe's DELETE)", "SELECT count(*) FROM mine"},
      // windows made again: DROP TABLE windows CASCADE.
      {"CREATE TABLE snap(w windows); INSERT INTO snap SELECT w FROM windows w", "column w of table snap (of the row type of windows)",
       "SELECT count(w) FROM snap"},
      {"CREATE SEQUENCE my_seq OWNED BY windows.idx; SELECT setval('my_seq', 42)", "sequence my_seq (owned by windows)",
       "SELECT last_value FROM my_seq"},
      {"CREATE FUNCTION first_s(windows) RETURNS double precision LANGUAGE sql AS 'SELECT $1.start_s'",
       "function first_s(windows) (of the row type of windows)", "SELECT to_regprocedure('first_s(windows)') IS NOT NULL"},
      {"CREATE TABLE wlog(track BIGINT); CREATE RULE log_windows AS ON INSERT TO windows DO ALSO INSERT INTO wlog VALUES (new.track_id)",
       "rule log_windows on windows", "SELECT count(*) FROM pg_rewrite WHERE rulename = 'log_windows'"},
      {"ALTER TABLE windows ENABLE ROW LEVEL SECURITY; CREATE POLICY own_windows ON windows USING (true)",
       "row-level security on windows (enabled); row-level security policy own_windows on windows",
       "SELECT count(*) FROM pg_policy WHERE polname = 'own_windows'"},
      {"CREATE PUBLICATION my_pub FOR TABLE windows", "publication my_pub (of windows)", "SELECT count(*) FROM pg_publication_rel"},
      {"CREATE STATISTICS my_stats ON track_id, idx FROM windows", "statistics my_stats on windows",
       "SELECT count(*) FROM pg_statistic_ext WHERE stxname = 'my_stats'"},
      {"CREATE INDEX my_windows_idx ON windows(idx)", "index my_windows_idx on windows", "SELECT to_regclass('my_windows_idx') IS NOT NULL"},
      {"DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" + role + "') THEN CREATE ROLE " + role +
           "; END IF; END$$; GRANT SELECT ON windows TO " + role,
       "grant of SELECT on windows to " + role, "SELECT has_table_privilege('" + role + "', 'windows', 'SELECT')"},
      {"COMMENT ON TABLE windows IS 'mine'", "comment on table windows", "SELECT obj_description('windows'::regclass, 'pg_class')"},
      // R16C-1 (hostile pass 18): constraints made by hand, told from the migrations' own (their
      // names generated) by their definitions; they went with DROP TABLE without a word, exit 0.
      {"ALTER TABLE windows ADD CONSTRAINT my_check CHECK (start_s >= 0)",
       "check constraint my_check on windows (CHECK ((start_s >= (0)::double precision)))",
       "SELECT count(*) FROM pg_constraint WHERE conname = 'my_check'"},
      {"ALTER TABLE windows ADD UNIQUE (track_id, start_s)",
       "unique constraint windows_track_id_start_s_key on windows (UNIQUE (track_id, start_s))",
       "SELECT to_regclass('windows_track_id_start_s_key') IS NOT NULL"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& [made, said, kept] = cases[i];
    SCOPED_TRACE(made);
    const std::string db = test::PostgresServer::shared().create_database();
    std::string out, err;
    ASSERT_EQ(test::run_cli("index " + q(root + "/lib") + " --db " + q(db) + model_arg() + " -q", &out, &err), 0) << err;
    // The row type's column is made after the retyping, which PostgreSQL refuses while it is used.
    const bool plain = i < 3, after = made.rfind("CREATE TABLE snap", 0) == 0;
    if (!plain && after) psql(db, retype.substr(2));
    psql(db, made + (plain || after ? "" : retype));
    const std::string before = psql(db, kept);
    ASSERT_NE(before, "0\n");
    ASSERT_NE(before, "f\n");
    EXPECT_EQ(test::run_cli("index " + q(root + "/lib") + model_arg() + " --rebuild -q --db " + q(db), &out, &err), 1) << err;
    EXPECT_NE(err.find(db + ": `index --rebuild` deletes every track and window" +
                       (plain ? std::string(", and") : " and makes table(s) windows again")),
              std::string::npos) << err;
    EXPECT_NE(err.find("objects made by hand depend on that: " + said), std::string::npos) << err;
    EXPECT_NE(err.find("; nothing was changed: "), std::string::npos) << err;
    EXPECT_EQ(psql(db, kept), before) << "the user's object and rows kept";
    EXPECT_NE(psql(db, "SELECT count(*) FROM tracks"), "0\n");
  }
}

// An empty schema first in the database's search_path: the rebuild of a damaged windows table took
// it for the index's schema and failed on raw SQL, "table "windows" does not exist (DROP TABLE
// empty.windows CASCADE)" (hostile pass 16). The tables are found where they are.
TEST(PostgresHandMade, ARebuildWithAnEmptySchemaFirstInTheSearchPathMakesTheTableWhereTheIndexIs) {
  const std::string root = test::temp_dir() + "/pg-empty-schema-16";
  test::ffmpeg(root + "/lib/a.wav", "-f lavfi -i sine=f=440:d=2:sample_rate=16000");
  const std::string db = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_cli("index " + q(root + "/lib") + " --db " + q(db) + model_arg() + " -q", &out, &err), 0) << err;
  psql(db, "CREATE SCHEMA empty; DO $$BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = empty, public', "
           "current_database()); END$$; ALTER TABLE windows ALTER COLUMN end_s TYPE text");
  EXPECT_EQ(test::run_cli("index " + q(root + "/lib") + model_arg() + " --rebuild -q --db " + q(db), &out, &err), 0) << err;
  EXPECT_EQ(psql(db, "SELECT table_schema || ' ' || data_type FROM information_schema.columns WHERE table_name = 'windows' "
                     "AND column_name = 'end_s'"),
            "public double precision\n");
  EXPECT_EQ(psql(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'empty'"), "0\n");
  ASSERT_EQ(test::run_cli("search 'a tone' --db " + q(db), &out, &err), 0) << err;
}

}  // namespace
}  // namespace clap

namespace clap {
namespace {

// An event trigger made by hand that refuses the rebuild's DROP TABLE: refused, nothing changed,
// and its way out is DROP EVENT TRIGGER. The error named `DROP TRIGGER NAME ON TABLE`, which drops
// no event trigger (hostile pass 16, R16C-2: the trigger lookup read only pg_trigger).
TEST(PostgresHandMade, AnEventTriggerThatRefusesTheRebuildIsNamedWithItsWayOut) {
  const std::string root = test::temp_dir() + "/pg-event-trigger-16";
  test::ffmpeg(root + "/lib/a.wav", "-f lavfi -i sine=f=440:d=2:sample_rate=16000");
  const std::string db = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_cli("index " + q(root + "/lib") + " --db " + q(db) + model_arg() + " -q", &out, &err), 0) << err;
  psql(db, "ALTER TABLE windows ALTER COLUMN end_s TYPE text; "
           "CREATE FUNCTION no_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'no drops here'; END$$; "
           "CREATE EVENT TRIGGER no_drop_tables ON sql_drop EXECUTE FUNCTION no_drop()");
  EXPECT_EQ(test::run_cli("index " + q(root + "/lib") + model_arg() + " --rebuild -q --db " + q(db), &out, &err), 1) << err;
  EXPECT_NE(err.find("a trigger made by hand refused the write: "), std::string::npos) << err;
  EXPECT_NE(err.find("(event trigger no_drop_tables, function public.no_drop())"), std::string::npos) << err;
  EXPECT_NE(err.find("drop the trigger (`DROP EVENT TRIGGER no_drop_tables`)"), std::string::npos) << err;
  EXPECT_EQ(psql(db, "SELECT data_type FROM information_schema.columns WHERE table_name = 'windows' AND column_name = 'end_s'"),
            "text\n");  // nothing changed
  EXPECT_NE(psql(db, "SELECT count(*) FROM tracks"), "0\n");
}

}  // namespace
}  // namespace clap

namespace clap {
namespace {

// A publication made by hand that publishes the updates and deletes of a table with no replica
// identity (`CREATE PUBLICATION ... FOR ALL TABLES` reaches stars, which has no primary key): the
// server refuses every UPDATE and DELETE of it. `index --rebuild` exited 1 on "database error:
// ERROR: cannot update table "stars" because it does not have a replica identity ... (UPDATE stars
// SET ...)", and `user remove` likewise, with no publication named (hostile passes 16 and 18).
// Now the rebuild names it before anything changes, and any write it stops names it with the ways out.
TEST(PostgresHandMade, APublicationOfEveryTableIsNamedWithItsWayOut) {
  const std::string root = test::temp_dir() + "/pg-publication-18";
  test::ffmpeg(root + "/lib/a.wav", "-f lavfi -i sine=f=440:d=2:sample_rate=16000");
  const std::string db = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_cli("index " + q(root + "/lib") + " --db " + q(db) + model_arg() + " -q", &out, &err), 0) << err;
  {
    std::ofstream(root + "/pw") << "a long password\n";
  }
  ASSERT_EQ(test::run_cli("user add ann --password-file " + q(root + "/pw") + " --db " + q(db), &out, &err), 0) << err;
  psql(db, "INSERT INTO stars(user_id, item_kind, item_id, track_id, starred_at) SELECT u.id, 'song', t.id::text, t.id, 1000 "
           "FROM users u, tracks t; CREATE PUBLICATION all_pub FOR ALL TABLES");
  const std::string stars = psql(db, "SELECT user_id, item_id, track_id FROM stars");
  ASSERT_NE(stars, "");
  EXPECT_EQ(test::run_cli("index " + q(root + "/lib") + model_arg() + " --rebuild -q --db " + q(db), &out, &err), 1) << err;
  EXPECT_NE(err.find("objects made by hand depend on that: publication all_pub (it publishes the updates and deletes of "
                     "bookmarks, which has no replica identity"),
            std::string::npos) << err;
  EXPECT_NE(err.find("`ALTER TABLE stars REPLICA IDENTITY FULL`"), std::string::npos) << err;
  EXPECT_NE(err.find("; nothing was changed: "), std::string::npos) << err;
  EXPECT_EQ(err.find("database error"), std::string::npos) << err;
  EXPECT_EQ(psql(db, "SELECT user_id, item_id, track_id FROM stars"), stars);
  EXPECT_NE(psql(db, "SELECT count(*) FROM tracks"), "0\n");
  // Any other write the server refuses for it: named, with the ways out, no statement.
  EXPECT_EQ(test::run_cli("user remove ann --db " + q(db), &out, &err), 1) << err;
  EXPECT_NE(err.find(db + ": table stars has no replica identity, and publication all_pub (made by hand) publishes its "
                          "updates and deletes, which the PostgreSQL server then refuses"),
            std::string::npos) << err;
  EXPECT_NE(err.find("that write was not made: drop the publication (`DROP PUBLICATION all_pub`), or publish only inserts "
                     "(`ALTER PUBLICATION all_pub SET (publish = 'insert')`), or give the table an identity (`ALTER TABLE "
                     "stars REPLICA IDENTITY FULL`)"),
            std::string::npos) << err;
  EXPECT_EQ(err.find("DELETE FROM"), std::string::npos) << err;
  EXPECT_EQ(psql(db, "SELECT user_id, item_id, track_id FROM stars"), stars);
  // The way out works: the rebuild runs and the star is kept.
  psql(db, "ALTER PUBLICATION all_pub SET (publish = 'insert')");
  EXPECT_EQ(test::run_cli("index " + q(root + "/lib") + model_arg() + " --rebuild -q --db " + q(db), &out, &err), 0) << err;
  EXPECT_EQ(psql(db, "SELECT count(*) FROM stars"), "1\n");
}

}  // namespace
}  // namespace clap
