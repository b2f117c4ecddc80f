"""Hostile pass 14 (Python): what pass 13 added (a query answered again when the index file is
replaced, up to 8 times) pushed further: a replacement loop by another process (an attacker),
replacements by a file that is not an index, the 9th replacement; and buffers pass 12 did not
give (memoryview, array.array, bytes, a buffer of another process's shared memory), LAION's
README code as it is written (without librosa: clapsearch.load_audio reads the file), Ctrl-C
while a call is answered again. Run with bench/hostile12p/run_cases.py; each case copies LIB."""
import os as _os, sys as _sys
# Pass 13's set-up (a copy of LIB at T/lib.db, copy_of, integrity) and its `case`, taken from
# cases_replace.py beside this folder (run_cases.py runs this file with its path as argv[1]).
exec(open(_os.path.join(_os.path.dirname(_os.path.abspath(_sys.argv[1])), '..', 'hostile13p', 'cases_replace.py')).read())
CASES.clear()
SETUP += """
import array
copy_of(LIB, os.path.join(T, 'good.db'))
# Another process renames copies over DB as fast as it can until T/stop exists (`garbage`: every
# other copy is a text file).
ATTACK = '''
import os, shutil, sys, time
T, garbage = sys.argv[1], sys.argv[2] == '1'
n = 0
while not os.path.exists(os.path.join(T, 'stop')):
    src = os.path.join(T, 'good.db')
    tmp = os.path.join(T, 'next.db')
    if garbage and n % 2:
        open(tmp, 'w').write('not an index')
    else:
        shutil.copyfile(src, tmp)
    os.rename(tmp, os.path.join(T, 'lib.db')); n += 1
print(n)
'''
def attack(seconds, garbage=False, calls=None):
    p = subprocess.Popen([sys.executable, '-c', ATTACK, T, '1' if garbage else '0'], stdout=subprocess.PIPE, text=True)
    ok, errs, t0 = 0, {}, time.time()
    while time.time() - t0 < seconds:
        for f in calls:
            try: f(); ok += 1
            except Exception as e:
                key = type(e).__name__ + ': ' + str(e).replace(T, 'T')[:110]
                errs[key] = errs.get(key, 0) + 1
    open(os.path.join(T, 'stop'), 'w').close()
    n = p.communicate()[0].strip()
    return ok, n, errs
"""

case('attacker replaces the index in a loop (copies) while search/similar/tracks run')("""
lib = clapsearch.Library(DB)
ok, n, errs = attack(8, calls=[lambda: lib.search('tone', k=3), lambda: lib.similar(1, k=2), lambda: lib.tracks()])
after = len(lib.search('tone', k=3))
print('ok', ok, 'replacements', n, 'errors', errs, '| after the loop', after, integrity(DB))
""")

case('attacker alternates copies and text files')("""
lib = clapsearch.Library(DB)
ok, n, errs = attack(8, garbage=True, calls=[lambda: lib.search('tone', k=3), lambda: lib.tracks()])
if open(DB, 'rb').read(6) != b'SQLite': copy_of(os.path.join(T, 'good.db'), DB + '.x'); os.rename(DB + '.x', DB)
after = len(lib.search('tone', k=3))
print('ok', ok, 'replacements', n, 'errors', errs, '| after the good copy is back', after, integrity(DB))
""")

case('attacker loop, 4 threads, then the Library closed and a serve-free CLI reads the file')("""
lib = clapsearch.Library(DB)
errs, stop, counts = [], [False], [0]
def w():
    while not stop[0]:
        try: lib.search('tone', k=2); counts[0] += 1
        except Exception as e: errs.append(str(e).replace(T, 'T')[:100])
th = [threading.Thread(target=w) for _ in range(4)]
[t.start() for t in th]
ok, n, e2 = attack(6, calls=[lambda: lib.tracks()])
stop[0] = True; [t.join() for t in th]
del lib
r = subprocess.run([os.environ['CLAPSEARCH_CLI'], 'status', '--db', DB], capture_output=True, text=True)
print('threads ok', counts[0], 'errors', len(errs), sorted(set(errs))[:2], 'main', ok, e2, 'replacements', n, '| status rc', r.returncode, integrity(DB))
""")

case('Ctrl-C while the attacker replaces the file')("""
lib = clapsearch.Library(DB)
signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
p = subprocess.Popen([sys.executable, '-c', ATTACK, T, '0'], stdout=subprocess.PIPE, text=True)
got = []
for i in range(40):
    signal.setitimer(signal.ITIMER_REAL, 0.003 * (i % 7 + 1))
    try:
        lib.search('tone', k=2); got.append('ok')
    except KeyboardInterrupt: got.append('KI')
    except Exception as e: got.append(type(e).__name__)
    signal.setitimer(signal.ITIMER_REAL, 0)
open(os.path.join(T, 'stop'), 'w').close(); p.communicate()
print({g: got.count(g) for g in set(got)}, len(lib.search('tone', k=3)), integrity(DB))
""")

case('memoryview, array.array, bytes, bytearray as audio and queries')("""
m = clapsearch.Model(MODEL); lib = clapsearch.Library(DB)
x = (np.sin(np.arange(48000 * 2) * 0.05) * 0.3).astype(np.float32)
ref = m.embed_audio(x)
for name, v in [('memoryview', memoryview(x)), ('array.array', array.array('f', x.tolist())), ('bytes', x.tobytes()),
                ('bytearray', bytearray(x.tobytes())), ('list', x.tolist()[:48000])]:
    try:
        r = m.embed_audio(v); print(name, 'embed_audio', r.shape, float(np.abs(r - ref).max()))
    except Exception as e: print(name, 'embed_audio', type(e).__name__, str(e)[:100])
q = m.embed_text(['tone'])
for name, v in [('memoryview', memoryview(q)), ('list', q.tolist())]:
    try: print(name, 'search_vectors', lib.search_vectors(v, 2)[1].tolist())
    except Exception as e: print(name, 'search_vectors', type(e).__name__, str(e)[:100])
""")

