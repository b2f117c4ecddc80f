#!/usr/bin/python3
"""Hostile pass 21 (Python): every method and property of the native classes (_Library, _Model)
called on an instance made by __new__ without __init__ (H20P-3), each in its own process, with
arguments of the right types read from pybind11's signature line; then each method called
through its class on an object of another type. Prints one line per call: its exit and last line.

    PYTHONPATH=BUILD/python py_unmade.py
"""
import re
import subprocess
import sys

import numpy as np
from clapsearch import _clapsearch as native

made = {"List[str]": "['a']", "int": "1", "str": "''", "float": "0.5", "bool": "False",
        "numpy.ndarray": "np.zeros((1, 4), np.float32)", "handle": None}
counts = {}
for cls in (native._Library, native._Model):
    for name, member in vars(cls).items():
        if name.startswith("__"):
            continue
        if isinstance(member, property):
            use = f"x.{name}"
        else:
            line = member.__doc__.splitlines()[0]
            params = line[line.index("(") + 1: line.rindex(")")].split(", ")[1:]
            args = [made[re.sub(r" = .*$", "", p.split(": ", 1)[1])] for p in params]
            use = f"x.{name}({', '.join(args)})"
        for how, make in (("unmade", f"native.{cls.__name__}.__new__(native.{cls.__name__})"), ("other type", "object()")):
            if how == "other type":
                if isinstance(member, property):
                    continue
                call = use.replace("x.", f"native.{cls.__name__}.", 1).replace("(", "(x, ", 1).replace(", )", ")")
            else:
                call = use
            code = f"import numpy as np\nfrom clapsearch import _clapsearch as native\nx = {make}\n{call}\nprint('answered')"
            try:
                r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
            except subprocess.TimeoutExpired:
                counts["HANG"] = counts.get("HANG", 0) + 1
                print(f"HANG      {how:10} {cls.__name__}.{name}: no answer in 20 s")
                continue
            last = ((r.stderr.strip().splitlines() or [r.stdout.strip()]) or [""])[-1][:160]
            verdict = "CRASH" if r.returncode < 0 else ("TypeError" if "TypeError" in last else ("answered" if r.returncode == 0 else "other"))
            counts[verdict] = counts.get(verdict, 0) + 1
            print(f"{verdict:9} {how:10} {cls.__name__}.{name}: exit {r.returncode}: {last}")
print(counts)
