"""Hostile pass 13: a Python Library whose index file is replaced underneath (a copy moved over
it, as docs/operations.md "Backup" says to put one back), from threads, with a serve on the same
file; NUL and surrogates in names; huge k. Each case copies LIB first (the runner's LIB is kept)."""
CASES = []
def case(name):
    def add(src):
        CASES.append((name, SETUP + src))
    return add

SETUP = """
import shutil, sqlite3, subprocess, tempfile
T = tempfile.mkdtemp(prefix='h13p-')
DB = os.path.join(T, 'lib.db')
def copy_of(src, dst):   # a consistent copy (sqlite3's backup), as a user's backup is
    a = sqlite3.connect(src); b = sqlite3.connect(dst); a.backup(b); b.close(); a.close()
copy_of(LIB, DB)
def integrity(p):
    c = sqlite3.connect(p); r = c.execute('pragma integrity_check').fetchone()[0]; c.close(); return r
def paths(res): return sorted(r['path'].rsplit('/', 1)[-1] for r in res)
def replaced_under_threads(calls, threads, times, pause):
    # `threads` threads make calls[i % len(calls)] while a copy is moved over DB `times` times.
    errs, counts, stop = [], [0] * threads, [False]
    def worker(i):
        while not stop[0]:
            try:
                calls[i % len(calls)](); counts[i] += 1
            except Exception as e:
                errs.append(type(e).__name__ + ': ' + str(e)[:160])
    th = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    [t.start() for t in th]
    for _ in range(times):
        copy_of(DB, DB + '.bak'); os.rename(DB + '.bak', DB); time.sleep(pause)
    stop[0] = True; [t.join() for t in th]
    print(sum(counts), len(errs), sorted(set(errs))[:4], integrity(DB))
"""

case('copy moved over, same content')("""
lib = clapsearch.Library(DB)
a = paths(lib.search('tone', k=3))
copy_of(DB, DB + '.bak'); os.rename(DB + '.bak', DB)
b = paths(lib.search('tone', k=3))
print(a == b, integrity(DB), os.path.exists(DB + '-wal') and os.path.getsize(DB + '-wal'))
""")

case('another library moved over (fewer tracks)')("""
lib = clapsearch.Library(DB)
n0 = len(lib.search('tone', k=0))
other = os.path.join(T, 'other.db')
copy_of(DB, other)
c = sqlite3.connect(other); ids = [r[0] for r in c.execute('select id from tracks order by id')]; c.close()
subprocess.run([os.environ['CLAPSEARCH_CLI'], 'prune', '--db', other, '--help'], capture_output=True)
# remove half the files from the other index the documented way: index of a smaller folder
small = os.path.join(T, 'small'); os.makedirs(small)
for n in sorted(os.listdir(MUSIC))[:3]: shutil.copy(os.path.join(MUSIC, n), small)
os.remove(other)
r = subprocess.run([os.environ['CLAPSEARCH_CLI'], 'index', small, '--db', other, '--model', MODEL, '-q'], capture_output=True, text=True)
os.rename(other, DB)
n1 = len(lib.search('tone', k=0))
print(n0, n1, integrity(DB))
""")

case('4 threads search while the file is replaced 20 times')("""
lib = clapsearch.Library(DB)
replaced_under_threads([lambda: (lib.search('tone', k=3), lib.similar(1, k=2))], 4, 20, 0.2)
""")

# A serve on DB (a user u), answering /rest/ as get(method, extra); songs: its first 20 song ids.
SERVE = """
import json, urllib.request, random, gc
port = 44000 + random.randrange(900)
cli = os.environ['CLAPSEARCH_CLI']
subprocess.run([cli, 'user', 'add', 'u', '--db', DB, '--password-file', '-'], input='pw-12345678\\n', text=True, capture_output=True)
srv = subprocess.Popen([cli, 'serve', '--db', DB, '--port', str(port), '--host', '127.0.0.1'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
base = f'http://127.0.0.1:{port}/rest/'
q = 'u=u&p=pw-12345678&v=1.16.1&c=t&f=json'
def get(m, extra=''):
    return json.load(urllib.request.urlopen(base + m + '?' + extra + q, timeout=10))['subsonic-response']
for _ in range(100):
    try: get('ping'); break
    except Exception: time.sleep(0.3)
songs = [s['id'] for s in get('search3', 'query=&songCount=20&')['searchResult3']['song']]
def star(i): return get('star', f'id={songs[i]}&')['status']
def stars():
    c = sqlite3.connect(DB); n = c.execute('select count(*) from stars').fetchone()[0]; c.close(); return n
def stop_serve():
    srv.terminate(); out = srv.communicate(timeout=30); return srv.returncode
"""

