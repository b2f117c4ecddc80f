#!/bin/sh
# Hostile pass 13 (server): a copy moved over the index under TWO `serve` processes (a supported set-up:
# both watch the file). Server 2 is held (SIGSTOP: a process descheduled, or busy) while server 1 reopens
# the copy and bob stars songs through it; then server 2 goes on, sees the move and closes its old file.
# Prints the stars server 1 answered `ok` for and the stars the copy holds after both servers stop.
# RESUME=KILL: the held server is killed instead of continued (pass 14, killswap.sh).
# Usage: twoswap.sh CLAPSEARCH LIB_DB PORT1 PORT2 WORKDIR   (LIB_DB with user bob/bobpw; copied, never written)
set -u
B=$1 SRC=$2 P1=$3 P2=$4 W=$5
A='u=bob&p=bobpw&v=1.16.1&c=h13&f=json'
mkdir -p "$W"; rm -f "$W"/lib.db* "$W"/copy.db*
sqlite3 "$SRC" ".backup $W/lib.db"; cp "$SRC.key" "$W/lib.db.key"
sqlite3 "$SRC" ".backup $W/copy.db"; sqlite3 "$W/copy.db" "delete from stars"
"$B" serve --db "$W/lib.db" --port "$P1" -q > "$W/s1.log" 2>&1 & S1=$!
"$B" serve --db "$W/lib.db" --port "$P2" -q > "$W/s2.log" 2>&1 & S2=$!
sleep 3
ids=$(sqlite3 "$W/lib.db" "select id from tracks order by id limit 12")
set -- $ids
for id in $1 $2 $3; do curl -s "http://127.0.0.1:$P2/rest/star?$A&id=$id" > /dev/null; done   # old file: WAL frames by server 2
kill -STOP $S2
mv "$W/copy.db" "$W/lib.db"
sleep 4
shift 3
echo "server 1's answers to 9 stars after the swap:"
for id in "$@"; do curl -s -m 20 "http://127.0.0.1:$P1/rest/star?$A&id=$id" | python3 -c "import json,sys; d=json.load(sys.stdin)['subsonic-response']; print(d['status'], d.get('error',{}).get('message','')[:150])"; done | sort | uniq -c
curl -s "http://127.0.0.1:$P1/rest/getStarred2?$A" | python3 -c "import json,sys; d=json.load(sys.stdin)['subsonic-response']; print('server 1 lists', len(d.get('starred2',{}).get('song',[])), 'starred songs', d.get('error',''))"
kill -"${RESUME:-CONT}" $S2; sleep 6
for P in $P1 $P2; do printf 'star through %s after server 2 went on: %s\n' $P "$(curl -s -m 20 "http://127.0.0.1:$P/rest/star?$A&id=$1" | head -c 120)"; shift; done
curl -s "http://127.0.0.1:$P1/rest/getStarred2?$A" | python3 -c "import json,sys; d=json.load(sys.stdin)['subsonic-response']; print('server 1 lists', len(d.get('starred2',{}).get('song',[])), 'starred songs', d.get('error',''))"
curl -s "http://127.0.0.1:$P2/rest/getStarred2?$A" | python3 -c "import json,sys; d=json.load(sys.stdin)['subsonic-response']; print('server 2 lists', len(d.get('starred2',{}).get('song',[])), 'starred songs', d.get('error',''))"
kill $S1 $S2; wait $S1 $S2 2>/dev/null
echo "on disk after both stopped: stars $(sqlite3 "$W/lib.db" 'select count(*) from stars'), integrity $(sqlite3 "$W/lib.db" 'pragma integrity_check' | head -2 | tr '\n' ' ')"
ls -l "$W"/lib.db* | sed 's/.* [0-9][0-9]:[0-9][0-9] //'; cat "$W/s1.log" "$W/s2.log" | head -10
