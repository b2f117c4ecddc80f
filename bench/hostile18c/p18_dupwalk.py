#!/usr/bin/env python3
"""Hostile pass 18: a synthetic index for timing the duplicates walk (no audio indexed).

Use: p18_dupwalk.py SMALL.db BIG.db [TRACKS] [COPIES]
SMALL.db is any SQLite index made by `clapsearch index` (its model identity and schema are kept;
its tracks are deleted). BIG.db gets TRACKS-COPIES originals, each a random unit track embedding
with 4 windows near it (each window the track's vector plus noise, normalised), and COPIES tracks
that are byte-identical copies of a random original (same content hash, same embeddings, another
path). Then time `clapsearch duplicates --db BIG.db --json`. The paths do not exist: the keeper's
header read fails and is named per member, as for a moved file.
"""
import random, shutil, sqlite3, struct, sys, math

small, big = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
copies = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
shutil.copyfile(small, big)
db = sqlite3.connect(big)
dim = db.execute("SELECT dim FROM embedding_sets WHERE active").fetchone()[0]
db.execute("PRAGMA foreign_keys = ON")
db.execute("DELETE FROM tracks")
rng = random.Random(18)

def unit(v):
    s = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / s for x in v]

def blob(v):
    return struct.pack("<%df" % len(v), *v)

originals = n - copies
rows = []
for i in range(1, originals + 1):
    t = unit([rng.gauss(0, 1) for _ in range(dim)])
    ws = [unit([a + 0.3 * rng.gauss(0, 1) for a in t]) for _ in range(4)]
    rows.append((t, ws, "%064x" % rng.getrandbits(256)))
tid = wid = 0
def add(path, t, ws, h):
    global tid, wid
    tid += 1
    db.execute("INSERT INTO tracks(id, path, size, mtime_ns, content_hash, duration_s, status, embedding, indexed_at, "
               "window_total) VALUES (?, ?, 1000, 1, ?, 20.0, 'ok', ?, 1, 4)", (tid, path, h, blob(t)))
    for k, w in enumerate(ws):
        wid += 1
        db.execute("INSERT INTO windows(id, track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) "
                   "VALUES (?, ?, ?, ?, ?, -20, 0, ?)", (wid, tid, k, 5.0 * k, 5.0 * k + 10, blob(w)))
for i, (t, ws, h) in enumerate(rows):
    add("/synthetic/%05d.flac" % i, t, ws, h)
for c in range(copies):
    t, ws, h = rows[rng.randrange(originals)]
    add("/synthetic/copies/%05d.flac" % c, t, ws, h)
db.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'")
db.commit()
print("tracks", tid, "windows", wid, "dim", dim)
