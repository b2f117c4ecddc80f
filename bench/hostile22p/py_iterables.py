#!/usr/bin/python3
"""Hostile pass 22 (Python): iterables where lists are taken: generators (and generators that
raise midway) as texts, seeds, file lists and index paths; dict keys, numpy str arrays,
memoryview, bytearray, str subclasses whose encode raises, list subclasses whose len raises or
that empty themselves when iterated.

    py_iterables.py PYTHON_MODULE_DIR INDEX_DB MODEL_DIR MUSIC_DIR SCRATCH_DIR
"""
import sys, os, itertools
sys.path.insert(0, sys.argv[1])
import numpy as np
import clapsearch
db = sys.argv[2]
M, MUSIC, SCRATCH = sys.argv[3:6]
def run(name, f):
    try:
        r = f()
        print(f"OK    {name}: {repr(r)[:150]}")
    except BaseException as e:
        print(f"RAISE {name}: {type(e).__name__}: {str(e)[:220]}")
lib = clapsearch.Library(db)
m = clapsearch.Model(M)
def gen_raises():
    yield "a"
    raise RuntimeError("boom from generator")
run("embed_text(generator)", lambda: m.embed_text(t for t in ["a", "b"]).shape)
run("embed_text(generator raising)", lambda: m.embed_text(gen_raises()).shape)
run("search(generator of texts)", lambda: len(lib.search(t for t in ["a", "b"])))
run("search(generator raising)", lambda: lib.search(gen_raises()))
run("search(seeds=generator)", lambda: len(lib.search(None, seeds=(s for s in [os.path.join(MUSIC, sorted(os.listdir(MUSIC))[0])]))))
run("similar(seeds=generator raising)", lambda: lib.similar(seeds=gen_raises()))
run("playlist(seeds=iter)", lambda: len(lib.playlist(seeds=iter([os.path.join(MUSIC, sorted(os.listdir(MUSIC))[0])]), length=3)))
run("embed_audio_files(generator)", lambda: m.embed_audio_files(p for p in [os.path.join(MUSIC, sorted(os.listdir(MUSIC))[0])]).shape)
run("embed_audio_files(generator raising)", lambda: m.embed_audio_files(gen_raises()))
run("embed_audio(iterator of arrays)", lambda: m.embed_audio(iter([np.zeros(4800, np.float32)])))
run("index(paths=generator)", lambda: clapsearch.index((p for p in [MUSIC]), db=os.path.join(SCRATCH, 'gen.db'), model=M, progress=False)['indexed'] if True else 0)
run("index(paths=generator raising)", lambda: clapsearch.index(gen_raises(), db=os.path.join(SCRATCH, 'gen2.db'), model=M, progress=False))
run("search(texts=dict keys)", lambda: len(lib.search({"a": 1}.keys())))
run("search(texts=np str array)", lambda: len(lib.search(np.array(["a", "b"]))))
run("search(texts=memoryview)", lambda: lib.search(memoryview(b"abc")))
run("search(texts=bytearray)", lambda: lib.search(bytearray(b"abc")))
run("search(texts=str subclass)", lambda: len(lib.search(type("S", (str,), {})("a"))))
class BadStr(str):
    def __str__(self): raise RuntimeError("str called")
    def encode(self, *a, **k): raise RuntimeError("encode called")
run("search(texts=str subclass raising encode)", lambda: len(lib.search(BadStr("a"))))
class BadLen(list):
    def __len__(self): raise RuntimeError("len called")
run("search(list subclass raising len)", lambda: len(lib.search(BadLen(["a"]))))
class Mutating(list):
    def __iter__(self):
        self.clear(); return super().__iter__()
run("search(list mutating on iter)", lambda: lib.search(Mutating(["a"])))
run("tracks() after lib del of file", lambda: len(lib.tracks()))
