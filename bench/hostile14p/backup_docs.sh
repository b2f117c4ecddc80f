#!/usr/bin/env bash
# Hostile pass 14: docs/operations.md's Backup section followed literally, each step with a running
# `serve` (bob stars songs through /rest/): sqlite3's .backup while serve writes; status of the copy;
# `mv copy.db library.db` under serve; serve and a Python Library on the copy; everything stopped,
# the copy moved in place and -wal/-shm deleted; migrate into a new file while serve runs, then
# --db pointed at it. Every star acknowledged must be in the file serve answers from afterwards.
# usage: backup_docs.sh CLAPSEARCH PYTHONPATH LIB_DB PORT   (LIB_DB: an index with user bob/bobpw)
set -uo pipefail
B=$(realpath "$1"); PYP=$(realpath "$2"); SRC=$(realpath "$3"); PORT=$4
W=$(mktemp -d /tmp/h14p-backup-XXXXXX)
A="u=bob&p=bobpw&v=1.16.1&c=h14p&f=json"
cp "$SRC" "$W/library.db"; cp "$SRC.key" "$W/library.db.key" 2>/dev/null
SRV=
start() { "$B" serve --db "$1" --port "$PORT" >"$W/serve.log" 2>&1 & SRV=$!; for _ in $(seq 100); do curl -s "127.0.0.1:$PORT/rest/ping?$A" >/dev/null && return; sleep 0.2; done; echo "serve did not start"; }
stop() { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=; }
trap 'stop; rm -rf "$W"' EXIT
star() {  # retried while serve answers 503 / code 0 (documented), up to 30 s
  for _ in $(seq 60); do
    r=$(curl -s "127.0.0.1:$PORT/rest/star?$A&id=$1"); [[ $r == *'"ok"'* ]] && { echo ok; return; }; sleep 0.5
  done; echo "refused: ${r:0:160}"
}
on_disk() { sqlite3 "$1" "select group_concat(track_id) from stars" 2>&1; }
check() { sqlite3 "$1" "pragma integrity_check" 2>&1; }

start "$W/library.db"
echo "star 1 before the backup: $(star 1)"
sqlite3 "$W/library.db" ".backup $W/copy.db"; echo "sqlite3 .backup rc $?"
echo "star 2 after the backup: $(star 2)"
echo "status of the copy: $("$B" status --db "$W/copy.db" 2>&1 | head -2 | tr '\n' ' ')"
mv "$W/copy.db" "$W/library.db"; echo "mv copy.db library.db under serve"
echo "star 3 after the copy is back: $(star 3)"
echo "starred2 (serve): $(curl -s "127.0.0.1:$PORT/rest/getStarred2?$A" | python3 -c 'import json,sys; print(sorted(s["id"] for s in json.load(sys.stdin)["subsonic-response"]["starred2"]["song"]))')"
PYTHONPATH="$PYP" /usr/bin/python3 -c "
import clapsearch, sys; lib = clapsearch.Library(sys.argv[1]); print('python on the copy:', len(lib.search('tone', k=3)))" "$W/library.db"
echo "star 4 with the Library gone: $(star 4)"
stop
echo "after serve stopped: stars on disk $(on_disk "$W/library.db") (want 1,3,4), $(check "$W/library.db"), wal left: $(ls "$W" | grep -c -- '-wal$')"

# Everything stopped: the copy moved in place, -wal and -shm deleted ("always safe").
sqlite3 "$W/library.db" ".backup $W/copy2.db"
start "$W/library.db"; echo "star 5 on the old file: $(star 5)"; stop
mv "$W/copy2.db" "$W/library.db"; rm -f "$W/library.db-wal" "$W/library.db-shm"
start "$W/library.db"; echo "star 6 on the copy put back stopped: $(star 6)"; stop
echo "stars on disk $(on_disk "$W/library.db") (want 1,3,4,6), $(check "$W/library.db")"

# migrate into a new file while serve runs, then --db pointed at it.
start "$W/library.db"
"$B" migrate --from "$W/library.db" --to "$W/migrated.db" >"$W/migrate.log" 2>&1; echo "migrate rc $? $(tail -1 "$W/migrate.log")"
echo "star 7 on the old one after migrate: $(star 7)"; stop
start "$W/migrated.db"; echo "bob on the migrated copy: $(star 8)"; stop
echo "migrated stars $(on_disk "$W/migrated.db") (want 1,3,4,6,8: 7 was after the copy), $(check "$W/migrated.db")"
