#!/bin/sh
# Hostile pass 13 (server): the index reached through a symbolic link, the link swapped (atomically) to
# another file under a running `serve`, then back, then the link's target replaced by a rename.
# Prints /rest/ answers at each step and both files on disk after the server stops.
# Usage: linkswap.sh CLAPSEARCH LIB_DB PORT WORKDIR   (LIB_DB with user bob/bobpw; copied, never written)
set -u
B=$1 SRC=$2 P=$3 W=$4
A='u=bob&p=bobpw&v=1.16.1&c=h13&f=json'
say() { printf '%s: %s\n' "$1" "$(curl -s -m 30 "http://127.0.0.1:$P/rest/$2?$A${3:-}" | python3 -c "import json,sys; d=json.load(sys.stdin)['subsonic-response']; print(d['status'], len(d.get('starred2',{}).get('song',[])) if 'starred2' in d else '', d.get('error',{}).get('message','')[:160])")"; }
mkdir -p "$W"; rm -f "$W"/*.db* "$W"/lib.db
for v in v1 v2 v3; do sqlite3 "$SRC" ".backup $W/$v.db"; sqlite3 "$W/$v.db" "delete from stars"; cp "$SRC.key" "$W/$v.db.key"; done
cp "$SRC.key" "$W/lib.db.key"
ln -s v1.db "$W/lib.db"
"$B" serve --db "$W/lib.db" --port "$P" -q > "$W/s.log" 2>&1 & S=$!
sleep 3
say "v1: star 1" star "&id=1"; say "v1: star 2" star "&id=2"
ln -s v2.db "$W/tmp.link"; mv -T "$W/tmp.link" "$W/lib.db"; sleep 3
say "link to v2: starred" getStarred2; say "v2: star 3" star "&id=3"
ln -s v1.db "$W/tmp.link"; mv -T "$W/tmp.link" "$W/lib.db"; sleep 3
say "link back to v1: starred" getStarred2
mv "$W/v3.db" "$W/v1.db"; sleep 3
say "v3 renamed over v1 (the target): starred" getStarred2; say "v3: star 4" star "&id=4"
sleep 2; say "again" getStarred2
kill $S; wait $S 2>/dev/null
for v in v1 v2; do echo "$v on disk: stars $(sqlite3 "$W/$v.db" 'select group_concat(track_id) from stars' 2>&1), integrity $(sqlite3 "$W/$v.db" 'pragma integrity_check' 2>&1 | head -2 | tr '\n' ' ')"; done