case('an array whose buffer another thread resizes while the engine reads it')("""
m = clapsearch.Model(MODEL)
x = np.zeros(48000 * 60, np.float32) + 0.1
errs = []
def grow():
    time.sleep(0.05)
    try: x.resize(10, refcheck=True)
    except Exception as e: errs.append(type(e).__name__ + ': ' + str(e)[:80])
t = threading.Thread(target=grow); t.start()
r = m.embed_audio(x); t.join()
print(r.shape, errs)
""")

case('shared memory of another process as audio, unlinked while read')("""
from multiprocessing import shared_memory
m = clapsearch.Model(MODEL)
sh = shared_memory.SharedMemory(create=True, size=48000 * 4 * 30)
x = np.ndarray((48000 * 30,), np.float32, buffer=sh.buf); x[:] = 0.1
def unlink(): time.sleep(0.05); sh.unlink()
t = threading.Thread(target=unlink); t.start()
r = m.embed_audio(x); t.join()
print(r.shape, np.isfinite(r).all())
del x; sh.close()
""")

case("LAION's README code (filelist, data, quantisation through torch, texts), librosa replaced by load_audio")("""
import torch
from clapsearch import laion_clap
def int16_to_float32(x):
    return (x / 32767.0).astype(np.float32)
def float32_to_int16(x):
    x = np.clip(x, a_min=-1., a_max=1.)
    return (x * 32767.).astype(np.int16)
model = laion_clap.CLAP_Module(enable_fusion=False)
model.load_ckpt(os.path.join(MODEL, 'laion.pt'))
audio_file = [os.path.join(MUSIC, 'tone0.flac'), os.path.join(MUSIC, 'white.wav')]
audio_embed = model.get_audio_embedding_from_filelist(x=audio_file, use_tensor=False)
print(audio_embed[:, -2:].shape, audio_embed.shape)
audio_data = clapsearch.load_audio(audio_file[0], sr=48000)
audio_data = audio_data.reshape(1, -1)
a2 = model.get_audio_embedding_from_data(x=audio_data, use_tensor=False)
print(a2.shape, float(np.abs(a2[0] - audio_embed[0]).max()))
audio_data = torch.from_numpy(int16_to_float32(float32_to_int16(audio_data))).float()
try: print(model.get_audio_embedding_from_data(x=audio_data, use_tensor=True).shape)
except Exception as e: print('use_tensor=True', type(e).__name__, str(e)[:90])
a3 = model.get_audio_embedding_from_data(x=audio_data, use_tensor=False)
print('tensor data', a3.shape, float(np.abs(a3[0] - a2[0]).max()))
text_data = ["I love the contrastive learning", "I love the pretrain model"]
text_embed = model.get_text_embedding(text_data)
print(text_embed.shape)
try: print(model.get_text_embedding(text_data, use_tensor=True).shape)
except Exception as e: print('text use_tensor=True', type(e).__name__, str(e)[:90])
""")

case('laion_clap: load_ckpt of a missing file, of a folder, of a text file, model_id 0 and 2')("""
from clapsearch import laion_clap
for arg in [dict(ckpt='/nonexistent/x.pt'), dict(ckpt=T), dict(ckpt=os.path.join(T, 'lib.db')), dict(model_id=0), dict(model_id=2)]:
    m = laion_clap.CLAP_Module(enable_fusion=False)
    try: m.load_ckpt(**arg); print(arg, 'loaded')
    except Exception as e: print(list(arg.values())[0] if 'model_id' in arg else 'file', type(e).__name__, str(e).replace(T, 'T')[:120])
""")

case('errors name no internal path (memfd, build folder, source files)')("""
m = clapsearch.Model(MODEL); lib = clapsearch.Library(DB)
msgs = []
for f in [lambda: m.embed_audio(np.zeros(10, np.float32), sr=1000), lambda: m.embed_audio(np.full(48000, np.nan, np.float32)),
          lambda: m.embed_song(np.zeros(100, np.float32), sr=44100), lambda: lib.like(np.zeros(5, np.float32), sr=8000),
          lambda: clapsearch.load_audio(DB), lambda: m.embed_audio_files([DB]), lambda: lib.like(DB)]:
    try: f(); msgs.append('ok')
    except Exception as e: msgs.append(str(e).replace(T, 'T')[:140])
leaks = [s for s in msgs if any(w in s for w in ('memfd', '/proc/', '.cpp', '/src/', '/build/', 'clapsearch-'))]
print(len(msgs), 'leaks', leaks)
print(msgs)
""")

case('threads= of odd kinds for Model, Library, laion_clap')("""
from clapsearch import laion_clap
out = []
for t in [0, -1, 1.0, 2.5, '2', True, np.int64(2), 2**31, 2**64]:
    for name, f in [('Model', lambda: clapsearch.Model(MODEL, threads=t)), ('Library', lambda: clapsearch.Library(DB, threads=t))]:
        try: f(); out.append(f'{name} {t!r} ok')
        except Exception as e: out.append(f'{name} {t!r} {type(e).__name__}')
print(out)
""")
