#!/bin/bash
# Hostile pass 16: a nullable column of clapsearch's tables made NOT NULL by hand (PostgreSQL's
# ALTER ... SET NOT NULL; SQLite's table definition edited, as a table made again by hand is),
# then commands that write NULL there (index of a file without tags, a track that fails to decode)
# and commands that only read. Wanted: named at open, with the way out, not raw SQL at the first
# write. Also: a nullable column made NOT NULL of a table that is not clapsearch's (no damage).
# Use: P=<port of a PostgreSQL server, user clap, trust> C=<binary> W=<work dir with lib/, M/> p16_notnull.sh
set -u
cd "$W" || exit 1
U=postgresql://clap@127.0.0.1:$P
mkdir -p nn; rm -rf nn/lib; cp -r lib nn/lib
[ -f nn/base.db ] || "$C" index nn/lib --db nn/base.db --model M -q
n=0
try() {  # label, db
  ffmpeg -loglevel error -y -f lavfi -i "sine=f=1234:d=5:sample_rate=48000" nn/lib/untagged.flac
  printf 'not audio' > nn/lib/broken.flac
  for cmd in "status" "search tone" "index nn/lib --model M -q"; do
    out=$(timeout 300 "$C" $cmd --db "$2" 2>&1); rc=$?
    echo "-- $1: $cmd rc=$rc | $(printf '%s' "$out" | grep -i 'error' | head -1 | cut -c1-300)"
  done
  rm -f nn/lib/untagged.flac nn/lib/broken.flac
}
for col in title content_hash error embedding; do
  n=$((n+1)); db=nn/d$n.db; cp nn/base.db $db
  python3 - "$db" "$col" <<'PY'
import re, sqlite3, sys
db, col = sys.argv[1], sys.argv[2]
c = sqlite3.connect(db)
c.execute(f"UPDATE tracks SET {col} = COALESCE({col}, 'x')")
sql = c.execute("SELECT sql FROM sqlite_master WHERE name = 'tracks'").fetchone()[0]
c.execute("PRAGMA writable_schema = ON")
c.execute("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'tracks'",
          (re.sub(r"(\b%s\s+\w+)" % col, r"\1 NOT NULL", sql, count=1),))
c.commit()
PY
  try "sqlite tracks.$col" $db
  n=$((n+1)); name=p16nn$n
  psql -q "$U/postgres" -c "DROP DATABASE IF EXISTS $name" 2>/dev/null; psql -q "$U/postgres" -c "CREATE DATABASE $name"
  "$C" migrate --from nn/base.db --to "$U/$name" -q
  psql -q "$U/$name" -c "UPDATE tracks SET $col = COALESCE($col, 'x'); ALTER TABLE tracks ALTER COLUMN $col SET NOT NULL" || continue
  try "pg tracks.$col" "$U/$name"
done
# not clapsearch's table: no damage
n=$((n+1)); db=nn/d$n.db; cp nn/base.db $db; sqlite3 $db "CREATE TABLE mine(a TEXT NOT NULL)"; try "sqlite other table" $db
echo "cases: $n"
