#!/bin/sh
# Hostile pass 13 (server): a copy moved over the index while ANOTHER process (a sqlite3 shell) holds a
# read transaction on the old file for HOLD seconds (past the server's 10 s checkpoint timeout), then
# ends. Prints what /rest/ answers before, during and long after, and the files on disk at the end.
# Usage: readerswap.sh CLAPSEARCH LIB_DB PORT WORKDIR HOLD   (LIB_DB with user bob/bobpw; copied, never written)
set -u
B=$1 SRC=$2 P=$3 W=$4 HOLD=$5
A='u=bob&p=bobpw&v=1.16.1&c=h13&f=json'
say() { printf '%s: %s\n' "$1" "$(curl -s -m 30 "http://127.0.0.1:$P/rest/$2?$A${3:-}" | python3 -c "import json,sys; d=json.load(sys.stdin)['subsonic-response']; print(d['status'], d.get('error',{}).get('message','')[:160])")"; }
mkdir -p "$W"; rm -f "$W"/lib.db* "$W"/copy.db*
sqlite3 "$SRC" ".backup $W/lib.db"; cp "$SRC.key" "$W/lib.db.key"
sqlite3 "$SRC" ".backup $W/copy.db"; sqlite3 "$W/copy.db" "delete from stars"
"$B" serve --db "$W/lib.db" --port "$P" -q > "$W/s.log" 2>&1 & S=$!
sleep 3
say "star before" star "&id=1"
(echo "BEGIN; SELECT count(*) FROM tracks;"; sleep "$HOLD"; echo "COMMIT;") | sqlite3 "$W/lib.db" > /dev/null & R=$!
sleep 1
mv "$W/copy.db" "$W/lib.db"
sleep 3; say "3 s after the swap (reader holding)" getStarred2
wait $R; echo "reader ended"
sleep 5; say "5 s after the reader ended" star "&id=2"
sleep 60; say "65 s after the reader ended" star "&id=3"
kill $S; wait $S 2>/dev/null
echo "on disk: stars $(sqlite3 "$W/lib.db" 'select count(*) from stars' 2>&1), integrity $(sqlite3 "$W/lib.db" 'pragma integrity_check' 2>&1 | head -2 | tr '\n' ' ')"
