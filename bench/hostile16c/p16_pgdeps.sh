#!/bin/bash
# Hostile pass 16: what else a user can hang on a PostgreSQL index's tables that `index --rebuild`
# (a plain one: the wipe's DELETEs; one of a damaged windows table: DROP TABLE windows CASCADE)
# would drop or empty: rules, row-level security, publications, inheritance children, partitions (a table cannot be made one of windows by hand),
# extended statistics, grants, comments, sequences OWNED BY, columns/functions/types of a table's
# row type, indexes, CHECK constraints, event triggers, triggers ON DELETE, an empty schema first
# in search_path. Each case prints the rebuild's exit, whether what the user made is kept, and the
# error's first line. Wanted: named before anything changes, or kept.
# Use: P=<port of a PostgreSQL server, user clap superuser, trust> C=<binary> W=<work dir with lib/, M/> p16_pgdeps.sh
set -u
cd "$W" || exit 1
U=postgresql://clap@127.0.0.1:$P
n=0
dmg="ALTER TABLE windows ALTER COLUMN end_s TYPE text"
run() {  # name, SQL made by hand, SQL whose answer must not change, [damage SQL before, damage SQL after]
  n=$((n+1)); local db=p16d$n
  psql -q "$U/postgres" -c "DROP DATABASE IF EXISTS $db" 2>/dev/null; psql -q "$U/postgres" -c "CREATE DATABASE $db"
  "$C" index lib --db "$U/$db" --model M -q >/dev/null 2>&1
  [ -n "${4:-}" ] && psql -q "$U/$db" -c "$4"
  psql -q "$U/$db" -c "$2" >/dev/null || { echo "== $1: SQL refused"; return; }
  [ -n "${5:-}" ] && psql -q "$U/$db" -c "$5"
  local before after; before=$(psql -At "$U/$db" -c "$3" | tr '\n' ' ')
  out=$(timeout 300 "$C" index lib --db "$U/$db" --model M --rebuild -q 2>&1); rc=$?
  after=$(psql -At "$U/$db" -c "$3" 2>&1 | tr '\n' ' ')
  local verdict=KEPT; [ "$before" != "$after" ] && verdict=LOST
  echo "== $1 rc=$rc $verdict: $before -> $after | $(printf '%s' "$out" | grep -i 'error\|warn' | head -1 | cut -c1-400)"
}
psql -q "$U/postgres" -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'p16reader') THEN CREATE ROLE p16reader; END IF; END\$\$"
# plain rebuild: the wipe's DELETEs
run child-of-tracks "CREATE TABLE my_tracks(note TEXT) INHERITS (tracks); INSERT INTO my_tracks(id, path, size, mtime_ns, status, indexed_at, note) VALUES (900, '/mine', 1, 1, 'ok', 1, 'mine')" "SELECT count(*) FROM ONLY my_tracks"
run child-of-windows "CREATE TABLE my_windows(note TEXT) INHERITS (windows); INSERT INTO my_windows(id, track_id, idx, start_s, end_s, loudness_dbfs, silent, note) SELECT 90000, track_id, idx + 1000, 0, 1, 0, false, 'mine' FROM windows LIMIT 1" "SELECT count(*) FROM ONLY my_windows"
run delete-rule-instead "CREATE RULE keep_prints AS ON DELETE TO fingerprints DO INSTEAD NOTHING" "SELECT count(*) FROM pg_rewrite WHERE rulename = 'keep_prints'"
run delete-rule-also "CREATE TABLE gone(path TEXT); CREATE RULE log_gone AS ON DELETE TO tracks DO ALSO INSERT INTO gone VALUES (old.path)" "SELECT count(*) FROM pg_rewrite WHERE rulename = 'log_gone'"
run delete-trigger-on-tracks "CREATE TABLE mine(x int); INSERT INTO mine VALUES (1); CREATE FUNCTION wipe_mine() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN DELETE FROM mine; RETURN OLD; END\$\$; CREATE TRIGGER t AFTER DELETE ON tracks FOR EACH ROW EXECUTE FUNCTION wipe_mine()" "SELECT count(*) FROM mine"
run policy-on-tracks-plain "ALTER TABLE tracks ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON tracks USING (true)" "SELECT count(*) FROM pg_policy"
run grant-on-tracks-plain "GRANT SELECT ON tracks TO p16reader" "SELECT has_table_privilege('p16reader', 'tracks', 'SELECT')"
run comment-on-tracks-plain "COMMENT ON TABLE tracks IS 'mine'" "SELECT obj_description('tracks'::regclass, 'pg_class')"
# windows made again (a column retyped by hand)
run rowtype-column "CREATE TABLE snap(w windows); INSERT INTO snap SELECT w FROM windows w" "SELECT count(w) FROM snap" "$dmg"
run rowtype-array-column "CREATE TABLE snaps(ws windows[]); INSERT INTO snaps SELECT array_agg(w) FROM windows w" "SELECT count(ws) FROM snaps" "$dmg"
run rowtype-function "CREATE FUNCTION first_s(windows) RETURNS float8 LANGUAGE sql AS 'SELECT \$1.start_s'" "SELECT to_regprocedure('first_s(windows)') IS NOT NULL" "$dmg"
run rowtype-composite "CREATE TYPE pair AS (a windows, b int)" "SELECT to_regtype('pair') IS NOT NULL" "$dmg"
run owned-sequence "CREATE SEQUENCE my_seq OWNED BY windows.idx; SELECT setval('my_seq', 42)" "SELECT last_value FROM my_seq" "" "$dmg"
run insert-rule-on-windows "CREATE TABLE wlog(t BIGINT); CREATE RULE log_w AS ON INSERT TO windows DO ALSO INSERT INTO wlog VALUES (new.track_id)" "SELECT count(*) FROM pg_rewrite WHERE rulename = 'log_w'" "" "$dmg"
run rule-on-other-table-reading-windows "CREATE TABLE other(x int); CREATE RULE r AS ON INSERT TO other DO ALSO SELECT count(*) FROM windows" "SELECT count(*) FROM pg_rewrite WHERE rulename = 'r'" "" "$dmg"
run policy "ALTER TABLE windows ENABLE ROW LEVEL SECURITY; CREATE POLICY own ON windows USING (true)" "SELECT count(*) FROM pg_policy" "" "$dmg"
run publication "CREATE PUBLICATION my_pub FOR TABLE windows" "SELECT count(*) FROM pg_publication_rel" "" "$dmg"
run publication-all "CREATE PUBLICATION all_pub FOR ALL TABLES" "SELECT count(*) FROM pg_publication" "" "$dmg"
run statistics "CREATE STATISTICS my_st ON track_id, idx FROM windows" "SELECT count(*) FROM pg_statistic_ext" "" "$dmg"
run index "CREATE INDEX my_idx ON windows(idx)" "SELECT to_regclass('my_idx') IS NOT NULL" "" "$dmg"
run check-constraint "ALTER TABLE windows ADD CONSTRAINT my_check CHECK (idx >= 0)" "SELECT count(*) FROM pg_constraint WHERE conname = 'my_check'" "" "$dmg"
run fk-from-windows "CREATE TABLE tag(id BIGINT PRIMARY KEY); ALTER TABLE windows ADD COLUMN tag_id BIGINT REFERENCES tag(id)" "SELECT count(*) FROM pg_constraint WHERE conrelid = 'tag'::regclass" "" "$dmg"
run grant "GRANT SELECT ON windows TO p16reader" "SELECT has_table_privilege('p16reader', 'windows', 'SELECT')" "" "$dmg"
run comment "COMMENT ON TABLE windows IS 'mine'; COMMENT ON COLUMN windows.idx IS 'mine too'" "SELECT obj_description('windows'::regclass, 'pg_class')" "" "$dmg"
run rowtype-view "CREATE VIEW wv AS SELECT w FROM windows w" "SELECT count(*) FROM pg_views WHERE viewname = 'wv'" "$dmg"
run event-trigger "CREATE FUNCTION no_drop() RETURNS event_trigger LANGUAGE plpgsql AS \$\$BEGIN RAISE EXCEPTION 'no drops here'; END\$\$; CREATE EVENT TRIGGER no_drop ON sql_drop EXECUTE FUNCTION no_drop()" "SELECT count(*) FROM windows" "" "$dmg"
run empty-schema-first "CREATE SCHEMA empty; DO \$\$BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = empty, public', current_database()); END\$\$" "SELECT count(*) FROM tracks" "" "$dmg"
run alone "SELECT 1" "SELECT count(*) FROM tracks" "" "$dmg"
echo "cases: $n"
