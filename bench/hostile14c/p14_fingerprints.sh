#!/bin/bash
# Hostile pass 14: hand-made fingerprints (a copy at an offset, odd byte lengths, empty, one
# item, 4 MB) in an SQLite index, then `duplicates` under each kernel set CLAPSEARCH_ISA allows:
# every kernel must give the same groups. Use: p14_fingerprints.sh BINARY INDEX.db (6+ tracks)
# Work folder: $W (default /tmp/h14c/fp).
set -u
BIN=$(realpath "$1"); SRC=$(realpath "$2"); W=${W:-/tmp/h14c/fp}
mkdir -p "$W"; cd "$W" || exit 1
python3 - "$SRC" <<'PY'
import random, shutil, sqlite3, sys
random.seed(14)
def blob(words): return b''.join(w.to_bytes(4, 'little') for w in words)
a = [random.getrandbits(32) for _ in range(3001)]
b = a[37:-11]
b = [x ^ (1 << random.randrange(32)) if random.random() < 0.25 else x for x in b]
cases = {
  'copy':  {1: blob(a), 2: blob(b)},
  'odd':   {1: blob(a) + b'\x01', 2: blob(b) + b'\x02\x03'},
  'empty': {1: blob(a), 2: b''},
  'one':   {1: blob(a), 2: blob(a[:1])},
  'huge':  {1: blob(a * 350), 2: blob(b)},
  'short-odd': {1: b'\x01\x02\x03', 2: b'\x05'},
}
for name, rows in cases.items():
    shutil.copy(sys.argv[1], name + '.db')
    db = sqlite3.connect(name + '.db')
    for tid, items in rows.items():
        db.execute('INSERT OR REPLACE INTO fingerprints(track_id, items) VALUES (?, ?)', (tid, items))
    db.commit(); db.close()
PY
for c in copy odd empty one huge short-odd; do
  for isa in baseline avx2 avx512; do
    out=$(CLAPSEARCH_ISA=$isa timeout 300 "$BIN" duplicates --db "$c.db" --json 2>&1); rc=$?
    printf '%s\n' "$out" > "$c.$isa.out"
    echo "== $c $isa rc=$rc $(printf '%s' "$out" | md5sum | cut -c1-8) $(printf '%s' "$out" | head -c 300 | tr '\n' ' ')"
  done
done
