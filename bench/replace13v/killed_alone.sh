#!/bin/sh
# replace13v: the only process that has the index open is killed (SIGKILL, a crash, the OOM killer)
# with changes in its -wal, and then a copy (here another index) is moved over it, as docs/operations.md
# "Backup" says; a server started on the copy reads the killed process's -wal into it.
# Usage: killed_alone.sh CLAPSEARCH LIB_DB MUSIC_DIR MODEL PORT WORKDIR   (LIB_DB with user bob/bobpw)
set -u
B=$1 SRC=$2 MUSIC=$3 MODEL=$4 P=$5 W=$6
A='u=bob&p=bobpw&v=1.16.1&c=r13v&f=json'
rm -rf "$W"; mkdir -p "$W/small"; cp "$(ls "$MUSIC"/* | head -2)" "$W/small/" 2>/dev/null || cp $(ls "$MUSIC"/* | head -2) "$W/small/"
sqlite3 "$SRC" ".backup $W/lib.db"; cp "$SRC.key" "$W/lib.db.key"
"$B" index "$W/small" --db "$W/other.db" -m "$MODEL" -q; echo bobpw | "$B" user add bob --db "$W/other.db" > /dev/null
"$B" serve --db "$W/lib.db" --port "$P" -q > "$W/s.log" 2>&1 & S=$!; sleep 3
for i in 1 2 3 4 5 6; do curl -s "http://127.0.0.1:$P/rest/star?$A&id=$i" > /dev/null; done
kill -9 $S; wait $S 2>/dev/null
echo "left beside the index: $(ls "$W" | grep -e '-wal' -e '-shm' | tr '\n' ' ')"
mv "$W/other.db" "$W/lib.db"; mv "$W/other.db.key" "$W/lib.db.key"
"$B" serve --db "$W/lib.db" --port "$P" -q > "$W/s2.log" 2>&1 & S=$!; sleep 4
curl -s "http://127.0.0.1:$P/rest/getStarred2?$A" | python3 -c "import json,sys; d=json.load(sys.stdin)['subsonic-response']; print('the copy (2 tracks, no stars) served with', len(d.get('starred2',{}).get('song',[])), 'starred songs', d.get('error',''))"
kill $S; wait $S 2>/dev/null
echo "on disk: tracks $(sqlite3 "$W/lib.db" 'select count(*) from tracks'), stars $(sqlite3 "$W/lib.db" 'select group_concat(track_id) from stars'), integrity $(sqlite3 "$W/lib.db" 'pragma integrity_check' | head -2 | tr '\n' ' ')"
