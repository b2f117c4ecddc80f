#!/bin/bash
# Hostile pass 21 (server): pass 17's reopen17.py (24 clients, 20 s, a copy moved over every 0.3 s)
# against one binary on a fresh copy of an index (a library of at least 30 songs, user bob with
# password bobpw, its key file beside it): serve started, the generator run, the server stopped.
# Usage: reopen21.sh CLAPSEARCH BASE_DB PORT OUT_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
cli=$1; base=$2; port=$3; d=$4
rm -rf "$d"; mkdir -p "$d"
cp "$base" "$d/lib.db"; cp "$base.key" "$d/lib.db.key"; chmod 600 "$d/lib.db.key"
HF_HUB_OFFLINE=1 "$cli" serve --db "$d/lib.db" --port "$port" --token token-h21s -q > "$d/serve.log" 2>&1 & pid=$!
for i in $(seq 1 100); do curl -s -m 2 "http://127.0.0.1:$port/rest/ping?u=x" > /dev/null && break; sleep 0.2; done
python3 "$here/../hostile17s/reopen17.py" "$port" "$d/lib.db" token-h21s 24 20 0.3 > "$d/out.txt" 2>&1
kill $pid; wait $pid 2>/dev/null
cat "$d/out.txt"
