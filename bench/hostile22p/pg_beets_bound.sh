#!/bin/bash
# Hostile pass 22: H21P-1's bound on beets counts (a million plays and skips in one import) and
# the encodings of history_encodings.py on an index in PostgreSQL (a server started as the tests
# start one: tests/support/start_postgres.sh). 3 indexed songs of 100,000 plays and skips each
# and 4 unknown paths; the same three again; the whole file again; a Latin-1 CSV, a JSON lines
# file with a BOM in the middle, a UTF-32 CSV.
#   pg_beets_bound.sh CLAPSEARCH_BINARY REPO_ROOT MODEL_DIR MUSIC_DIR(history_encodings.sh's) FILES_DIR SCRATCH_DIR
set -u
B=$1 REPO=$2 MODEL=$3 MUSIC=$4 FILES=$5
export TMPDIR=$6
fail() { echo "FAIL: $*"; exit 1; }
. "$REPO/tests/support/start_postgres.sh"
start_postgres
trap stop_postgres EXIT
HF_HUB_OFFLINE=1 "$B" index "$MUSIC" --db "$PG_URL" --model "$MODEL" -q || fail index
echo secretpass123 | "$B" user add anna --db "$PG_URL" >/dev/null || fail user
: > "$TMPDIR/beets.jsonl"
for f in t1 t2 t3 a b c d; do
  echo "{\"path\": \"$MUSIC/$f.flac\", \"play_count\": 100000, \"skip_count\": 100000}" >> "$TMPDIR/beets.jsonl"
done
/usr/bin/time -f "%e s %M KB" "$B" history import "$TMPDIR/beets.jsonl" --format beets --db "$PG_URL"; echo "rc=$?"
head -3 "$TMPDIR/beets.jsonl" > "$TMPDIR/three.jsonl"
"$B" history import "$TMPDIR/three.jsonl" --format beets --db "$PG_URL" --json; echo "rc=$?"
"$B" history import "$TMPDIR/beets.jsonl" --format beets --db "$PG_URL" --json | head -c 300; echo "rc=$?"
for f in csv_latin1.csv lb_bom_mid.jsonl csv_utf32_bom.csv; do
  "$B" history import "$FILES/$f" --db "$PG_URL" --json 2>&1 | head -c 300; echo " rc=$?"
done
"$B" history --db "$PG_URL" --json
