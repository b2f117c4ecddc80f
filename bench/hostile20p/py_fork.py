#!/usr/bin/python3
"""Hostile pass 20 (Python): Library and Model objects carried into forked children (os.fork,
multiprocessing's "fork" start method, Linux's default before Python 3.14). Each child must answer
as the parent does, and writes from a child must land in the index intact (SQLite: a connection
must not be used across fork, https://www.sqlite.org/howtocorrupt.html section 2.6). Every child
has a deadline: a hang is a finding. Needs an index of a music folder built by the CLI.

    py_fork.py INDEX.db MUSIC_DIR MODEL_DIR
"""
import multiprocessing as mp
import os
import shutil
import signal
import sqlite3
import sys
import threading
import time

import numpy as np

import clapsearch

db, music, model = sys.argv[1:4]
results = []


def child(name, fn, parent_answer=None, deadline_s=120):
    """fn() in a forked child; its answer (repr) through a pipe, compared to parent_answer."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = repr(fn())
        except BaseException as e:  # noqa: BLE001
            out = f"RAISED {type(e).__name__}: {e}"
        os.write(w, out.encode("utf-8", "backslashreplace")[:100000])
        os._exit(0)
    os.close(w)
    start = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > deadline_s:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            results.append((name, "HANG", f"killed after {deadline_s} s"))
            os.close(r)
            return
        time.sleep(0.05)
    out = b""
    while chunk := os.read(r, 65536):
        out += chunk
    os.close(r)
    out = out.decode()
    if os.WIFSIGNALED(status):
        results.append((name, "CRASH", f"signal {os.WTERMSIG(status)}"))
    elif parent_answer is not None and out != repr(parent_answer):
        results.append((name, "DIFFERS", out[:300]))
    else:
        results.append((name, "HELD", out[:160]))


def integrity(path):
    with sqlite3.connect(path) as c:
        return c.execute("pragma integrity_check").fetchone()[0]


lib = clapsearch.Library(db)
m = clapsearch.Model(model)
answer = lib.search("rain", k=5)
text = m.embed_text("rain")
child("search in a forked child", lambda: lib.search("rain", k=5), answer)
child("embed_text in a forked child", lambda: m.embed_text("rain").tolist(), text.tolist())
child("like (a file) in a forked child", lambda: lib.like(os.path.join(music, "white.wav"), k=3),
      lib.like(os.path.join(music, "white.wav"), k=3))
# A write from the child into the index the parent has open.
extra = os.path.join(os.path.dirname(db), "fork-extra")
os.makedirs(extra, exist_ok=True)
shutil.copy(os.path.join(music, "white.wav"), os.path.join(extra, "white-copy.wav"))
n0 = len(lib.tracks())
child("index() from a forked child", lambda: lib.index(extra, progress=False)["indexed"], 1)
results.append(("parent sees the child's track", "HELD" if len(lib.tracks()) == n0 + 1 else "DIFFERS",
                f"{n0} -> {len(lib.tracks())}"))
results.append(("integrity after the child's write", "HELD" if integrity(db) == "ok" else "DAMAGED", integrity(db)))
# The parent writes while a child (forked with the library open) reads.
os.remove(os.path.join(extra, "white-copy.wav"))
child("search while the parent prunes", lambda: (lib.index(extra, progress=False), lib.search("rain", k=5))[1], answer)
results.append(("integrity after", "HELD" if integrity(db) == "ok" else "DAMAGED", integrity(db)))

# Fork while another thread is inside a native call.
stop = threading.Event()


def busy():
    while not stop.is_set():
        lib.search("rain", k=5)
        m.embed_text("a dog barking")


threads = [threading.Thread(target=busy, daemon=True) for _ in range(2)]
for t in threads:
    t.start()
time.sleep(0.5)
for i in range(10):
    child(f"search after a fork during another thread's native call ({i})", lambda: lib.search("rain", k=5), answer, 60)
    child(f"embed_text after a fork during another thread's native call ({i})", lambda: m.embed_text("rain").tolist(),
          text.tolist(), 60)
stop.set()
for t in threads:
    t.join()


def in_worker(q):
    return lib.search(q, k=5)


ctx = mp.get_context("fork")
with ctx.Pool(2) as pool:
    got = pool.map_async(in_worker, ["rain"] * 6).get(timeout=300)
results.append(("multiprocessing fork Pool", "HELD" if all(g == answer for g in got) else "DIFFERS", ""))
for name, verdict, detail in results:
    print(f"{verdict:8} {name}: {detail}")
bad = [r for r in results if r[1] != "HELD"]
print(f"{len(results)} cases, {len(bad)} to look at")
sys.exit(1 if bad else 0)
