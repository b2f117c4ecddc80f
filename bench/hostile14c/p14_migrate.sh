#!/bin/bash
# Hostile pass 14: `migrate` of an SQLite index edited by hand with foreign keys off (users gone,
# plays of a user id not there, a track gone, a fingerprint of no track, a playlist gone), to a
# SQLite file and to a PostgreSQL database; what was copied (H14C-6).
# Use: P=<port of a PostgreSQL server, user clap, trust> C=<binary> W=<work dir with hist.db, hist.db.key> p14_migrate.sh
set -u
B=$(ls -d /usr/lib/postgresql/*/bin | tail -1); cd "$W" || exit 1; mkdir -p mig
i=0
mc() {  # name, SQL
  i=$((i+1)); rm -f mig/s.db* mig/o.db*; cp hist.db mig/s.db; cp hist.db.key mig/s.db.key
  sqlite3 mig/s.db "PRAGMA foreign_keys=OFF; $2" || return
  echo "== $1"
  "$C" migrate --from mig/s.db --to mig/o.db 2>&1 | tail -1 | cut -c1-400; echo "   rc=${PIPESTATUS[0]}"
  [ -f mig/o.db ] && echo "   o.db: plays=$(sqlite3 mig/o.db 'select count(*) from plays') stars=$(sqlite3 mig/o.db 'select count(*) from stars') users=$(sqlite3 mig/o.db 'select count(*) from users')"
  "$B/dropdb" -h 127.0.0.1 -p "$P" -U clap --if-exists "m14_$i" 2>/dev/null; "$B/createdb" -h 127.0.0.1 -p "$P" -U clap "m14_$i"
  "$C" migrate --from mig/s.db --to "postgresql://clap@127.0.0.1:$P/m14_$i" 2>&1 | tail -1 | cut -c1-400
  echo "   pg: plays=$("$B/psql" -tA -h 127.0.0.1 -p "$P" -U clap -d "m14_$i" -c 'select count(*) from plays' 2>&1 | head -1)"
}
mc sound "SELECT 1"
mc users-gone "DELETE FROM users"
mc plays-of-no-user "UPDATE plays SET user_id = 999 WHERE id IN (SELECT id FROM plays LIMIT 3)"
mc track-gone "DELETE FROM tracks WHERE id = (SELECT track_id FROM plays LIMIT 1)"
mc fingerprint-of-no-track "INSERT INTO fingerprints VALUES (999, x'00000000')"
mc playlist-gone "DELETE FROM playlists"
