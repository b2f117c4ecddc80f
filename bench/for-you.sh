#!/usr/bin/env bash
# "For you" measured (docs/performance.md#for-you): a synthetic library of TRACKS tracks (bench
# --serve-tracks, one window a track: its clustered vectors), one user with PLAYS plays drawn from
# the neighbourhoods of six songs (`similar`, 3,000 each; a few favourites played often, most
# songs a few times, over two years, one play in twenty a skip), then `bench --for-you`: the
# history read, the taste centres, their labels, six mixes of 50 and the radio's next song,
# in-process, best of 3. Usage: bench/for-you.sh CLAPSEARCH MODEL [TRACKS] [PLAYS] [WORKDIR]
set -euo pipefail
cli="$1"; model="$2"; tracks="${3:-100000}"; plays="${4:-100000}"; work="${5:-$(mktemp -d /tmp/clapsearch-for-you-XXXXXX)}"
db="$work/bench.db"
if [ ! -f "$db" ]; then
  "$cli" bench --serve-tracks "$tracks" --windows-per-track 1 --keep "$work" --model "$model" --seconds 0.5 --clients 1 >/dev/null
fi
"$cli" user list --db "$db" | grep -q listener || echo "listener's password" | "$cli" user add listener --db "$db" >/dev/null
if [ ! -f "$work/neighbours.json" ]; then
  for anchor in 101 $((tracks / 5)) $((2 * tracks / 5)) $((3 * tracks / 5)) $((4 * tracks / 5)) $((tracks - 7)); do
    "$cli" similar "$anchor" -k 3000 --json --db "$db"
  done > "$work/neighbours.json"
  python3 - "$db" "$work/neighbours.json" "$plays" <<'PY'
import json, random, sqlite3, sys, time
db, neighbours, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
groups, text = [], open(neighbours).read()
decoder, pos = json.JSONDecoder(), 0
while pos < len(text):  # six JSON arrays, one after another
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        break
    value, pos = decoder.raw_decode(text, pos)
    groups.append([r["track_id"] for r in value])
con = sqlite3.connect(db)
user = con.execute("SELECT id FROM users WHERE name = 'listener'").fetchone()[0]
rows = {r[0]: (r[1], r[2]) for r in con.execute("SELECT id, content_hash, path FROM tracks")}
rng, now = random.Random(55), int(time.time())
weights = [1.0 / (1 + g) for g in range(len(groups))]  # the first neighbourhood is played most
out = []
for i in range(n):
    g = rng.choices(range(len(groups)), weights)[0]
    song = groups[g][int(len(groups[g]) * rng.random() ** 8)]  # the nearest songs played most
    h, p = rows[song]
    out.append((user, song, h or "", p or "", now - rng.randint(0, 2 * 365 * 86400), 1 if rng.random() < 0.05 else 0, "bench"))
con.executemany("INSERT INTO plays(user_id, track_id, content_hash, path, played_at, skipped, source) VALUES (?,?,?,?,?,?,?)", out)
con.commit()
PY
fi
"$cli" bench --for-you --db "$db" --user listener --repeat 3
