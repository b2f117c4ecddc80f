#!/usr/bin/env bash
# Hostile pass 16 (H16P-3): a copy put back under `serve` (docs/operations.md, Backup), then a
# client's calls back to back on one kept-alive connection, as a Subsonic app (npm subsonic-api)
# makes them: getStarred2 twice, a star, getStarred2, /api/users. Prints each answer's status and
# the stars in the file at the name afterwards.
# usage: put_back_keepalive.sh CLAPSEARCH LIB_DB PORT   (LIB_DB: make_lib.sh's, user u/pw-123456)
set -u
B=$(realpath "$1"); SRC=$(realpath "$2"); P=$3
W=$(mktemp -d /tmp/h16p-putback-XXXXXX); trap 'rm -rf "$W"' EXIT
cp "$SRC" "$W/lib.db"; cp "$SRC.key" "$W/lib.db.key"
A="u=u&p=pw-123456&v=1.16.1&c=h16p&f=json"
HF_HUB_OFFLINE=1 "$B" serve --db "$W/lib.db" --port "$P" > "$W/serve.log" 2>&1 & SP=$!
for _ in $(seq 100); do curl -s "127.0.0.1:$P/rest/ping?$A" >/dev/null && break; sleep 0.3; done
curl -s "127.0.0.1:$P/rest/star?$A&id=1" >/dev/null
sqlite3 "$W/lib.db" ".backup $W/copy.db"
curl -s "127.0.0.1:$P/rest/star?$A&id=2" >/dev/null
mv "$W/copy.db" "$W/lib.db"
curl -s "127.0.0.1:$P/rest/getStarred2?$A" -o "$W/1" "127.0.0.1:$P/rest/getStarred2?$A" -o "$W/2" \
     "127.0.0.1:$P/rest/star?$A&id=4" -o "$W/3" "127.0.0.1:$P/rest/getStarred2?$A" -o "$W/4" "127.0.0.1:$P/api/users" -o "$W/5" -w '%{http_code} '
echo
for i in 1 2 3 4 5; do printf '%s: ' "$i"; head -c 230 "$W/$i"; echo; done
kill $SP; wait $SP 2>/dev/null
echo "stars in the file at the name: $(sqlite3 "$W/lib.db" 'select group_concat(track_id) from stars')"
