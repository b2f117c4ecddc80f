#!/bin/sh
# Hostile pass 14 (server): the index reached by two hard links (two names of one file), a server on
# each name. SQLite keeps the write-ahead log and its -shm by name, so two processes writing through
# two names keep two logs of one database file. Stars are made through both, alternately; prints the
# answers, then the stars on disk after both stop and integrity_check.
# Usage: hardlink.sh CLAPSEARCH LIB_DB PORT1 PORT2 WORKDIR   (LIB_DB with user bob/bobpw; copied, never written)
# LINK=bind (pass 15, as root): the second name is a bind mount of the file (one link, two names; a
# container's single-file volume), in another folder; unmounted at the end.
set -u
B=$1 SRC=$2 P1=$3 P2=$4 W=$5
A='u=bob&p=bobpw&v=1.16.1&c=h14&f=json'
mkdir -p "$W"; rm -f "$W"/lib.db* "$W"/hard.db*
sqlite3 "$SRC" ".backup $W/lib.db"; sqlite3 "$W/lib.db" "delete from stars"
cp "$SRC.key" "$W/lib.db.key"; cp "$SRC.key" "$W/hard.db.key"
if [ "${LINK:-hard}" = bind ]; then
  mkdir -p "$W/m"; rm -f "$W"/m/hard.db*; : > "$W/m/hard.db"; cp "$SRC.key" "$W/m/hard.db.key"
  mount --bind "$W/lib.db" "$W/m/hard.db"; SECOND=$W/m/hard.db
else
  ln "$W/lib.db" "$W/hard.db"; SECOND=$W/hard.db
fi
"$B" serve --db "$W/lib.db" --port "$P1" -q > "$W/s1.log" 2>&1 & S1=$!
sleep 2
"$B" serve --db "$SECOND" --port "$P2" -q > "$W/s2.log" 2>&1 & S2=$!
sleep 3
ids=$(sqlite3 "$W/lib.db" "select id from tracks order by id limit 20")
i=0
for id in $ids; do
  P=$P1; [ $((i % 2)) -eq 1 ] && P=$P2; i=$((i+1))
  curl -s -m 20 "http://127.0.0.1:$P/rest/star?$A&id=$id" | python3 -c "import json,sys
try: d=json.load(sys.stdin)['subsonic-response']; print('$P', d['status'], d.get('error',{}).get('message','')[:200])
except ValueError: print('$P', 'no answer')"
done | sort | uniq -c
for P in $P1 $P2; do curl -s "http://127.0.0.1:$P/rest/getStarred2?$A" | python3 -c "import json,sys
try: d=json.load(sys.stdin)['subsonic-response']
except ValueError: d={}
print('server $P lists', len(d.get('starred2',{}).get('song',[])), 'starred songs', d.get('error',''))"; done
kill $S1; wait $S1 2>/dev/null; kill $S2; wait $S2 2>/dev/null
[ "${LINK:-hard}" = bind ] && umount "$W/m/hard.db"
echo "on disk after both stopped: stars $(sqlite3 "$W/lib.db" 'select count(*) from stars'), integrity $(sqlite3 "$W/lib.db" 'pragma integrity_check' | head -3 | tr '\n' ' ')"
ls -l "$W"/lib.db* "$SECOND"* | sed 's/.* [0-9][0-9]:[0-9][0-9] //'; cat "$W/s1.log" "$W/s2.log" | head -10
