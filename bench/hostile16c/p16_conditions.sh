#!/bin/bash
# Hostile pass 16: the PostgreSQL server's conditions that rough15p maps by SQLSTATE only in code,
# made for real: 53300 (a role's CONNECTION LIMIT; the server's max_connections taken by others),
# 57014 (a role's statement_timeout; pg_cancel_backend of a waiting statement), 57P01
# (pg_terminate_backend during `index`), 57P03 (a smart shutdown under way). Wanted: a named
# error with the way out, no statement text, and `index` losing nothing it stored.
# Use: P=<port of a PostgreSQL server of one's own, user clap superuser, trust> PGBIN=<its bin dir>
#      PGDATA=<its data dir> C=<binary> W=<work dir with lib/, M/> p16_conditions.sh
# (the last case stops that server with a smart shutdown and starts it again)
set -u
cd "$W" || exit 1
U=postgresql://clap@127.0.0.1:$P
db=p16cond
psql -q "$U/postgres" -c "DROP DATABASE IF EXISTS $db" 2>/dev/null; psql -q "$U/postgres" -c "CREATE DATABASE $db"
"$C" index lib --db "$U/$db" --model M -q
psql -q "$U/$db" -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'p16user') THEN CREATE ROLE p16user LOGIN; END IF; END\$\$;
  GRANT ALL ON ALL TABLES IN SCHEMA public TO p16user; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO p16user;
  GRANT ALL ON SCHEMA public TO p16user"
AS="postgresql://p16user@127.0.0.1:$P/$db"
show() { echo "-- $1 rc=$2 | $(printf '%s' "$3" | grep -v '^$' | tail -2 | cut -c1-300 | tr '\n' '|')"
         grep -qE 'SELECT |INSERT |UPDATE |DELETE |database error' <<<"$3" && echo "   !! statement text shown"; }
n=0
# 53300: the role's CONNECTION LIMIT
n=$((n+1)); psql -q "$U/$db" -c "ALTER ROLE p16user CONNECTION LIMIT 0"
for cmd in "status" "search tone" "index lib --model M -q"; do out=$("$C" $cmd --db "$AS" 2>&1); show "conn-limit-role $cmd" $? "$out"; done
psql -q "$U/$db" -c "ALTER ROLE p16user CONNECTION LIMIT -1"
# 53300: max_connections taken by other clients (superuser slots aside)
n=$((n+1)); max=$(psql -At "$U/$db" -c "SHOW max_connections"); res=$(psql -At "$U/$db" -c "SHOW superuser_reserved_connections")
busy=$(psql -At "$U/$db" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
pids=(); for i in $(seq 1 $((max - res - busy))); do psql -q "$U/postgres" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 & pids+=($!); done
until [ "$(psql -At "$U/postgres" -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(600)%'")" -ge $((max - res - busy)) ]; do sleep 0.5; done
out=$("$C" status --db "$AS" 2>&1); show "max-connections status" $? "$out"
psql -q "$U/postgres" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(600)%'" >/dev/null
wait "${pids[@]}" 2>/dev/null
# 57014: the role's statement_timeout
n=$((n+1)); psql -q "$U/$db" -c "ALTER ROLE p16user SET statement_timeout = '1ms'"
for cmd in "status" "search tone --json" "index lib --model M -q"; do out=$("$C" $cmd --db "$AS" 2>&1); show "statement-timeout $cmd" $? "$out"; done
psql -q "$U/$db" -c "ALTER ROLE p16user RESET statement_timeout"
# 57014 / 57P01: a statement waiting on a lock another session holds, cancelled / terminated
blocked() {  # label, signal function, command...
  local label=$1 fn=$2; shift 2
  psql -q "$U/$db" -c "BEGIN; LOCK TABLE $LOCKED IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)" >/dev/null 2>&1 & local holder=$!
  until [ "$(psql -At "$U/$db" -c "SELECT count(*) FROM pg_locks WHERE relation = '$LOCKED'::regclass AND granted AND mode = 'AccessExclusiveLock'")" -ge 1 ]; do sleep 0.2; done
  "$C" "$@" --db "$U/$db" >"$W/blocked.out" 2>&1 & local job=$!
  local pid=""; until [ -n "$pid" ]; do sleep 0.2
    pid=$(psql -At "$U/$db" -c "SELECT pid FROM pg_stat_activity WHERE datname = '$db' AND wait_event_type = 'Lock' LIMIT 1")
    kill -0 $job 2>/dev/null || break; done
  [ -n "$pid" ] && psql -q -At "$U/$db" -c "SELECT $fn($pid)" >/dev/null
  wait $job; local rc=$?
  psql -q "$U/postgres" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; LOCK TABLE%'" >/dev/null
  wait $holder 2>/dev/null
  show "$label (waited: ${pid:-never})" $rc "$(cat "$W/blocked.out")"
}
n=$((n+1)); LOCKED=meta; blocked "cancel status" pg_cancel_backend status
n=$((n+1)); LOCKED=meta; blocked "terminate status" pg_terminate_backend status
n=$((n+1)); LOCKED=meta; blocked "terminate search" pg_terminate_backend search tone
# during an index that has stored tracks: the new file's work waits on fingerprints
ffmpeg -loglevel error -y -f lavfi -i "sine=f=1700:d=12:sample_rate=48000" lib/t5.flac
before=$(psql -At "$U/$db" -c "SELECT count(*) FROM tracks")
n=$((n+1)); LOCKED=fingerprints; blocked "terminate index (fingerprints locked)" pg_terminate_backend index lib --model M -q
n=$((n+1)); LOCKED=windows; blocked "cancel index (windows locked)" pg_cancel_backend index lib --model M -q
after=$(psql -At "$U/$db" -c "SELECT count(*) FROM tracks")
out=$("$C" index lib --db "$U/$db" --model M -q 2>&1); echo "-- tracks before $before, after the cut runs $after; index again rc=$? $(psql -At "$U/$db" -c "SELECT count(*) FROM tracks") tracks"
rm -f lib/t5.flac; "$C" index lib --db "$U/$db" --model M -q
# 57P03: a smart shutdown under way (a session still open): new connections refused
n=$((n+1))
psql -q "$U/postgres" -c "SELECT pg_sleep(8)" >/dev/null 2>&1 & hold=$!
sleep 1; su postgres -c "$PGBIN/pg_ctl -D $PGDATA stop -m smart -W" >/dev/null
sleep 1; out=$("$C" status --db "$U/$db" 2>&1); show "smart-shutdown status" $? "$out"
wait $hold 2>/dev/null
su postgres -c "$PGBIN/pg_ctl -D $PGDATA stop -m fast -w" >/dev/null 2>&1
su postgres -c "$PGBIN/pg_ctl -D $PGDATA -w -l $PGDATA/../log start" >/dev/null
echo "cases: $n"
