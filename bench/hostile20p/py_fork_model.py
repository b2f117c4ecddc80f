#!/usr/bin/python3
"""Hostile pass 20 (Python): Model calls in children forked while three threads resample, load
models and decode (20 forks, each child with a 60 s deadline; gdb shows a hung child's stack).

    py_fork_model.py MODEL_DIR AUDIO_FILE
"""
import os, sys, threading, time
import numpy as np
import clapsearch
M, AUDIO = sys.argv[1:3]
m = clapsearch.Model(M)
x = (np.random.default_rng(1).standard_normal(44100 * 3) * 0.1).astype(np.float32)
ref = m.embed_audio(x, sr=44100)
stop = threading.Event()
def work(kind):
    while not stop.is_set():
        if kind == 0: m.embed_audio(x, sr=44100)
        elif kind == 1: clapsearch.Model(M)
        else: clapsearch.load_audio(AUDIO, 44100); m.embed_audio_files([AUDIO])
ts = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(3)]
[t.start() for t in ts]; time.sleep(0.5)
res = {"ok": 0, "hang": 0, "err": 0, "diff": 0}
for i in range(20):
    pid = os.fork()
    if pid == 0:
        try:
            a = clapsearch.Model(M).embed_audio(x, sr=44100); b = m.embed_audio(x, sr=44100)
            clapsearch.load_audio(AUDIO, 44100)
            os._exit(0 if np.array_equal(a, ref) and np.array_equal(b, ref) else 3)
        except BaseException as e:
            sys.stderr.write(f"{e}\n"); os._exit(2)
    t0 = time.monotonic()
    while True:
        d, st = os.waitpid(pid, os.WNOHANG)
        if d: res[{0: "ok", 2: "err", 3: "diff"}.get(os.WEXITSTATUS(st), "err")] += 1; break
        if time.monotonic() - t0 > 60:
            os.system(f"gdb -p {pid} -batch -ex 'bt 12' 2>/dev/null | grep -E '^#' | cut -c1-160 | head -12")
            os.kill(pid, 9); os.waitpid(pid, 0); res["hang"] += 1; break
        time.sleep(0.05)
stop.set()
print(res)
