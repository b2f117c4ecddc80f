#!/bin/bash
# Hostile pass 15: a PostgreSQL index's tables with what a user made on them - a table with a
# foreign key (plain or ON DELETE CASCADE) to tracks or windows, views and materialized views over
# them, a trigger on them - and a table to make again owned by another role; then `index
# --rebuild`, sound and with a damaged column (H15C-2, H15C-5). What the user made must be named,
# never dropped or emptied.
# Use: P=<port of a PostgreSQL server, user clap, trust> C=<binary> W=<work dir with lib/, M/> p15_pgdeps.sh
set -u
cd "$W" || exit 1
U=postgresql://clap@127.0.0.1:$P
n=0
run() {  # name, SQL made by hand, SQL whose answer must not change, [damage SQL]
  n=$((n+1)); local db=p15d$n
  psql -q "$U/postgres" -c "DROP DATABASE IF EXISTS $db" 2>/dev/null; psql -q "$U/postgres" -c "CREATE DATABASE $db"
  "$C" index lib --db "$U/$db" --model M -q >/dev/null 2>&1
  psql -q "$U/$db" -c "$2" || { echo "== $1: SQL refused"; return; }
  [ -n "${4:-}" ] && psql -q "$U/$db" -c "$4"
  local before after; before=$(psql -At "$U/$db" -c "$3")
  out=$(timeout 300 "$C" index lib --db "$U/$db" --model M --rebuild -q 2>&1); rc=$?
  after=$(psql -At "$U/$db" -c "$3" 2>&1)
  echo "== $1 rc=$rc kept: $before -> $after | $(printf '%s' "$out" | grep -i 'error\|warn' | head -2 | cut -c1-300 | tr '\n' '|')"
}
notes_tracks="CREATE TABLE notes(track_id BIGINT REFERENCES tracks(id), note TEXT); INSERT INTO notes SELECT id, 'mine' FROM tracks"
notes_cascade="CREATE TABLE notes(track_id BIGINT REFERENCES tracks(id) ON DELETE CASCADE, note TEXT); INSERT INTO notes SELECT id, 'mine' FROM tracks"
notes_windows="CREATE TABLE notes(w BIGINT REFERENCES windows(id), note TEXT); INSERT INTO notes SELECT id, 'mine' FROM windows"
mat="CREATE MATERIALIZED VIEW mine AS SELECT track_id, count(*) AS n FROM windows GROUP BY 1"
view="CREATE VIEW mine AS SELECT * FROM fingerprints"
trig="CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RETURN NEW; END\$\$; CREATE TABLE mine(x int); INSERT INTO mine VALUES (1); CREATE TRIGGER t BEFORE INSERT ON windows FOR EACH ROW EXECUTE FUNCTION noop()"
run fk-to-tracks "$notes_tracks" "SELECT count(*) FROM notes"
run fk-cascade-to-tracks "$notes_cascade" "SELECT count(*) FROM notes"
run fk-to-windows "$notes_windows" "SELECT count(*) FROM notes"
run matview-over-windows "$mat" "SELECT count(*) FROM mine"
run view-over-fingerprints "$view" "SELECT count(*) FROM pg_views WHERE viewname = 'mine'"
run trigger-on-windows "$trig" "SELECT count(*) FROM pg_trigger WHERE tgname = 't'"
dmg_w="ALTER TABLE windows ALTER COLUMN end_s TYPE text"; dmg_f="ALTER TABLE fingerprints ALTER COLUMN items TYPE text"
run damaged-windows+fk "$notes_windows" "SELECT count(*) FROM notes" "$dmg_w"
run damaged-windows+matview "$mat" "SELECT count(*) FROM mine" "$dmg_w"
run damaged-fingerprints+view "$view" "SELECT count(*) FROM pg_views WHERE viewname = 'mine'" "$dmg_f"
run damaged-windows+trigger "$trig" "SELECT count(*) FROM pg_trigger WHERE tgname = 't'" "$dmg_w"
run damaged-windows-alone "SELECT 1" "SELECT count(*) FROM windows" "$dmg_w"
# a table to make again owned by another role than --db's
n=$((n+1)); db=p15d$n; psql -q "$U/postgres" -c "DROP DATABASE IF EXISTS $db"; psql -q "$U/postgres" -c "CREATE DATABASE $db"
"$C" index lib --db "$U/$db" --model M -q >/dev/null 2>&1
psql -q "$U/$db" -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'p15other') THEN CREATE ROLE p15other LOGIN; END IF; END\$\$;
  GRANT ALL ON ALL TABLES IN SCHEMA public TO p15other; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO p15other;
  GRANT ALL ON SCHEMA public TO p15other; GRANT CREATE ON DATABASE $db TO p15other; $dmg_f"
out=$(timeout 300 "$C" index lib --db "postgresql://p15other@127.0.0.1:$P/$db" --model M --rebuild -q 2>&1); rc=$?
echo "== other-owner rc=$rc $(printf '%s' "$out" | grep -i error | head -1 | cut -c1-300)"
echo "cases: $n"
