# Hostile pass 12: objects that lie (__len__, __index__, __fspath__, __iter__, __repr__, __eq__),
# non-UTF-8 paths, odd containers.
CASES = [
("texts: __len__ lies (says 5, yields 2)", """
class L:
    def __len__(self): return 5
    def __iter__(self): return iter(["a", "b"])
    def __getitem__(self, i): return ["a","b","c","d","e"][i]
m = clapsearch.Model(MODEL); print(m.embed_text(L()).shape)
"""),
("texts: __len__ negative", """
class L:
    def __len__(self): return -1
    def __iter__(self): return iter(["a"])
m = clapsearch.Model(MODEL); print(m.embed_text(L()).shape)
"""),
("texts: __len__ 2**70", """
class L:
    def __len__(self): return 2**70
    def __iter__(self): return iter(["a"])
m = clapsearch.Model(MODEL); print(m.embed_text(L()).shape)
"""),
("texts: infinite generator", """
import itertools
m = clapsearch.Model(MODEL); print(m.embed_text(itertools.repeat("a")).shape)
"""),
("texts: generator", """
m = clapsearch.Model(MODEL); print(m.embed_text(t for t in ["a","b"]).shape)
"""),
("texts: dict", """
m = clapsearch.Model(MODEL); print(m.embed_text({"a": 1, "b": 2}).shape)
"""),
("texts: set", """
m = clapsearch.Model(MODEL); print(m.embed_text({"a"}).shape)
"""),
("texts: numpy str array", """
m = clapsearch.Model(MODEL); print(m.embed_text(np.array(["a","b"])).shape)
"""),
("texts: str subclass lying about encode", """
class S(str):
    def encode(self, *a, **k): return b"x"
m = clapsearch.Model(MODEL); print(m.embed_text([S("ab\\ud800")]).shape)
"""),
("texts: str subclass", """
class S(str): pass
m = clapsearch.Model(MODEL); print(float(np.abs(m.embed_text([S("rain")]) - m.embed_text(["rain"])).max()))
"""),
("k: __index__ object", """
class K:
    def __index__(self): return 2
lib = clapsearch.Library(LIB); print(len(lib.search("tone", k=K())))
"""),
("k: __repr__ raises", """
class K:
    def __repr__(self): raise RuntimeError("repr boom")
lib = clapsearch.Library(LIB); lib.search("tone", k=K())
"""),
("k: int subclass lying", """
class K(int):
    def __int__(self): return 10**30
    def __index__(self): return 10**30
lib = clapsearch.Library(LIB); print(len(lib.search("tone", k=K(2))))
"""),
("k: numpy uint64 max", """
lib = clapsearch.Library(LIB); print(len(lib.search("tone", k=np.uint64(2**64-1))))
"""),
("k: numpy int0 array", """
lib = clapsearch.Library(LIB); print(len(lib.search("tone", k=np.array(2))))
"""),
("sr: int subclass lying", """
class R(int):
    def __int__(self): return 0
m = clapsearch.Model(MODEL); print(m.embed_audio(np.zeros(48000, np.float32)+0.1, sr=R(48000)).shape)
"""),
("sr: float subclass is_integer lies", """
class R(float):
    def is_integer(self): return True
m = clapsearch.Model(MODEL); print(m.embed_audio(np.zeros(48000, np.float32)+0.1, sr=R(48000.5)).shape)
"""),
("hop: float subclass __float__ lies", """
class H(float):
    def __float__(self): return 1e-9
m = clapsearch.Model(MODEL); print(m.embed_song(np.zeros(48000*12, np.float32)+0.1, sr=48000, hop=H(5.0))['windows'].shape)
"""),
("hop: numpy float16", """
m = clapsearch.Model(MODEL); print(m.embed_song(np.zeros(48000*12, np.float32)+0.1, sr=48000, hop=np.float16(5.0))['windows'].shape)
"""),
("path: __fspath__ returns int", """
class P:
    def __fspath__(self): return 3
lib = clapsearch.Library(LIB); lib.similar(P())
"""),
("path: __fspath__ raises", """
class P:
    def __fspath__(self): raise KeyError("fspath boom")
lib = clapsearch.Library(LIB); lib.similar(P())
"""),
("path: __fspath__ changes each call", """
import itertools
c = itertools.count()
class P:
    def __fspath__(self): return MUSIC + ("/white.wav" if next(c) % 2 == 0 else "/nope.wav")
lib = clapsearch.Library(LIB); print([r['path'][-10:] for r in lib.similar(P(), k=2)])
"""),
("path: str subclass with __fspath__ lying", """
class P(str):
    def __fspath__(self): return "/nope"
lib = clapsearch.Library(LIB); print([r['path'][-10:] for r in lib.similar(P(MUSIC + "/white.wav"), k=2)])
"""),
("Library db __fspath__ bytes non-UTF-8", """
import shutil; shutil.copy(LIB, b'/tmp/h12/lib-\\xe9.db')
lib = clapsearch.Library(b'/tmp/h12/lib-\\xe9.db'); print(len(lib.tracks()))
"""),
("Library db surrogate str", """
import shutil; shutil.copy(LIB, b'/tmp/h12/lib-\\xe9.db')
lib = clapsearch.Library('/tmp/h12/lib-\\udce9.db'); print(len(lib.tracks()), repr(lib)[:80])
"""),
("non-UTF-8 track: tracks() and similar back", """
lib = clapsearch.Library(LIB); t = [t for t in lib.tracks() if 'pink' in t['path']][0]
print(repr(t['path'][-10:]), [r['path'][-10:] for r in lib.similar(t['path'], k=2)], len(lib.similar(os.fsencode(t['path']), k=2)))
"""),
("non-UTF-8 track as seed in playlist", """
lib = clapsearch.Library(LIB); t = [t for t in lib.tracks() if 'pink' in t['path']][0]
print(len(lib.playlist(seeds=[t['path']], length=3)), len(lib.playlist(seeds=[t['path'] + ':0.5'], length=3)))
"""),
("non-UTF-8 path in path()", """
lib = clapsearch.Library(LIB); ts = lib.tracks(); p = [t for t in ts if 'pink' in t['path']][0]['path']
print(len(lib.path(p, ts[0]['path'] if ts[0]['path'] != p else ts[1]['path'], length=3)))
"""),
("non-UTF-8 seed weight split", """
lib = clapsearch.Library(LIB); print(len(lib.similar(None, seeds=[MUSIC + '/pink caf\\udce9.ogg:0.7'], k=2)))
"""),
("seed path with colon in name", """
import shutil; shutil.copy(MUSIC + '/white.wav', '/tmp/h12/a:0.5.wav')
lib = clapsearch.Library(LIB); print([r['path'][-10:] for r in lib.similar(None, seeds=['/tmp/h12/a:0.5.wav'], k=2)])
"""),
("seeds: dict", """
lib = clapsearch.Library(LIB); print(lib.similar(None, seeds={MUSIC + '/white.wav': 1}, k=2))
"""),
("seeds: generator", """
lib = clapsearch.Library(LIB); print(len(lib.similar(None, seeds=(p for p in [MUSIC + '/white.wav']), k=2)))
"""),
("seeds: numpy int array of ids", """
lib = clapsearch.Library(LIB); print(len(lib.similar(None, seeds=np.array([1, 2]), k=2)))
"""),
("seeds: bool", """
lib = clapsearch.Library(LIB); print(lib.similar(None, seeds=[True], k=2))
"""),
("where: str subclass", """
class S(str): pass
lib = clapsearch.Library(LIB); print(len(lib.search("tone", where=S("duration > 1"))))
"""),
("where: 1 MB expression", """
lib = clapsearch.Library(LIB); print(len(lib.search("tone", where=" or ".join(["duration > 1"]*100000))))
"""),
("where: deep parens", """
lib = clapsearch.Library(LIB); print(len(lib.search("tone", where="("*100000 + "duration > 1" + ")"*100000)))
"""),
("where: deep not", """
lib = clapsearch.Library(LIB); print(len(lib.search("tone", where="not "*100000 + "duration > 1")))
"""),
("search: 10 MB text", """
lib = clapsearch.Library(LIB); print(len(lib.search("a " * 5000000, k=2)))
"""),
("search: 10000 texts", """
lib = clapsearch.Library(LIB); print(len(lib.search(["tone %d" % i for i in range(10000)], k=1)))
"""),
("search: NUL in text", """
lib = clapsearch.Library(LIB); print(len(lib.search("to\\0ne", k=2)))
"""),
("artists: NUL in name", """
lib = clapsearch.Library(LIB); print(lib.artists(like="Test\\0Tones"))
"""),
("index: paths generator with a lying __len__", """
class L:
    def __len__(self): return 100
    def __iter__(self): return iter([MUSIC + "/white.wav"])
import shutil; shutil.copy(LIB, '/tmp/h12/lib-idx.db')
lib = clapsearch.Library('/tmp/h12/lib-idx.db'); print(lib.index(L(), progress=False))
"""),
("index: on_file raising BaseException subclass", """
import shutil; shutil.copy(LIB, '/tmp/h12/lib-idx2.db')
class Stop(BaseException): pass
def cb(*a): raise Stop("stop")
try:
    clapsearch.index([MUSIC], db='/tmp/h12/lib-idx2.db', progress=False, on_file=cb, rebuild=True, model=MODEL)
except Stop as e: print("Stop raised", e)
print(len(clapsearch.Library('/tmp/h12/lib-idx2.db').tracks()))
"""),
("index: progress SystemExit", """
import shutil; shutil.copy(LIB, '/tmp/h12/lib-idx3.db')
def cb(*a): sys.exit(3)
try:
    clapsearch.index([MUSIC], db='/tmp/h12/lib-idx3.db', progress=cb, rebuild=True, model=MODEL)
except SystemExit as e: print("SystemExit", e.code)
"""),
("index: callback that re-enters the library", """
import shutil; shutil.copy(LIB, '/tmp/h12/lib-idx4.db')
lib = clapsearch.Library('/tmp/h12/lib-idx4.db')
seen = []
def cb(kind, path, detail): seen.append(len(lib.search("tone", k=1)))
print(lib.index([MUSIC], progress=False, on_file=cb, rebuild=True)['indexed'] if True else 0, seen[:3])
"""),
("index: callback that starts index on same db", """
import shutil; shutil.copy(LIB, '/tmp/h12/lib-idx5.db')
lib = clapsearch.Library('/tmp/h12/lib-idx5.db'); out = []
def cb(kind, path, detail):
    try: lib.index([MUSIC + '/white.wav'], progress=False)
    except Exception as e: out.append(type(e).__name__ + ': ' + str(e)[:80])
lib.index([MUSIC], progress=False, on_file=cb, rebuild=True); print(out[:1])
"""),
]
