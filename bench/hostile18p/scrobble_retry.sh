#!/bin/bash
# Hostile pass 18 (H16S-5): a retried Subsonic scrobble against `clapsearch serve`, real HTTP.
# Usage: scrobble_retry.sh CLAPSEARCH INDEX.db USER PASSWORD  (the index holds track ids 1 and 2)
set -u
cli=$1 db=$2 user=$3 pw=$4
export HF_HUB_OFFLINE=1
"$cli" serve --db "$db" --port 0 --host 127.0.0.1 > serve.out 2> serve.err &
pid=$!
for i in $(seq 200); do port=$(grep -o 'listening on [^ ]*:[0-9]*' serve.out serve.err 2>/dev/null | grep -o '[0-9]*$' | head -1); [ -n "$port" ] && break; sleep 0.1; done
q="u=$user&p=$pw&f=json&v=1.16.1&c=t"
for call in "id=1&time=1700000000000" "id=1&time=1700000000000" "id=1&time=1700000000999" \
            "id=1&id=1&time=1700000000000&time=1700000000000" "id=1&time=1700000060000" "id=2&time=1700000000000"; do
  curl -s "http://127.0.0.1:$port/rest/scrobble?$call&$q" | grep -o '"status":"[a-z]*"' | head -1
done
curl -s "http://127.0.0.1:$port/rest/getSong?id=1&$q" | grep -o '"playCount":[0-9]*'
kill $pid; wait $pid 2>/dev/null
"$cli" history --json --user "$user" --db "$db" | grep '"plays"'
