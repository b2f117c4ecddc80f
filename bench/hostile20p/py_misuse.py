#!/usr/bin/python3
"""Hostile pass 20 (Python): objects used the ways a careless or hostile script uses them: made
without __init__ (object.__new__, copy.copy, copy.deepcopy), __init__ called twice, the native
class used bare, pickled with every protocol, weakrefs, and a Library whose index folder is
removed or made unreadable under it. Every case must answer, or raise a Python exception naming
the problem: never crash the interpreter (each case runs in its own process).

    py_misuse.py INDEX.db MODEL_DIR
"""
import os
import subprocess
import sys

db, model = sys.argv[1:3]
cases = {
    "Library.__new__ then search": "L = clapsearch.Library.__new__(clapsearch.Library); L.search('rain')",
    "Model.__new__ then embed_text": "M = clapsearch.Model.__new__(clapsearch.Model); M.embed_text('rain')",
    "native _Library.__new__ then search": "from clapsearch import _clapsearch as c; x = c._Library.__new__(c._Library); x.search(['rain'], 5, 'max', 0.1, 0.05, '', 0, 0, -1, False, [], [], [])",
    "native _Model.__new__ then embed": "from clapsearch import _clapsearch as c; x = [v for k, v in vars(c).items() if k.startswith('_Model')][0]; y = x.__new__(x); y.embed_text(['a'], 16, 0)",
    "Library __init__ twice": f"L = clapsearch.Library(DB); L.__init__(DB); print(len(L.search('rain', k=2)))",
    "native __init__ twice": f"L = clapsearch.Library(DB); L._open(); L._lib.__init__(DB.encode(), b'', b'', b'', 0, 'fp32', '', 300)",
    "copy.copy(Library) then search": "import copy; L = clapsearch.Library(DB); L.search('a'); C = copy.copy(L); print(len(C.search('rain', k=2)))",
    "copy.deepcopy(Library)": "import copy; L = clapsearch.Library(DB); L.search('a'); C = copy.deepcopy(L); print(len(C.search('rain', k=2)))",
    "copy.deepcopy(Model)": "import copy; M = clapsearch.Model(MODEL); C = copy.deepcopy(M); print(C.embed_text('a').shape)",
    "pickle every protocol": "import pickle; L = clapsearch.Library(DB); M = clapsearch.Model(MODEL)\nfor p in range(pickle.HIGHEST_PROTOCOL + 1): pickle.loads(pickle.dumps((L, M), protocol=p))[0].search('rain')",
    "pickle the native _Library": "import pickle; L = clapsearch.Library(DB); L._open(); pickle.dumps(L._lib)",
    "weakref to a Library": "import weakref; L = clapsearch.Library(DB); r = weakref.ref(L); del L; print(r())",
    "index folder removed under a Library": "import shutil, os; d = os.path.dirname(DB) + '/gone'; os.makedirs(d, exist_ok=True); shutil.copy(DB, d + '/x.db'); L = clapsearch.Library(d + '/x.db'); L.search('a'); shutil.rmtree(d); print(len(L.search('rain', k=2)))",
    "index made unreadable under a Library": "import shutil, os; p = os.path.dirname(DB) + '/ro.db'; shutil.copy(DB, p); L = clapsearch.Library(p); L.search('a'); os.chmod(p, 0); print(len(L.search('rain', k=2)))",
    "index truncated to 0 under a Library": "import shutil, os; p = os.path.dirname(DB) + '/cut.db'; shutil.copy(DB, p); L = clapsearch.Library(p); L.search('a'); open(p, 'r+b').truncate(0); print(L.search('rain', k=2))",
    "index truncated to half under a Library": "import shutil, os; p = os.path.dirname(DB) + '/half.db'; shutil.copy(DB, p); L = clapsearch.Library(p); L.search('a'); n = os.path.getsize(p); open(p, 'r+b').truncate(n // 2); print(L.search('rain', k=2)); print(L.tracks()[:1])",
    "Library of /dev/zero": "clapsearch.Library('/dev/zero')",
    "Library of a FIFO": "import os; p = os.path.dirname(DB) + '/fifo.db'; os.path.exists(p) or os.mkfifo(p); clapsearch.Library(p)",
    "Library of /proc/self/mem": "clapsearch.Library('/proc/self/mem')",
}
for name, code in cases.items():
    prog = f"import clapsearch\nDB = {db!r}\nMODEL = {model!r}\n{code}\n"
    try:
        r = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=120)
        last = (r.stderr.strip().splitlines() or [r.stdout.strip()])[-1][:200]
        verdict = "CRASH" if r.returncode < 0 else "HELD"
        print(f"{verdict:6} {name}: exit {r.returncode}: {last}")
    except subprocess.TimeoutExpired:
        print(f"HANG   {name}")
