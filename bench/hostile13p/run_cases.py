"""Hostile pass 13 (pass 12's runner) (Python): runs each case of a case file in a fresh interpreter under a
timeout and prints CRASH (a signal) / HANG / the exception / the value, one line per case.

usage: PYTHONPATH=build/python /usr/bin/python3 bench/hostile12p/run_cases.py CASES.py LIB MODEL
(CLAPSEARCH_CLI names the binary for cases_library.py.) A case file defines CASES = [(name, source), ...]; each source runs after PRELUDE with LIB (an
index made by make_lib.sh), MODEL (a model folder) and MUSIC (its music folder) defined."""
import os, subprocess, sys

PRELUDE = """
import os, sys, threading, signal, time, numpy as np, clapsearch
LIB, MODEL, MUSIC = sys.argv[1], sys.argv[2], sys.argv[3]
"""

def run(name, src, lib, model, music, timeout=90):
    code = PRELUDE + src + "\n"
    try:
        r = subprocess.run([sys.executable, "-c", code, lib, model, music], capture_output=True, text=True,
                           timeout=timeout, errors="backslashreplace")
    except subprocess.TimeoutExpired:
        return "HANG"
    if r.returncode < 0:
        return f"CRASH signal {-r.returncode}: {r.stderr[-300:]!r}"
    lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
    if r.returncode != 0:
        return "EXC " + (lines[-1] if lines else f"rc {r.returncode}")[:400]
    return "OK " + r.stdout.strip().replace("\n", " | ")[:400]

if __name__ == "__main__":
    ns = {}
    exec(open(sys.argv[1]).read(), ns)
    lib, model = sys.argv[2], sys.argv[3]
    music = sys.argv[4] if len(sys.argv) > 4 else ""
    only = sys.argv[5] if len(sys.argv) > 5 else ""
    for name, src in ns["CASES"]:
        if only and only not in name:
            continue
        print(f"{name}: {run(name, src, lib, model, music)}", flush=True)
