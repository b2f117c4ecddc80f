#!/bin/sh
# Hostile pass 15 (server): two servers started at the same moment on two hard links of one index
# (the refusal of H14S-1 looks at other processes' locks when a name is first opened, before this
# process has read, and so locked, anything). Prints, per round, which of the two serve; both serving
# is two write-ahead logs of one file. Usage: race15.sh CLAPSEARCH LIB_DB PORT1 PORT2 WORKDIR [ROUNDS]
set -u
B=$1 SRC=$2 P1=$3 P2=$4 W=$5 ROUNDS=${6:-10}
A='u=bob&p=bobpw&v=1.16.1&c=h15&f=json'
mkdir -p "$W"; rm -f "$W"/lib.db* "$W"/hard.db*
sqlite3 "$SRC" ".backup $W/lib.db"; cp "$SRC.key" "$W/lib.db.key"; cp "$SRC.key" "$W/hard.db.key"
ln "$W/lib.db" "$W/hard.db"
both=0
for r in $(seq 1 "$ROUNDS"); do
  "$B" serve --db "$W/lib.db" --port "$P1" -q > "$W/s1.log" 2>&1 & S1=$!
  "$B" serve --db "$W/hard.db" --port "$P2" -q > "$W/s2.log" 2>&1 & S2=$!
  sleep 4
  up=""
  for P in $P1 $P2; do curl -s -m 5 "http://127.0.0.1:$P/rest/ping?$A" | grep -q '"ok"' && up="$up $P"; done
  echo "round $r: serving:${up:- none}"
  [ "$(echo $up | wc -w)" -eq 2 ] && both=$((both + 1))
  kill $S1 $S2 2>/dev/null; wait $S1 $S2 2>/dev/null
done
echo "rounds $ROUNDS, both serving in $both"
