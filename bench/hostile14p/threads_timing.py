"""Hostile pass 14: pass 13's "8 threads while the index file is replaced 50 times" case, timed: for each call that
raised, how long it ran and how many replacements happened while it ran (the Library answers again up to
8 times, docs/python.md). usage: PYTHONPATH=build/python /usr/bin/python3 threads_timing.py LIB [REPLACEMENTS]"""
import os, sys, threading, time, sqlite3, tempfile, traceback, numpy as np, clapsearch
LIB = sys.argv[1]
T = tempfile.mkdtemp(prefix='h14p-'); DB = os.path.join(T, 'lib.db')
def copy_of(src, dst):
    a = sqlite3.connect(src); b = sqlite3.connect(dst); a.backup(b); b.close(); a.close()
copy_of(LIB, DB)
lib = clapsearch.Library(DB)
v = np.ones((1, lib.dim), np.float32)
calls = [('search', lambda: lib.search('tone', k=3)), ('similar', lambda: lib.similar(1, k=2)), ('tracks', lambda: lib.tracks()),
         ('search_vectors', lambda: lib.search_vectors(v, 2))]
errs, counts, stop, reps = [], [0] * 8, [False], []
def worker(i):
    name, f = calls[i % 4]
    while not stop[0]:
        t0 = time.monotonic()
        try: f(); counts[i] += 1
        except Exception as e: errs.append((name, round(time.monotonic()-t0,2), sum(1 for r in reps if t0 <= r <= time.monotonic())))
th = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
[t.start() for t in th]
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 50):
    copy_of(DB, DB + '.bak'); os.rename(DB + '.bak', DB); reps.append(time.monotonic()); time.sleep(0.1)
stop[0] = True; [t.join() for t in th]
print(sum(counts), len(errs), errs[:6])
