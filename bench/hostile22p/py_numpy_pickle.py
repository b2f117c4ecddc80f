#!/usr/bin/python3
"""Hostile pass 22 (Python): pickling a Library, a Model, the errors and an unloaded laion_clap
CLAP_Module; odd numpy inputs not tried by pass 20 (broadcast views of 2^40 samples, 0-d,
(0, N), (N, 0), 3-D, structured dtype, np.matrix, masked arrays, unaligned buffers) into
embed_audio, like and search_vectors (10^9 broadcast rows, k of 2^64-1, np.int64 k, bool k).
Each case prints OK with its answer or RAISE with the exception: a crash, a hang or numpy's own
message naming no argument is a defect.

    py_numpy_pickle.py PYTHON_MODULE_DIR INDEX_DB MODEL_DIR
"""
import sys, os, pickle, copy, threading, gc, traceback
sys.path.insert(0, sys.argv[1])
import numpy as np
import clapsearch
from clapsearch import laion_clap
db = sys.argv[2]
M = sys.argv[3]
def run(name, f):
    try:
        r = f()
        s = repr(r)
        print(f"OK    {name}: {s[:150]}")
    except BaseException as e:
        print(f"RAISE {name}: {type(e).__name__}: {str(e)[:200]}")
lib = clapsearch.Library(db)
print([a for a in dir(lib) if not a.startswith('__')])
# iterators / generators after close
run("tracks type", lambda: type(lib.tracks()))
run("has close", lambda: hasattr(lib, 'close'))
run("context manager", lambda: hasattr(lib, '__enter__'))
r = lib.search("x", k=3)
run("search result type", lambda: type(r))
# pickling library, model, results
run("pickle lib roundtrip search", lambda: pickle.loads(pickle.dumps(lib)).search("x", k=1)[0]['path'])
m = clapsearch.Model(M)
run("pickle model", lambda: pickle.loads(pickle.dumps(m)).embed_text(["a"]).shape)
run("pickle errors", lambda: pickle.loads(pickle.dumps(clapsearch.NotFoundError("x"))))
try:
    lib.similar("/nonexistent.flac")
except Exception as e:
    run("pickle raised NotFoundError", lambda: repr(pickle.loads(pickle.dumps(e))))
    run("NotFound attrs", lambda: (e.errno, e.filename, str(e)[:60]))
try:
    m.embed_audio(np.zeros(10, np.float64))
except Exception as e:
    run("pickle raised InvalidInputError", lambda: repr(pickle.loads(pickle.dumps(e)))[:200])
cm = laion_clap.CLAP_Module(enable_fusion=False)
run("pickle CLAP_Module unloaded", lambda: type(pickle.loads(pickle.dumps(cm))))
run("deepcopy CLAP_Module", lambda: type(copy.deepcopy(cm)))
# numpy huge/odd
a = m
run("0-d array", lambda: a.embed_audio(np.float32(0.5)))
run("broadcast (3, 48000) stride 0", lambda: a.embed_audio(np.broadcast_to(np.float32(0.1), (3, 48000))).shape)
run("broadcast (2, 2**40) stride 0", lambda: a.embed_audio(np.broadcast_to(np.float32(0.1), (2, 2**40))).shape)
run("shape (0, 48000)", lambda: a.embed_audio(np.zeros((0, 48000), np.float32)).shape)
run("shape (48000, 0)", lambda: a.embed_audio(np.zeros((48000, 0), np.float32)).shape)
run("shape (1,1,48000)", lambda: a.embed_audio(np.zeros((1, 1, 48000), np.float32)).shape)
run("structured dtype", lambda: a.embed_audio(np.zeros(48000, dtype=[('a', np.float32)])).shape)
run("float32 subclass matrix", lambda: a.embed_audio(np.matrix(np.zeros((1, 48000), np.float32))).shape)
run("masked array", lambda: a.embed_audio(np.ma.masked_array(np.zeros(48000, np.float32), mask=[True]*48000)).shape)
run("unaligned float32", lambda: a.embed_audio(np.frombuffer(b'\0' + np.zeros(48000, np.float32).tobytes(), np.float32, count=48000, offset=1)).shape)
run("search_vectors 0-d", lambda: lib.search_vectors(np.float32(1.0)))
run("search_vectors (1, 0)", lambda: lib.search_vectors(np.zeros((1, 0), np.float32)))
run("search_vectors (0, 512)", lambda: lib.search_vectors(np.zeros((0, 512), np.float32)))
run("search_vectors broadcast (10**9, 512)", lambda: lib.search_vectors(np.broadcast_to(np.ones(512, np.float32), (10**9, 512)))[0].shape)
run("search_vectors (10**6, 512) broadcast", lambda: lib.search_vectors(np.broadcast_to(np.ones(512, np.float32), (10**6, 512)), k=1)[0].shape)
run("search_vectors all zeros", lambda: lib.search_vectors(np.zeros((1, 512), np.float32), k=2))
run("search_vectors wrong dim", lambda: lib.search_vectors(np.ones((1, 511), np.float32), k=2))
run("search_vectors float16", lambda: lib.search_vectors(np.ones((1, 512), np.float16), k=2))
run("search_vectors bool k", lambda: lib.search_vectors(np.ones((1, 512), np.float32), k=True))
run("search_vectors np.int64 k", lambda: lib.search_vectors(np.ones((1, 512), np.float32), k=np.int64(2))[1])
run("search k=np.uint64(2**64-1)", lambda: lib.search("x", k=np.uint64(2**64-1)))
run("search k=-1", lambda: lib.search("x", k=-1))
run("like read-only 0-stride array", lambda: len(lib.like(np.broadcast_to(np.float32(0.1), (48000*3,)), sr=48000, k=2)))
