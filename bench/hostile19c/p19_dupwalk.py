#!/usr/bin/env python3
"""Hostile pass 19: pass 18's p18_dupwalk.py with vectors made from os.urandom bytes (uniform, not
Gaussian: random directions all the same), so that 20,000 tracks take seconds, not the >19 min of
pure-Python Gaussians at load 12 (pass 18 never finished it). Otherwise the same index.

Hostile pass 18: a synthetic index for timing the duplicates walk (no audio indexed).

Use: p19_dupwalk.py SMALL.db BIG.db [TRACKS] [COPIES]
SMALL.db is any SQLite index made by `clapsearch index` (its model identity and schema are kept;
its tracks are deleted). BIG.db gets TRACKS-COPIES originals, each a random unit track embedding
with 4 windows near it (each window the track's vector plus noise, normalised), and COPIES tracks
that are byte-identical copies of a random original (same content hash, same embeddings, another
path). Then time `clapsearch duplicates --db BIG.db --json`. The paths do not exist: the keeper's
header read fails and is named per member, as for a moved file.
"""
import array, os, random, shutil, sqlite3, struct, sys, math

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

def noise(scale):
    return [scale * (b + 0.5) / 128.0 for b in array.array("b", os.urandom(dim))]

# Only the blobs are kept (pass 18 kept every float as a Python object: 1.1 GB at 20,000 tracks).
originals = n - copies
copy_of = [rng.randrange(originals) for _ in range(copies)]
wanted = set(copy_of)
kept = {}
tid = wid = 0
def add(path, t, ws, h):
    global tid, wid
    tid += 1
    db.execute("INSERT INTO tracks(id, path, size, mtime_ns, content_hash, duration_s, status, embedding, indexed_at, "
               "window_total) VALUES (?, ?, 1000, 1, ?, 20.0, 'ok', ?, 1, 4)", (tid, path, h, t))
    for k, w in enumerate(ws):
        wid += 1
        db.execute("INSERT INTO windows(id, track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) "
                   "VALUES (?, ?, ?, ?, ?, -20, 0, ?)", (wid, tid, k, 5.0 * k, 5.0 * k + 10, w))
for i in range(originals):
    t = unit(noise(1.0))
    ws = [blob(unit([a + b for a, b in zip(t, noise(0.5 / math.sqrt(dim)))])) for _ in range(4)]
    row = (blob(t), ws, "%064x" % rng.getrandbits(256))
    add("/synthetic/%05d.flac" % i, *row)
    if i in wanted:
        kept[i] = row
for c, i in enumerate(copy_of):
    add("/synthetic/copies/%05d.flac" % c, *kept[i])
db.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'")
db.commit()
print("tracks", tid, "windows", wid, "dim", dim)
