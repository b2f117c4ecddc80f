#!/bin/bash
# Hostile pass 19 (server): AccountsConnection::with under replacements of the index file, as root:
# a symbolic link swapped in (mv -T), the file replaced by a folder, a file put back, a bind mount
# of another copy over the name; after each, star / getStarred2 / createPlaylist as bob (bobpw).
# Read the output: a write answered ok must be in the file at the name once the server stops.
# Usage: accounts19.sh CLAPSEARCH PORT INDEX(with users bob) WORK
B=$1; P=$2; SRC=$3; W=$4/pr$P; while umount $W/l.db 2>/dev/null; do :; done; rm -rf $W; mkdir -p $W
sqlite3 $SRC ".backup $W/l.db"; cp $SRC.key $W/l.db.key
sqlite3 $W/l.db ".backup $W/c1.db"; cp $W/l.db.key $W/c1.db.key
$B serve --db $W/l.db --port $P --token tok19secret > $W/serve.log 2>&1 & SP=$!
for i in $(seq 60); do curl -s -o /dev/null "http://127.0.0.1:$P/rest/ping" && break; sleep 0.5; done
R() { curl -s "http://127.0.0.1:$P/rest/$1&u=bob&p=bobpw&v=1.16.1&c=p&f=json" | head -c 300; echo; }
stars() { sqlite3 "$1" "select count(*) from stars" 2>&1; }
raw=$(curl -s "http://127.0.0.1:$P/rest/getRandomSongs?size=3&u=bob&p=bobpw&v=1.16.1&c=p&f=json"); ids=$(echo "$raw" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(str(t["id"]) for t in d["subsonic-response"]["randomSongs"]["song"]))' 2>&1); [ -z "$ids" ] && echo "raw: ${raw:0:300}"
echo "ids: $ids"
ID=$(echo $ids | awk '{print $1}')
echo "== baseline"; R "star?id=$ID"
echo "== symlink swapped in (l.db -> c1.db)"; cp $W/c1.db $W/c1b.db; cp $W/l.db.key $W/c1b.db.key; ln -s $W/c1b.db $W/tmp.lnk && mv -T $W/tmp.lnk $W/l.db
R "star?id=$ID"; R "getStarred2?x=1"; echo "stars in c1b: $(stars $W/c1b.db)"
echo "== directory replacing the file"; rm $W/l.db; mkdir $W/l.db
R "star?id=$ID"; R "getStarred2?x=1"; curl -s -H 'Authorization: Bearer t' "http://127.0.0.1:$P/api/status" | head -c 200; echo
echo "== a file back"; rmdir $W/l.db; sqlite3 $W/c1.db ".backup $W/c2.db"; mv $W/c2.db $W/l.db
R "star?id=$ID"; R "getStarred2?x=1"; 
echo "== bind mount of another copy over the name"; sqlite3 $W/c1.db ".backup $W/c3.db"; mount --bind $W/c3.db $W/l.db && echo mounted
R "star?id=$ID"; R "getStarred2?x=1"; echo "stars in c3 (mounted): $(stars $W/c3.db)"
R "createPlaylist?name=mnt"; echo "playlists in c3: $(sqlite3 $W/c3.db 'select count(*) from playlists')"
kill $SP; wait $SP 2>/dev/null; echo "server exit $?"; tail -3 $W/serve.log
umount $W/l.db; echo "after stop+umount: l.db stars $(stars $W/l.db) playlists $(sqlite3 $W/l.db "select count(*) from playlists"); c3 stars $(stars $W/c3.db) playlists $(sqlite3 $W/c3.db "select count(*) from playlists")"; ls $W
