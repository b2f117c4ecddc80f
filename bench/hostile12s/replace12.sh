#!/bin/sh
# Hostile pass 12 (server): the index deleted and made again, and replaced by a rename, under a
# running `serve` (SQLite). Prints what /api/ and /rest/ answer at each step and whether the file on
# disk is sound afterwards. Usage: replace12.sh CLAPSEARCH LIB_DB OTHER_DB MUSIC_DIR MODEL PORT WORKDIR
# (LIB_DB with a user bob/bobpw; OTHER_DB another index of the same model; both copied, never written).
set -u
B=$1 SRC=$2 OTHER=$3 MUSIC=$4 MODEL=$5 PORT=$6 W=$7
A='u=bob&p=bobpw&v=1.16.1&c=h12&f=json'
probe() {
  echo "-- $1"
  for u in "/api/status" "/api/search?q=x&k=2" "/rest/ping?$A" "/rest/star?$A&id=2" "/rest/getPlaylists?$A"; do
    printf '%s %s\n' "$(curl -s -m 20 -o "$W/b" -w '%{http_code}' "http://127.0.0.1:$PORT$u")" "$(head -c 140 "$W/b")"
  done
}
start() { rm -f "$W"/lib.db*; cp "$(dirname "$SRC")/$(basename "$SRC").key" "$W/lib.db.key"; sqlite3 "$SRC" ".backup $W/lib.db"
  "$B" serve --db "$W/lib.db" --port "$PORT" > "$W/serve.log" 2>&1 & PID=$!; sleep 3; probe start; }
mkdir -p "$W"
# 1. deleted and made again (H12S-4: /rest/ kept the deleted file's users and wrote into it)
start
rm -f "$W/lib.db" "$W/lib.db-wal" "$W/lib.db-shm"; sleep 3; probe deleted
"$B" index "$MUSIC" --db "$W/lib.db" -m "$MODEL" -q; echo newpw | "$B" user add newuser --db "$W/lib.db"; sleep 4; probe "made again (bob must be refused)"
curl -s "http://127.0.0.1:$PORT/rest/ping?u=newuser&p=newpw&v=1.16.1&c=h12&f=json"; echo
kill $PID; wait $PID 2>/dev/null
# 2. another index moved over it (H12S-3: the old -wal is replayed into the new file)
start
sqlite3 "$OTHER" ".backup $W/new.db"; sqlite3 "$W/new.db" "pragma integrity_check"
mv "$W/new.db" "$W/lib.db"; sleep 5; probe "replaced by rename"
kill $PID; wait $PID 2>/dev/null
echo "on disk after the server stopped:"; sqlite3 "$W/lib.db" "pragma integrity_check" 2>&1 | head -3
