#!/bin/bash
# Hostile pass 17 (server): a SIGTERM at every point of serve's start. For each delay D (seconds),
# start `serve` (plain, and --watch on a new --db path: the index made for it, its first run),
# send SIGTERM after D, and report: exit code, seconds from the signal to the exit, whether it
# printed "listening", whether a second signal was needed (exit not within 30 s), what is left at
# the --db path of the --watch run (rc of `clapsearch status`). Usage:
# sigterm17.sh CLAPSEARCH DB MUSIC_DIR MODEL WORKDIR PORT
B=$1; DB=$2; MUSIC=$3; MODEL=$4; W=$5; P=$6
mkdir -p "$W"
one() {  # label, delay, args...
  local label=$1 d=$2; shift 2
  "$B" serve "$@" --port $P > "$W/out" 2> "$W/err" & local pid=$!
  sleep "$d"; local t0=$(date +%s.%N); kill -TERM $pid 2>/dev/null
  local second=no
  for i in $(seq 300); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  if kill -0 $pid 2>/dev/null; then second=yes; kill -TERM $pid; sleep 2; kill -KILL $pid 2>/dev/null; fi
  wait $pid; local rc=$?; local t1=$(date +%s.%N)
  printf '%-8s D=%-5s rc=%-3s exit_after=%5.2fs listening=%s second_signal=%s %s\n' "$label" "$d" "$rc" \
    "$(echo "$t1 - $t0" | bc)" "$(grep -c listening "$W/out")" "$second" "$(tail -c 160 "$W/err" | tr '\n' '|')"
}
for d in 0 0.02 0.05 0.1 0.2 0.3 0.5 0.8 1.2 2 3; do one plain $d --db "$DB" -q; done
for d in 0 0.05 0.1 0.2 0.4 0.8 1.5 3 5 8; do
  rm -rf "$W/new.db"*; one watch $d --db "$W/new.db" -m "$MODEL" --watch "$MUSIC" --token watch17-secret
  left=$(ls "$W"/new.db* 2>/dev/null | tr '\n' ' ')
  "$B" status --db "$W/new.db" > /dev/null 2> "$W/st"; echo "         left: ${left:-nothing}; status rc $? $(head -c 200 "$W/st" | tr '\n' '|')"
  # and can a server start on what was left?
  if [ -n "$left" ]; then
    "$B" serve --db "$W/new.db" -m "$MODEL" --watch "$MUSIC" --token watch17-secret --port $P > "$W/out2" 2> "$W/err2" & pid=$!
    for i in $(seq 200); do grep -q listening "$W/out2" && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    echo "         restart: listening=$(grep -c listening "$W/out2") $(grep -v '^GET' "$W/err2" | head -c 200 | tr '\n' '|')"
    kill -TERM $pid 2>/dev/null; wait $pid
  fi
done
