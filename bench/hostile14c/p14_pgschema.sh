#!/bin/bash
# Hostile pass 14: a PostgreSQL index's schema edited by hand (views in place of tables, retyped
# and extra columns, triggers, a newer version row, a search_path that finds other tables first,
# quoted names), then status, search, similar, user add and history on it.
# Use: P=<port of a PostgreSQL server, user clap, trust> C=<binary> W=<work dir with lib/, M/> p14_pgschema.sh
# Each case is a fresh database made by `index lib --model M`, then edited with psql.
set -u
B=$(ls -d /usr/lib/postgresql/*/bin | tail -1); cd "$W" || exit 1
U=postgresql://clap@127.0.0.1:$P
n=0
run() {  # name, SQL, [URL suffix]
  n=$((n+1)); local db=h14s$n
  "$B/dropdb" -h 127.0.0.1 -p "$P" -U clap --if-exists "$db"; "$B/createdb" -h 127.0.0.1 -p "$P" -U clap "$db"
  "$C" index lib --db "$U/$db" --model M -q >/dev/null 2>&1
  echo pw12345678 > pw.txt
  "$C" user add alice --password-file pw.txt --db "$U/$db" >/dev/null 2>&1
  "$B/psql" -q -h 127.0.0.1 -p "$P" -U clap -d "$db" -v ON_ERROR_STOP=1 -c "$2" 2>sql.err >/dev/null ||
    { echo "== $1: SQL refused: $(head -c 200 sql.err)"; return; }
  echo "== $1"
  for cmd in "status" "search piano --top 2" "similar 1 --top 2" "user add bob --password-file pw.txt" "history import hist.csv --user alice"; do
    # shellcheck disable=SC2086
    out=$(timeout 120 "$C" $cmd --db "$U/$db${3:-}" 2>&1); rc=$?
    printf '  [%s] rc=%s %s\n' "$cmd" "$rc" "$(printf '%s' "$out" | grep -Ei 'error|warn|damag|added|imported|^1 ' | head -c 400 | tr '\n' '|')"
  done
}
printf 'artist,album,track,date\nA,B,t1,2026-01-01 10:00\n' > hist.csv
run sound "SELECT 1"
run view-plays "ALTER TABLE plays RENAME TO plays_real; CREATE VIEW plays AS SELECT * FROM plays_real"
run view-plays-readonly "ALTER TABLE plays RENAME TO plays_real; CREATE VIEW plays AS SELECT DISTINCT * FROM plays_real"
run view-users "ALTER TABLE users RENAME TO users_real; CREATE VIEW users AS SELECT DISTINCT * FROM users_real"
run matview-tracks "ALTER TABLE tracks RENAME TO tracks_real; CREATE MATERIALIZED VIEW tracks AS SELECT * FROM tracks_real"
run retype-duration "ALTER TABLE tracks ALTER COLUMN duration_s TYPE real"
run retype-title "ALTER TABLE tracks ALTER COLUMN title TYPE varchar(3) USING left(title, 3)"
run retype-emb-text "ALTER TABLE tracks ALTER COLUMN embedding TYPE text USING encode(embedding, 'hex')"
run extra-col "ALTER TABLE tracks ADD COLUMN mine text"
run extra-col-notnull "ALTER TABLE plays ADD COLUMN mine int NOT NULL DEFAULT 1"
run extra-col-notnull-nodefault "ALTER TABLE users ADD COLUMN mine int; UPDATE users SET mine = 1; ALTER TABLE users ALTER COLUMN mine SET NOT NULL"
run drop-col "ALTER TABLE tracks DROP COLUMN isrc"
run trigger-plays "CREATE FUNCTION nope() RETURNS trigger AS \$\$ BEGIN RAISE EXCEPTION 'no plays here'; END \$\$ LANGUAGE plpgsql; CREATE TRIGGER t BEFORE INSERT ON plays FOR EACH ROW EXECUTE FUNCTION nope()"
run trigger-users "CREATE FUNCTION nope() RETURNS trigger AS \$\$ BEGIN RAISE EXCEPTION 'no users here'; END \$\$ LANGUAGE plpgsql; CREATE TRIGGER t BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION nope()"
run version-15 "UPDATE schema_version SET version = 15"
run version-99-table "UPDATE schema_version SET version = 99; CREATE TABLE future(x int)"
run version-2rows "INSERT INTO schema_version VALUES (3)"
run schema-evil "CREATE SCHEMA evil; CREATE TABLE evil.tracks (LIKE public.tracks INCLUDING ALL)" "?options=-csearch_path%3Devil,public"
run schema-missing-first "SELECT 1" "?options=-csearch_path%3Dnosuch,public"
run schema-only-evil "CREATE SCHEMA evil" "?options=-csearch_path%3Devil"
run quoted-Tracks "CREATE TABLE \"Tracks\"(x int)"
run rename-schema "ALTER SCHEMA public RENAME TO old; CREATE SCHEMA public"
echo "cases: $n"
