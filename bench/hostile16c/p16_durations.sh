#!/bin/bash
# Hostile pass 16: durations no audio has (R15C-2 reads SQLite's text or bytes as NaN; also
# infinity, negative, 1e308, 1e18) followed through every CLI consumer: status (plain, --json),
# search (table, --json, --csv, --where on duration), similar --json, playlist (table, --json,
# --m3u's #EXTINF), duplicates (--json, --csv), map, and migrate into SQLite (NOT NULL) and into
# PostgreSQL. Wanted: no crash, no nan/inf/huge number in JSON or CSV or M3U, nothing garbage
# stored by migrate (refused by name, or a clean copy).
# Use: P=<port of a PostgreSQL server, user clap, trust> C=<binary> W=<work dir with lib/, M/> p16_durations.sh
set -u
cd "$W" || exit 1
U=postgresql://clap@127.0.0.1:$P
[ -f base.db ] || "$C" index lib --db base.db --model M -q
n=0
bad() {  # flags output that holds what no consumer may print
  grep -Eio '(^|[^a-z])(-?nan|-?inf(inity)?)([^a-z]|$)|-?9223372036854775808|[0-9]{19,}|e\+?3[0-9][0-9]' <<<"$1" | head -3 | tr '\n' ' '
}
one() {  # label, db, command...
  local label=$1 db=$2; shift 2
  local out rc; out=$(timeout 120 "$C" "$@" --db "$db" 2>&1); rc=$?
  [ $rc -ge 124 ] && echo "!! CRASH/HANG rc=$rc $label: $*"
  echo "-- $label rc=$rc $(bad "$out") | $(printf '%s' "$out" | grep -i 'error\|damaged' | head -1 | cut -c1-220)"
}
file_check() {  # label, file
  [ -f "$2" ] && echo "   $1 file: $(bad "$(cat "$2")") $(grep -m1 EXTINF "$2" 2>/dev/null | head -1)"
}
case_() {  # label, store (sqlite|pg), value SQL
  n=$((n+1)); local label=$1 store=$2 v=$3 db
  if [ "$store" = sqlite ]; then
    db=d$n.db; cp base.db "$db"; rm -f "$db".*faiss*
    sqlite3 "$db" "UPDATE tracks SET duration_s = $v WHERE id = 1"
  else
    local name=p16dur$n; db="$U/$name"
    psql -q "$U/postgres" -c "DROP DATABASE IF EXISTS $name" 2>/dev/null; psql -q "$U/postgres" -c "CREATE DATABASE $name"
    "$C" migrate --from base.db --to "$db" -q >/dev/null 2>&1
    psql -q "$db" -c "UPDATE tracks SET duration_s = $v WHERE id = 1"
  fi
  echo "== $label ($store, duration_s = $v)"
  one status "$db" status
  one status-json "$db" status --json
  one search "$db" search tone
  one search-json "$db" search tone --json
  one search-csv "$db" search tone --csv "$W/o$n.csv"; file_check csv "$W/o$n.csv"
  one where-lt "$db" search tone --where 'duration < 1:00' --json
  one where-gt "$db" search tone --where 'duration > 0' --json
  one similar-json "$db" similar 2 --json
  one playlist "$db" playlist --seed 2
  one playlist-json "$db" playlist --seed 2 --json
  one playlist-m3u "$db" playlist --seed 2 --m3u "$W/p$n.m3u"; file_check m3u "$W/p$n.m3u"
  one duplicates-json "$db" duplicates --json
  one duplicates-csv "$db" duplicates --csv "$W/u$n.csv"; file_check csv "$W/u$n.csv"
  one map-json "$db" map -o "$W/m$n.svg" --json; file_check map "$W/m$n.svg"
  rm -f "$W/to$n.db"
  out=$(timeout 300 "$C" migrate --from "$db" --to "$W/to$n.db" -q 2>&1); echo "-- migrate-to-sqlite rc=$? $(printf '%s' "$out" | grep -i error | head -1 | cut -c1-220)"
  [ -f "$W/to$n.db" ] && echo "   stored: $(sqlite3 "$W/to$n.db" 'SELECT quote(duration_s) FROM tracks WHERE id = 1' 2>&1)"
  local pgto=p16durto$n
  psql -q "$U/postgres" -c "DROP DATABASE IF EXISTS $pgto" 2>/dev/null; psql -q "$U/postgres" -c "CREATE DATABASE $pgto"
  out=$(timeout 300 "$C" migrate --from "$db" --to "$U/$pgto" -q 2>&1); echo "-- migrate-to-pg rc=$? $(printf '%s' "$out" | grep -i error | head -1 | cut -c1-220)"
  echo "   stored: $(psql -At "$U/$pgto" -c 'SELECT duration_s FROM tracks WHERE id = 1' 2>&1 | head -1)"
}
for v in "'abc'" "x'00'" "9e999" "-9e999" "-5" "1e308" "1e18" "-0.0"; do case_ "sqlite $v" sqlite "$v"; done
for v in "'NaN'" "'Infinity'" "'-Infinity'" "-5" "1e308" "1e18"; do case_ "pg $v" pg "$v"; done
echo "cases: $n"
