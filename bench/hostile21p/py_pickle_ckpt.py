#!/usr/bin/python3
"""Hostile pass 21 (Python, laion_clap drop-in): LAION .pt checkpoints an attacker hands over:
a torch zip whose data.pkl runs os.system when unpickled (REDUCE of a GLOBAL), one that builds
a 10**9-element list, a deeply nested one, a memo reference out of range, a .pt that is a
plain pickle (not a zip), a zip member path outside (../../data.pkl). load_ckpt must refuse each
with an error, run nothing (the marker file must not appear), and not crash or hang.

    py_pickle_ckpt.py WORK_DIR
"""
import os
import pickle
import subprocess
import sys
import zipfile

work = sys.argv[1]
marker = os.path.join(work, "pwned")


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {marker}",))


def torch_zip(path, pkl, name="archive/data.pkl"):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(name, pkl)
        z.writestr("archive/version", "3\n")


cases = {
    "REDUCE os.system": lambda p: torch_zip(p, pickle.dumps({"state_dict": Evil()}, protocol=2)),
    "REDUCE os.system, protocol 0": lambda p: torch_zip(p, pickle.dumps(Evil(), protocol=0)),
    "builtins.eval": lambda p: torch_zip(p, b"cbuiltins\neval\n(S'__import__(\"os\").system(\"touch " + marker.encode() + b"\")'\ntR."),
    "a 10**9-element list (BINPUT loop)": lambda p: torch_zip(p, b"\x80\x02]" + b"K\x01a" * 10 + b"."),
    "deep nesting 1e6": lambda p: torch_zip(p, b"\x80\x02" + b"]" * 1000000 + b"."),
    "memo get out of range": lambda p: torch_zip(p, b"\x80\x02h\xff."),
    "plain pickle, not a zip": lambda p: open(p, "wb").write(pickle.dumps(Evil())),
    "member outside: ../../data.pkl": lambda p: torch_zip(p, pickle.dumps({"a": 1}), name="../../data.pkl"),
    "persistent_load id of a huge storage": lambda p: torch_zip(p, b"\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpu\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7ftQ."),
}
for name, make in cases.items():
    path = os.path.join(work, "evil.pt")
    if os.path.exists(marker):
        os.remove(marker)
    make(path)
    prog = f"from clapsearch import laion_clap\nm = laion_clap.CLAP_Module(enable_fusion=False)\nm.load_ckpt({path!r})\nprint('loaded')"
    try:
        r = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=120)
        last = (r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or [""])[-1][:220]
        verdict = "RAN" if os.path.exists(marker) else ("CRASH" if r.returncode < 0 else "HELD")
        print(f"{verdict:6} {name}: exit {r.returncode}: {last}")
    except subprocess.TimeoutExpired:
        print(f"HANG   {name}")
