# Hostile pass 12: a Library whose database changes underneath it, signals, threads.
PRE = """
import shutil, subprocess
CLI = os.environ['CLAPSEARCH_CLI']  # the clapsearch binary
def fresh(name):
    p = '/tmp/h12/' + name
    for s in ('', '-wal', '-shm'):
        if os.path.exists(p + s): os.remove(p + s)
    shutil.copy(LIB, p); return p
"""
CASES = [(n, PRE + s) for n, s in [
("db deleted while open", """
p = fresh('u1.db'); lib = clapsearch.Library(p); print(len(lib.search('tone', k=2)))
os.remove(p)
try: print(len(lib.search('tone', k=2)))
except Exception as e: print(type(e).__name__, str(e)[:200])
"""),
("db replaced by a text file", """
p = fresh('u2.db'); lib = clapsearch.Library(p); lib.search('tone', k=2)
open(p + '.new', 'w').write('not an index'); os.replace(p + '.new', p)
try: print(len(lib.search('tone', k=2)))
except Exception as e: print(type(e).__name__, str(e)[:200])
"""),
("db truncated in place", """
p = fresh('u3.db'); lib = clapsearch.Library(p); lib.search('tone', k=2)
open(p, 'r+b').truncate(4096)
try: print(len(lib.search('tone', k=2)))
except Exception as e: print(type(e).__name__, str(e)[:200])
"""),
("db zero bytes in place", """
p = fresh('u3b.db'); lib = clapsearch.Library(p); lib.search('tone', k=2)
open(p, 'w').close()
try: print(len(lib.search('tone', k=2)))
except Exception as e: print(type(e).__name__, str(e)[:200])
"""),
("db overwritten with garbage in place", """
p = fresh('u4.db'); lib = clapsearch.Library(p); lib.search('tone', k=2)
sz = os.path.getsize(p); open(p, 'r+b').write(os.urandom(sz))
try: print(len(lib.search('tone', k=2)))
except Exception as e: print(type(e).__name__, str(e)[:200])
"""),
("db chmod 000 (root)", """
p = fresh('u5.db'); lib = clapsearch.Library(p); lib.search('tone', k=2); os.chmod(p, 0)
try: print(len(lib.search('tone', k=2)))
except Exception as e: print(type(e).__name__, str(e)[:200])
"""),
("db swapped for another library's index (other files)", """
p = fresh('u6.db'); lib = clapsearch.Library(p); a = [r['path'] for r in lib.search('tone', k=5)]
os.makedirs('/tmp/h12/other', exist_ok=True)
subprocess.run(['ffmpeg','-nostdin','-loglevel','error','-y','-f','lavfi','-i','sine=f=500:d=5','/tmp/h12/other/o.wav'], check=True)
q = '/tmp/h12/u6b.db'
[os.remove(q + s) for s in ('', '-wal', '-shm') if os.path.exists(q + s)]
subprocess.run([CLI, 'index', '/tmp/h12/other', '--db', q, '--model', MODEL], check=True, capture_output=True)
os.replace(q, p)
for s in ('-wal', '-shm'):
    if os.path.exists(p + s): os.remove(p + s)
try: print([r['path'][-8:] for r in lib.search('tone', k=5)], [t['path'][-8:] for t in lib.tracks()])
except Exception as e: print(type(e).__name__, str(e)[:200])
"""),
("tracks pruned by CLI between calls", """
p = fresh('u7.db'); lib = clapsearch.Library(p); n1 = len(lib.tracks())
os.makedirs('/tmp/h12/m7', exist_ok=True); shutil.copy(MUSIC + '/white.wav', '/tmp/h12/m7/w.wav')
r = subprocess.run([CLI, 'index', '/tmp/h12/m7', '--db', p, '--model', MODEL, '--prune'], capture_output=True, text=True)
print(n1, r.returncode, r.stderr.strip().splitlines()[-1][:120] if r.stderr.strip() else '', len(lib.tracks()), len(lib.search('tone', k=10)))
"""),
("CLI rebuild with another hop while Library queries in a thread", """
p = fresh('u8.db'); lib = clapsearch.Library(p); errs = []; stop = []
def q():
    while not stop:
        try: lib.search('tone', k=3); lib.similar(1, k=2)
        except Exception as e: errs.append(type(e).__name__ + ': ' + str(e)[:150])
t = threading.Thread(target=q); t.start()
r = subprocess.run([CLI, 'index', MUSIC, '--db', p, '--model', MODEL, '--rebuild', '--hop', '2.5'], capture_output=True, text=True)
stop.append(1); t.join(); print(r.returncode, len(errs), errs[:2], len(lib.tracks()))
"""),
("similar(track_id) of a track the CLI pruned", """
p = fresh('u9.db'); lib = clapsearch.Library(p); tid = [t for t in lib.tracks() if 'white' in t['path']][0]['track_id']
r = subprocess.run([CLI, 'remove', MUSIC + '/white.wav', '--db', p], capture_output=True, text=True)
print('remove rc', r.returncode, r.stderr[:100])
try: print(lib.similar(tid, k=2))
except Exception as e: print(type(e).__name__, str(e)[:200])
"""),
("SIGINT while threads search", """
lib = clapsearch.Library(LIB); stop = []; errs = []
def q():
    while not stop:
        try: lib.search(['tone %d' % i for i in range(300)], k=3)
        except BaseException as e: errs.append(type(e).__name__)
ts = [threading.Thread(target=q) for _ in range(3)]; [t.start() for t in ts]
time.sleep(1); t0 = time.time()
try:
    signal.raise_signal(signal.SIGINT); time.sleep(5)
    print('no KeyboardInterrupt')
except KeyboardInterrupt:
    print('KeyboardInterrupt after', round(time.time() - t0, 2))
stop.append(1); [t.join() for t in ts]; print('threads errors', errs[:3])
"""),
("SIGINT from another process during long embed_text", """
m = clapsearch.Model(MODEL)
subprocess.Popen(['sh', '-c', 'sleep 1; kill -INT %d' % os.getpid()])
t0 = time.time()
try: m.embed_text(['word ' * 60] * 200000); print('finished', round(time.time() - t0, 1))
except KeyboardInterrupt: print('KeyboardInterrupt after', round(time.time() - t0, 1))
"""),
("SIGINT during search_vectors big k", """
lib = clapsearch.Library(LIB)
subprocess.Popen(['sh', '-c', 'sleep 1; kill -INT %d' % os.getpid()])
t0 = time.time()
try:
    for i in range(100000): lib.search_vectors(np.random.rand(2000, 512).astype(np.float32), k=5)
    print('finished')
except KeyboardInterrupt: print('KeyboardInterrupt after', round(time.time() - t0, 1))
"""),
("custom SIGINT handler, embed_audio long batch", """
m = clapsearch.Model(MODEL); got = []
signal.signal(signal.SIGINT, lambda *a: got.append(1))
subprocess.Popen(['sh', '-c', 'sleep 1; kill -INT %d' % os.getpid()])
t0 = time.time(); r = m.embed_audio(np.zeros((400, 48000), np.float32) + 0.1); print(r.shape, 'handler ran', got, round(time.time() - t0, 1))
"""),
("SIGTERM default during index", """
p = fresh('u10.db')
pid = os.fork()
if pid == 0:
    clapsearch.index([MUSIC], db=p, model=MODEL, rebuild=True, progress=False); os._exit(0)
time.sleep(0.5); os.kill(pid, signal.SIGTERM); _, st = os.waitpid(pid, 0)
lib = clapsearch.Library(p); print('status', st, len(lib.tracks()))
"""),
("threads: Model shared by 8 threads embed_text identical", """
m = clapsearch.Model(MODEL); ref = m.embed_text(['rain %d' % i for i in range(50)]); out = [None]*8
def w(i): out[i] = m.embed_text(['rain %d' % i for i in range(50)])
ts = [threading.Thread(target=w, args=(i,)) for i in range(8)]; [t.start() for t in ts]; [t.join() for t in ts]
print(all(np.array_equal(o, ref) for o in out))
"""),
("threads: Library.index from 2 threads on 2 libraries + queries", """
p1, p2 = fresh('u11.db'), fresh('u12.db'); errs = []
def w(p):
    try: clapsearch.Library(p).index([MUSIC], progress=False, rebuild=True)
    except Exception as e: errs.append(str(e)[:100])
ts = [threading.Thread(target=w, args=(p,)) for p in (p1, p2)]; [t.start() for t in ts]; [t.join() for t in ts]
print(errs, len(clapsearch.Library(p1).tracks()), len(clapsearch.Library(p2).tracks()))
"""),
("threads: Model constructed in 4 threads at once", """
out = []; errs = []
def w():
    try: out.append(clapsearch.Model(MODEL).embed_text(['x']))
    except Exception as e: errs.append(str(e)[:100])
ts = [threading.Thread(target=w) for _ in range(4)]; [t.start() for t in ts]; [t.join() for t in ts]
print(len(out), errs, all(np.array_equal(o, out[0]) for o in out))
"""),
("threads: a Library closed (del) while another thread queries", """
lib = clapsearch.Library(LIB); errs = []
def w():
    for _ in range(50):
        try: lib.search('tone', k=2)
        except Exception as e: errs.append(str(e)[:100])
t = threading.Thread(target=w); t.start(); del lib; import gc; gc.collect(); t.join(); print(errs)
"""),
("fork while another thread is inside the engine", """
m = clapsearch.Model(MODEL); stop = []
def w():
    while not stop: m.embed_audio(np.zeros((4, 48000), np.float32) + 0.1)
t = threading.Thread(target=w); t.start(); time.sleep(0.5)
pid = os.fork()
if pid == 0:
    signal.alarm(60)
    r = m.embed_text(['child']); os._exit(0 if r.shape == (1, 512) else 3)
_, st = os.waitpid(pid, 0); stop.append(1); t.join(); print('child status', st)
"""),
]]
