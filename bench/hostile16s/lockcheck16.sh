#!/bin/sh
# Hostile pass 16 (server): can a local process make `serve` or a CLI command refuse an index it should
# open, or wait, through the every-name lock check (H15S-1) and its 1.5 s settle? Each case holds
# something on a copy of the index, then times `clapsearch status` (and a server's start) on it:
#   none      nothing held (the time a status takes here)
#   flock     a backup tool's whole-file flock (must open)
#   lockf     a whole-file POSIX read lock from byte 0, as lockf(3) takes it (must open)
#   sqlbyte   a POSIX read lock on one of SQLite's SHARED bytes alone (a connection by another name
#             looks so: refused, after the 1.5 s settle)
#   rowal     another user's read-only SQLite reader (the -shm left by a killed server, not writable
#             for it: SQLite reads without a shared wal-index and locks only the file), then a server
#   same      a server and `status` by the same name started together (ROUNDS rounds: no refusal)
#   devfd     `status --db /dev/fd/3` and /proc/self/fd/3 (the index open on fd 3) while a server runs
# Prints each case's exit code, seconds and first line of error. Usage:
# lockcheck16.sh CLAPSEARCH LIB_DB PORT WORKDIR [ROUNDS]
set -u
B=$1 SRC=$2 P=$3 W=$4 ROUNDS=${5:-5}
PY=/usr/bin/python3  # not a per-user shim: the rowal reader runs as nobody
mkdir -p "$W"; rm -rf "$W"/c; mkdir -p "$W/c"; chmod 755 "$W" "$W/c"
D=$W/c/lib.db
fresh() { rm -f "$D" "$D"-wal "$D"-shm; sqlite3 "$SRC" ".backup $D"; cp "$SRC.key" "$D.key"; chmod 644 "$D"; }
run() { # CASE: clapsearch status on $D, timed
  t0=$(date +%s.%N); "$B" status --db "$D" > "$W/out" 2> "$W/err"; rc=$?; t1=$(date +%s.%N)
  printf '%-8s status rc=%s %.2f s %s\n' "$1" "$rc" "$(echo "$t1 - $t0" | bc)" "$(head -c 160 "$W/err" | head -1)"
}
serve_up() { # CASE: a server started on $D: serving or its refusal
  "$B" serve --db "$D" --port "$P" -q > "$W/s.log" 2>&1 & S=$!
  for i in $(seq 1 40); do curl -s -m 2 "http://127.0.0.1:$P/api/status" > /dev/null && break; sleep 0.25; done
  if curl -s -m 2 "http://127.0.0.1:$P/api/status" > /dev/null; then echo "$1 serve: serving"; else echo "$1 serve: $(head -c 200 "$W/s.log")"; fi
  kill $S 2>/dev/null; wait $S 2>/dev/null
}
fresh
run none
flock "$D" sleep 15 & H=$!; sleep 0.5; run flock; kill $H; wait $H 2>/dev/null
"$PY" -c "import fcntl,time,sys; f=open(sys.argv[1],'rb'); fcntl.lockf(f, fcntl.LOCK_SH); time.sleep(15)" "$D" & H=$!
sleep 1.5; run lockf; kill $H; wait $H 2>/dev/null
"$PY" -c "import fcntl,time,sys; f=open(sys.argv[1],'rb'); fcntl.lockf(f, fcntl.LOCK_SH, 1, 0x40000002); time.sleep(15)" "$D" & H=$!
sleep 1.5; run sqlbyte; kill $H; wait $H 2>/dev/null
# rowal: a server killed leaves lib.db-shm (and -wal); a reader without write access to them.
fresh
"$B" serve --db "$D" --port "$P" -q > "$W/s.log" 2>&1 & S=$!
for i in $(seq 1 60); do [ -e "$D"-shm ] && break; sleep 0.25; done; sleep 1; kill -9 $S; wait $S 2>/dev/null
ls "$D"-shm > /dev/null 2>&1 && echo "rowal: the killed server left $(basename "$D")-shm" || echo "rowal: no -shm left"
setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c "
import sqlite3, sys, time
c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
c.execute('begin'); print('rowal reader: tracks', c.execute('select count(*) from tracks').fetchone()[0], flush=True)
time.sleep(12)" "$D" & H=$!
sleep 1.5; grep -E "^[0-9]+: POSIX" /proc/locks | awk -v pid=$H '$5==pid' | sed 's/^/rowal lock: /'
run rowal; serve_up rowal; kill $H; wait $H 2>/dev/null
# same: a server and status together, by the same name
fresh
for r in $(seq 1 "$ROUNDS"); do
  "$B" serve --db "$D" --port "$P" -q > "$W/s.log" 2>&1 & S=$!
  run "same$r"
  sleep 3; curl -s -m 2 "http://127.0.0.1:$P/api/status" > /dev/null && echo "same$r serve: serving" || echo "same$r serve: $(head -c 200 "$W/s.log")"
  kill $S; wait $S 2>/dev/null
done
# devfd
"$B" serve --db "$D" --port "$P" -q > "$W/s.log" 2>&1 & S=$!; sleep 3
t0=$(date +%s.%N); "$B" status --db /dev/fd/3 3< "$D" > "$W/out" 2> "$W/err"; rc=$?; t1=$(date +%s.%N)
printf 'devfd    /dev/fd/3 rc=%s %.2f s %s\n' "$rc" "$(echo "$t1 - $t0" | bc)" "$(head -1 "$W/err" | head -c 160)"
t0=$(date +%s.%N); "$B" status --db /proc/self/fd/3 3< "$D" > "$W/out" 2> "$W/err"; rc=$?; t1=$(date +%s.%N)
printf 'devfd    /proc/self/fd/3 rc=%s %.2f s %s\n' "$rc" "$(echo "$t1 - $t0" | bc)" "$(head -1 "$W/err" | head -c 160)"
kill $S; wait $S 2>/dev/null
ls "$W/c"
