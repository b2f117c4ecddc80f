# Hostile pass 12: arrays (dtype, byte order, layout, read-only, odd shapes) given to the engine.
CASES = [
("big-endian float32 embed_audio equals little", """
m = clapsearch.Model(MODEL)
x = (np.sin(np.arange(48000*3)*0.05)*0.3).astype(np.float32)
a = m.embed_audio(x); b = m.embed_audio(x.astype('>f4'))
print(float(np.abs(a-b).max()))
"""),
("big-endian float32 search_vectors", """
lib = clapsearch.Library(LIB, model=MODEL) if False else clapsearch.Library(LIB)
m = clapsearch.Model(MODEL)
q = m.embed_text(["tone"])
D1, I1 = lib.search_vectors(q, k=3); D2, I2 = lib.search_vectors(q.astype('>f4'), k=3)
print(I1.tolist(), I2.tolist(), float(np.abs(D1-D2).max()))
"""),
("big-endian embed_song", """
m = clapsearch.Model(MODEL)
x = (np.sin(np.arange(48000*12)*0.05)*0.3).astype(np.float32)
a = m.embed_song(x, sr=48000)['track']; b = m.embed_song(x.astype('>f4'), sr=48000)['track']
print(float(np.abs(a-b).max()))
"""),
("big-endian like", """
lib = clapsearch.Library(LIB)
x = (np.sin(np.arange(48000*3)*0.05)*0.3).astype(np.float32)
a = lib.like(x, sr=48000, k=3); b = lib.like(x.astype('>f4'), sr=48000, k=3)
print([r['path'][-12:] for r in a], [r['score'] for r in a] == [r['score'] for r in b])
"""),
("float16 embed_audio", """
m = clapsearch.Model(MODEL); m.embed_audio(np.zeros(48000, np.float16)+0.1)
"""),
("complex64 embed_audio", """
m = clapsearch.Model(MODEL); m.embed_audio(np.zeros(48000, np.complex64)+0.1)
"""),
("float64 search_vectors", """
lib = clapsearch.Library(LIB); m = clapsearch.Model(MODEL)
D, I = lib.search_vectors(m.embed_text(["tone"]).astype(np.float64), k=2); print(I.tolist())
"""),
("int32 search_vectors", """
lib = clapsearch.Library(LIB); D, I = lib.search_vectors(np.ones((1,512), np.int32), k=2); print(I.tolist())
"""),
("search_vectors 1-D", """
lib = clapsearch.Library(LIB); m = clapsearch.Model(MODEL)
D, I = lib.search_vectors(m.embed_text(["tone"])[0], k=2); print(D.shape, I.tolist())
"""),
("search_vectors wrong dim", """
lib = clapsearch.Library(LIB); lib.search_vectors(np.ones((1,511), np.float32), k=2)
"""),
("search_vectors 0 rows", """
lib = clapsearch.Library(LIB); D, I = lib.search_vectors(np.ones((0,512), np.float32), k=2); print(D.shape, I.shape)
"""),
("search_vectors zero vector", """
lib = clapsearch.Library(LIB); D, I = lib.search_vectors(np.zeros((1,512), np.float32), k=2); print(D.tolist(), I.tolist())
"""),
("search_vectors NaN", """
lib = clapsearch.Library(LIB); q = np.ones((1,512), np.float32); q[0,3]=np.nan; print(lib.search_vectors(q, k=2))
"""),
("search_vectors 3-D", """
lib = clapsearch.Library(LIB); print(lib.search_vectors(np.ones((1,1,512), np.float32), k=2))
"""),
("search_vectors fortran 2-D", """
lib = clapsearch.Library(LIB); m = clapsearch.Model(MODEL); q = m.embed_text(["tone", "noise", "chirp"])
D1, I1 = lib.search_vectors(q, k=3); D2, I2 = lib.search_vectors(np.asfortranarray(q), k=3)
print(I1.tolist() == I2.tolist(), float(np.abs(D1-D2).max()))
"""),
("search_vectors reversed strides", """
lib = clapsearch.Library(LIB); m = clapsearch.Model(MODEL); q = m.embed_text(["tone", "noise"])
D1, I1 = lib.search_vectors(q[::-1], k=3); D2, I2 = lib.search_vectors(q[::-1].copy(), k=3)
print(I1.tolist() == I2.tolist(), float(np.abs(D1-D2).max()))
"""),
("search_vectors read-only", """
lib = clapsearch.Library(LIB); m = clapsearch.Model(MODEL); q = m.embed_text(["tone"]); q.setflags(write=False)
print(lib.search_vectors(q, k=2)[1].tolist())
"""),
("search_vectors np.matrix", """
lib = clapsearch.Library(LIB); m = clapsearch.Model(MODEL); q = np.matrix(m.embed_text(["tone"]))
D, I = lib.search_vectors(q, k=2); print(type(D).__name__, I.tolist())
"""),
("search_vectors masked", """
lib = clapsearch.Library(LIB); m = clapsearch.Model(MODEL); q = np.ma.masked_array(m.embed_text(["tone"]), mask=False)
D, I = lib.search_vectors(q, k=2); print(type(D).__name__, I.tolist())
"""),
("search_vectors k=0", """
lib = clapsearch.Library(LIB); print(lib.search_vectors(np.ones((1,512), np.float32), k=0))
"""),
("embed_audio reversed stride", """
m = clapsearch.Model(MODEL); x = (np.sin(np.arange(48000*3)*0.05)*0.3).astype(np.float32)
print(float(np.abs(m.embed_audio(x[::-1]) - m.embed_audio(x[::-1].copy())).max()))
"""),
("embed_audio every-other stride", """
m = clapsearch.Model(MODEL); x = (np.sin(np.arange(96000*3)*0.05)*0.3).astype(np.float32)
print(float(np.abs(m.embed_audio(x[::2]) - m.embed_audio(x[::2].copy())).max()))
"""),
("embed_audio fortran batch", """
m = clapsearch.Model(MODEL); x = (np.random.RandomState(0).randn(3, 48000)*0.1).astype(np.float32)
print(float(np.abs(m.embed_audio(np.asfortranarray(x)) - m.embed_audio(x)).max()))
"""),
("embed_audio read-only memmap", """
x = (np.sin(np.arange(48000*3)*0.05)*0.3).astype(np.float32); x.tofile('/tmp/h12/mm.f32')
mm = np.memmap('/tmp/h12/mm.f32', dtype=np.float32, mode='r'); m = clapsearch.Model(MODEL)
print(float(np.abs(m.embed_audio(mm) - m.embed_audio(x)).max()))
"""),
("embed_audio 0-d", """
m = clapsearch.Model(MODEL); m.embed_audio(np.float32(0.1))
"""),
("embed_audio 0-d array", """
m = clapsearch.Model(MODEL); m.embed_audio(np.array(0.1, np.float32))
"""),
("embed_audio (0,)", """
m = clapsearch.Model(MODEL); m.embed_audio(np.zeros(0, np.float32))
"""),
("embed_audio (3,0)", """
m = clapsearch.Model(MODEL); m.embed_audio(np.zeros((3,0), np.float32))
"""),
("embed_audio (0,48000)", """
m = clapsearch.Model(MODEL); print(m.embed_audio(np.zeros((0,48000), np.float32)).shape)
"""),
("embed_audio 3-D", """
m = clapsearch.Model(MODEL); m.embed_audio(np.zeros((1,1,48000), np.float32))
"""),
("embed_audio bool", """
m = clapsearch.Model(MODEL); m.embed_audio(np.ones(48000, bool))
"""),
("embed_audio object array", """
m = clapsearch.Model(MODEL); m.embed_audio(np.array([0.1]*48000, dtype=object))
"""),
("embed_audio subnormals", """
m = clapsearch.Model(MODEL); print(m.embed_audio(np.full(48000, 1e-45, np.float32)).shape)
"""),
("embed_audio huge values", """
m = clapsearch.Model(MODEL); r = m.embed_audio(np.full(48000, 3e38, np.float32)); print(r.shape, bool(np.isfinite(r).all()))
"""),
("embed_audio zero-stride broadcast", """
m = clapsearch.Model(MODEL); x = np.broadcast_to(np.float32(0.1), (48000,)); print(m.embed_audio(x).shape)
"""),
("embed_audio huge broadcast", """
m = clapsearch.Model(MODEL); x = np.broadcast_to(np.float32(0.1), (10**6, 10**6)); m.embed_audio(x)
"""),
("embed_audio huge 1-D broadcast", """
m = clapsearch.Model(MODEL); x = np.broadcast_to(np.float32(0.1), (2**40,)); m.embed_audio(x)
"""),
("embed_audio 1-D 3 GB", """
m = clapsearch.Model(MODEL); x = np.zeros(2**31 + 5, np.float32); x[:48000] = 0.1; print(m.embed_audio(x).shape)
"""),
("embed_song huge broadcast", """
m = clapsearch.Model(MODEL); x = np.broadcast_to(np.float32(0.1), (2**40,)); m.embed_song(x, sr=48000)
"""),
("like huge broadcast", """
lib = clapsearch.Library(LIB); x = np.broadcast_to(np.float32(0.1), (2**40,)); lib.like(x, sr=48000)
"""),
("embed_song 2-D", """
m = clapsearch.Model(MODEL); m.embed_song(np.zeros((2,48000), np.float32), sr=48000)
"""),
("like 2-D", """
lib = clapsearch.Library(LIB); lib.like(np.zeros((2,48000), np.float32)+0.1, sr=48000)
"""),
("like float64", """
lib = clapsearch.Library(LIB); lib.like(np.zeros(48000, np.float64)+0.1, sr=48000)
"""),
("like big-endian 2-D stereo", """
lib = clapsearch.Library(LIB); lib.like(np.zeros((48000,2), '>f4')+0.1, sr=48000)
"""),
("embed_song float64", """
m = clapsearch.Model(MODEL); m.embed_song(np.zeros(48000, np.float64)+0.1, sr=48000)
"""),
("laion data big-endian", """
from clapsearch import laion_clap
m = laion_clap.CLAP_Module(); m.load_ckpt(MODEL + '/model.safetensors') if os.path.exists(MODEL + '/model.safetensors') else m.load_ckpt(MODEL)
x = (np.sin(np.arange(48000*3)*0.05)*0.3).astype(np.float32).reshape(1,-1)
print(float(np.abs(m.get_audio_embedding_from_data(x) - m.get_audio_embedding_from_data(x.astype('>f4'))).max()))
"""),
("laion data int16 big-endian", """
from clapsearch import laion_clap
m = laion_clap.CLAP_Module(); m.load_ckpt(MODEL + '/model.safetensors') if os.path.exists(MODEL + '/model.safetensors') else m.load_ckpt(MODEL)
x = (np.sin(np.arange(48000*3)*0.05)*10000).astype(np.int16).reshape(1,-1)
print(float(np.abs(m.get_audio_embedding_from_data(x) - m.get_audio_embedding_from_data(x.astype('>i2'))).max()))
"""),
("laion data uint8", """
from clapsearch import laion_clap
m = laion_clap.CLAP_Module(); m.load_ckpt(MODEL + '/model.safetensors') if os.path.exists(MODEL + '/model.safetensors') else m.load_ckpt(MODEL)
m.get_audio_embedding_from_data(np.zeros((1,48000), np.uint8))
"""),
("laion data float16", """
from clapsearch import laion_clap
m = laion_clap.CLAP_Module(); m.load_ckpt(MODEL + '/model.safetensors') if os.path.exists(MODEL + '/model.safetensors') else m.load_ckpt(MODEL)
print(m.get_audio_embedding_from_data((np.zeros((1,48000))+0.1).astype(np.float16)).shape)
"""),
("laion data longdouble", """
from clapsearch import laion_clap
m = laion_clap.CLAP_Module(); m.load_ckpt(MODEL + '/model.safetensors') if os.path.exists(MODEL + '/model.safetensors') else m.load_ckpt(MODEL)
print(m.get_audio_embedding_from_data((np.zeros((1,48000))+0.1).astype(np.longdouble)).shape)
"""),
]