case('a serve on the same file, a star, a copy moved over, Python keeps searching')(SERVE + """
try:
    lib = clapsearch.Library(DB)
    lib.search('tone', k=2)
    copy_of(DB, DB + '.bak')             # the backup, before the star
    s1 = star(1)
    os.rename(DB + '.bak', DB)           # put the backup back, as docs/operations.md says
    time.sleep(3)
    r = []
    for _ in range(5):
        try: r.append(len(lib.search('tone', k=2))); break
        except Exception as e: r.append(type(e).__name__ + ': ' + str(e)[:150]); time.sleep(1)
    for _ in range(10):
        s2 = get('getStarred2')
        if s2['status'] == 'ok': break
        time.sleep(1)
    s3 = star(2)
    del lib; gc.collect()
    print(s1, r, str(s2)[:200], s3, integrity(DB), 'stars in the file while serve runs', stars())
finally:
    print('serve rc', stop_serve())
print('stars after', stars(), integrity(DB))
""")

case('NUL in the db name')("""
try: clapsearch.Library(DB + '\\0x')
except Exception as e: print(type(e).__name__, e)
""")
case('lone surrogate in the db name')("""
try: clapsearch.Library(DB + '\\udcff')
except Exception as e: print(type(e).__name__, str(e)[:200])
""")
case('huge k')("""
lib = clapsearch.Library(DB)
for k in (2**31, 2**63 - 1, 2**63, 2**64, -2**63):
    try: print(k, len(lib.search('tone', k=k)))
    except Exception as e: print(k, type(e).__name__, str(e)[:120])
for k in (2**63 - 1, 2**64):
    try: print('similar', k, len(lib.similar(1, k=k)))
    except Exception as e: print('similar', k, type(e).__name__, str(e)[:120])
""")
case('replaced by a file that is not an index, then the good copy back')("""
lib = clapsearch.Library(DB)
copy_of(DB, DB + '.good')
open(DB + '.txt', 'w').write('not a database\\n' * 100); os.rename(DB + '.txt', DB)
try: print(len(lib.search('tone', k=2)))
except Exception as e: print(type(e).__name__, str(e)[:200])
os.rename(DB + '.good', DB)
try: print(len(lib.search('tone', k=2)))
except Exception as e: print(type(e).__name__, str(e)[:200])
print(integrity(DB))
""")
case('Ctrl-C right after a replace (reopen in progress)')("""
lib = clapsearch.Library(DB)
lib.search('tone', k=1)
copy_of(DB, DB + '.bak'); os.rename(DB + '.bak', DB)
signal.setitimer(signal.ITIMER_REAL, 0.001)
signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
try: lib.search('tone', k=1)
except KeyboardInterrupt: print('KI')
signal.setitimer(signal.ITIMER_REAL, 0)
print(len(lib.search('tone', k=1)), integrity(DB))
""")
case('deleted, then an index made again at the name by the CLI')("""
lib = clapsearch.Library(DB)
n0 = len(lib.search('tone', k=0))
os.remove(DB)
for s in ('-wal', '-shm'):
    if os.path.exists(DB + s): os.remove(DB + s)
small = os.path.join(T, 'small'); os.makedirs(small)
for n in sorted(os.listdir(MUSIC))[:2]: shutil.copy(os.path.join(MUSIC, n), small)
r = subprocess.run([os.environ['CLAPSEARCH_CLI'], 'index', small, '--db', DB, '--model', MODEL, '-q'], capture_output=True, text=True)
print(r.returncode, r.stderr.strip()[-200:])
try: print(n0, len(lib.search('tone', k=0)))
except Exception as e: print(type(e).__name__, str(e)[:200])
""")
case('8 threads (search, similar, tracks, search_vectors) while the file is replaced 50 times')("""
lib = clapsearch.Library(DB)
v = np.ones((1, lib.dim), np.float32)
replaced_under_threads([lambda: lib.search('tone', k=3), lambda: lib.similar(1, k=2), lambda: lib.tracks(),
                        lambda: lib.search_vectors(v, 2)], 8, 50, 0.1)
""")

case('a serve and an idle Library on the same file; a copy moved over; serve stars; the Library closed')(SERVE + """
try:
    lib = clapsearch.Library(DB)
    lib.search('tone', k=2)                       # the Library has the old file open, idle
    copy_of(DB, DB + '.bak')
    os.rename(DB + '.bak', DB)                    # the backup put back
    for _ in range(20):                           # serve notices and opens the copy
        r = get('getStarred2')
        if r['status'] == 'ok': break
        time.sleep(0.5)
    print('serve reopened', r['status'])
    print('star', [star(i) for i in (1, 2, 3)])
    print('starred via serve', len(get('getStarred2')['starred2'].get('song', [])), 'in the file', stars())
    del lib; gc.collect()                         # the script ends or drops its Library
    time.sleep(1)
    print('after the Library closed: starred via serve', len(get('getStarred2')['starred2'].get('song', [])), 'in the file', stars())
finally:
    stop_serve()
print('after serve stopped: in the file', stars(), integrity(DB))
""")
