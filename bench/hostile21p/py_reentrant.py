#!/usr/bin/python3
"""Hostile pass 21 (Python): callbacks that call back into clapsearch while it calls them:
`index(on_file=..., progress=...)` whose callback searches the same Library, indexes again (the
same index, another index), makes a Model, embeds, deletes the Library, or raises; a numpy
array subclass whose __array__ / __len__ / __float__ calls into the Library. Each in its own
process with a 120 s deadline: a hang or a crash is a defect; an answer or a clear error holds.

    py_reentrant.py MUSIC_DIR MODEL_DIR WORK_DIR
"""
import subprocess
import sys

music, model, work = sys.argv[1:4]
head = f"""
import clapsearch, numpy as np, os, shutil
MUSIC, MODEL, WORK = {music!r}, {model!r}, {work!r}
db = os.path.join(WORK, 'r%d.db' % os.getpid())
clapsearch.index(MUSIC, db=db, model=MODEL, progress=False)
L = clapsearch.Library(db, model=MODEL)
"""
cases = {
    "on_file searches the same Library": "L.index(MUSIC, rebuild=True, progress=False, on_file=lambda *a: print(len(L.search('tone', k=2))))",
    "progress searches the same Library": "L.index(MUSIC, rebuild=True, progress=lambda *a: L.search('tone', k=1))",
    "on_file indexes the same index again": "L.index(MUSIC, rebuild=True, progress=False, on_file=lambda *a: L.index(MUSIC, progress=False))",
    "on_file indexes another index": "clapsearch.index(MUSIC, db=db, model=MODEL, rebuild=True, progress=False, on_file=lambda *a: clapsearch.index(MUSIC, db=db + '.2', model=MODEL, progress=False))",
    "on_file makes a Model and embeds": "L.index(MUSIC, rebuild=True, progress=False, on_file=lambda *a: clapsearch.Model(MODEL).embed_text('a'))",
    "on_file deletes the Library": "g = {'L': L}\ndef cb(*a):\n    g.pop('L', None)\nL.index(MUSIC, rebuild=True, progress=False, on_file=cb); del L",
    "on_file removes the index file": "L.index(MUSIC, rebuild=True, progress=False, on_file=lambda *a: os.path.exists(db) and os.remove(db))",
    "on_file raises": "L.index(MUSIC, rebuild=True, progress=False, on_file=lambda *a: 1 / 0)",
    "progress raises SystemExit": "L.index(MUSIC, rebuild=True, progress=lambda *a: exit(3))",
    "progress calls os._exit": "L.index(MUSIC, rebuild=True, progress=lambda *a: os._exit(4))",
    "array whose __array__ searches": "class A:\n    def __array__(self, dtype=None, copy=None):\n        L.search('x', k=1)\n        return np.zeros((1, L.dim), np.float32)\nprint(L.search_vectors(A(), k=1) if hasattr(L, 'search_vectors') else 'no search_vectors')",
    "texts iterable that searches": "class T(list):\n    def __iter__(self):\n        L.search('x', k=1)\n        return iter(['rain'])\nprint(len(L.search(T(['a']), k=1)))",
    "str subclass __str__ searches": "class S(str):\n    def __str__(self):\n        L.search('x', k=1)\n        return 'rain'\nprint(len(L.search(S('a'), k=1)))",
    "k whose __index__ searches": "class K:\n    def __index__(self):\n        L.search('x', k=1)\n        return 2\nprint(len(L.search('rain', k=K())))",
    "k whose __index__ indexes": "class K:\n    def __index__(self):\n        L.index(MUSIC, progress=False)\n        return 2\nprint(len(L.search('rain', k=K())))",
}
for name, code in cases.items():
    prog = head + code + "\nprint('done')\n"
    try:
        r = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=120)
        last = (r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or [""])[-1][:220]
        verdict = "CRASH" if r.returncode < 0 else "HELD"
        print(f"{verdict:6} {name}: exit {r.returncode}: {last}")
    except subprocess.TimeoutExpired:
        print(f"HANG   {name}")
