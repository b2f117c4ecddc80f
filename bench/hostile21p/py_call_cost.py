#!/usr/bin/python3
"""Hostile pass 21: the CPU cost of made<T>'s check (H20P-3's fix) per call: N calls of
Library.similar(1, k=5) and of the native _Model's `dim` property, CPU time (user+sys) of each
loop. Run once per module (PYTHONPATH) and compare.

    py_call_cost.py INDEX_DB MODEL_DIR N
"""
import resource
import sys

import clapsearch
from clapsearch import _clapsearch as native

db, model, n = sys.argv[1], sys.argv[2], int(sys.argv[3])


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


lib = clapsearch.Library(db, model=model)
first = lib.tracks()[0]["track_id"]
lib.similar(first, k=5)
t = cpu()
for _ in range(n):
    lib.similar(first, k=5)
similar_s = cpu() - t
m = native._Model(model, "fp32", "fp32", 1, "", "")
t = cpu()
for _ in range(n * 100):
    m.dim
dim_s = cpu() - t
print(f"similar x{n}: {similar_s:.3f} s CPU; _Model.dim x{n * 100}: {dim_s:.3f} s CPU")
