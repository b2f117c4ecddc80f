#!/usr/bin/env python3
"""Hostile pass 19 (Python): model sharing between Library objects of one index and across
threads, and teardown at interpreter exit. Each case runs in a child interpreter; prints its exit
status (a crash at exit shows as a signal) and the last line of stderr.
Usage: PYTHONPATH=BUILD/python py_sharing.py DB"""
import subprocess, sys

db = sys.argv[1]
CASES = {
    # two libraries of one index (one shared model): the first dropped while the second searches
    "drop-one-while-other-searches": """
import clapsearch, threading, gc
a = clapsearch.Library(DB); b = clapsearch.Library(DB)
a.search('x'); b.search('x')
stop = False
def loop():
    n = 0
    while not stop:
        assert len(b.search('tone', k=3)) == 3; n += 1
    print('searches', n)
t = threading.Thread(target=loop); t.start()
for i in range(30):
    del a; gc.collect(); a = clapsearch.Library(DB); a.like(a.tracks()[0]['path'], k=2)
stop = True; t.join()
""",
    # one Library used by 8 threads at once, one Model by 4
    "shared-across-threads": """
import clapsearch, threading, numpy as np
lib = clapsearch.Library(DB)
m = clapsearch.Model(lib.tracks and None or None) if False else None
errs = []
def q(i):
    try:
        for j in range(20):
            lib.search('tone %d' % j, k=2); lib.similar(lib.tracks()[i % 6]['path'], k=2)
    except Exception as e: errs.append(repr(e))
ts = [threading.Thread(target=q, args=(i,)) for i in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print('errors', errs[:2])
""",
    # interpreter exit while daemon threads are inside a search (libraries, models still held)
    "exit-during-search": """
import clapsearch, threading, time
lib = clapsearch.Library(DB); lib2 = clapsearch.Library(DB)
def loop(l):
    while True: l.search('tone', k=3)
for l in (lib, lib2, lib, lib2):
    threading.Thread(target=loop, args=(l,), daemon=True).start()
time.sleep(1.0)
print('exiting')
""",
    # exit with libraries in a reference cycle and globals torn down in an odd order
    "exit-cycle": """
import clapsearch, gc
class Holder: pass
h = Holder(); h.lib = clapsearch.Library(DB); h.me = h; h.lib.search('x')
clapsearch.__dict__['_keep'] = h
g = clapsearch.Library(DB); g.search('x')
print('exiting')
""",
    "exit-during-index": """
import clapsearch, threading, time, shutil, tempfile, os
d = tempfile.mkdtemp()
shutil.copy(DB, os.path.join(d, 'c.db'))
lib = clapsearch.Library(os.path.join(d, 'c.db'))
def loop():
    while True: lib.search('tone', k=3); lib.index([os.path.dirname(os.path.abspath(DB)) + '/m'], progress=False)
threading.Thread(target=loop, daemon=True).start()
time.sleep(1.5)
print('exiting')
""",
}
for name, code in CASES.items():
    for run in range(3):
        r = subprocess.run([sys.executable, "-c", code.replace("DB", repr(db))], capture_output=True, text=True, timeout=300)
        err = r.stderr.strip().splitlines()
        print(f"{name:32} run {run}: rc={r.returncode} out={r.stdout.strip().splitlines()[-1:]} err={err[-1:] if err else ''}", flush=True)
