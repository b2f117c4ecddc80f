"""replace13v: a backup put back (mv) under several clapsearch processes at once, in the combinations
hostile13s/hostile13p did not run. Each case: two `serve` (one may be `--watch`) and a Python Library
(in its own process) on one index; bob stars songs through the servers before and after the swap,
each star retried until `ok`; at the end every process is stopped and the file is checked: every star
acknowledged after the last swap is on disk, integrity ok.
Usage: /usr/bin/python3 combos.py CLAPSEARCH PYTHONPATH LIB_DB MUSIC WORKDIR PORTBASE [CASE...]"""
import json, os, shutil, signal, sqlite3, subprocess, sys, time, urllib.request
B, PYP, SRC, MUSIC, W, PORT = sys.argv[1:7]
PORT = int(PORT); ONLY = sys.argv[7:]
A = 'u=bob&p=bobpw&v=1.16.1&c=r13v&f=json'

def copy_of(src, dst):
    a = sqlite3.connect(src); b = sqlite3.connect(dst); a.backup(b); b.close(); a.close()
def get(port, path):
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=30) as r: return json.load(r)
    except Exception as e: return {'subsonic-response': {'status': 'failed', 'error': {'message': str(e)}}}
def star(port, i, until=40):
    t0 = time.time(); last = ''
    while time.time() - t0 < until:
        d = get(port, f'/rest/star?{A}&id={i}')['subsonic-response']
        if d['status'] == 'ok': return True
        last = d.get('error', {}).get('message', '')[:120]; time.sleep(0.5)
    print('   REFUSED FOR GOOD', port, i, last); return False
PYLIB = r'''
import clapsearch, sys, time, os
lib = clapsearch.Library(sys.argv[1]); lib.search('tone', k=2); print('ready', flush=True)
for line in sys.stdin:
    if line.strip() == 'search':
        for k in range(60):
            try: lib.search('tone', k=2); print('ok', flush=True); break
            except Exception as e: last = str(e)[:120]; time.sleep(0.5)
        else: print('FAILED', last, flush=True)
    elif line.strip() == 'close': del lib; print('closed', flush=True); break
'''
class Env:
    def __init__(self, name, watch=False):
        self.w = os.path.join(W, name); shutil.rmtree(self.w, ignore_errors=True); os.makedirs(self.w)
        self.db = os.path.join(self.w, 'lib.db'); copy_of(SRC, self.db); shutil.copy(SRC + '.key', self.db + '.key')
        self.procs = []
        for k in range(2):
            args = [B, 'serve', '--db', self.db, '--port', str(PORT + k), '-q']
            if watch and k == 0: args += ['--watch', MUSIC]
            self.procs.append(subprocess.Popen(args, stdout=open(os.path.join(self.w, f's{k}.log'), 'w'), stderr=subprocess.STDOUT))
        self.py = subprocess.Popen(['/usr/bin/python3', '-c', PYLIB, self.db], env=dict(os.environ, PYTHONPATH=PYP),
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.py.stdout.readline().strip() == 'ready'
        for _ in range(60):
            if all(get(PORT + k, f'/rest/ping?{A}')['subsonic-response']['status'] == 'ok' for k in range(2)): break
            time.sleep(0.5)
        c = sqlite3.connect(self.db); self.ids = [r[0] for r in c.execute('select id from tracks order by id')]; c.close()
    def backup(self, name, clear_stars=True):
        p = os.path.join(self.w, name); copy_of(self.db, p)
        if clear_stars: c = sqlite3.connect(p); c.execute('delete from stars'); c.commit(); c.close()
        return p
    def pysay(self, cmd):
        self.py.stdin.write(cmd + '\n'); self.py.stdin.flush(); return self.py.stdout.readline().strip()
    def finish(self, expect):
        if self.py.poll() is None: self.pysay('close'); self.py.wait()
        for p in self.procs:
            if p.poll() is None: p.terminate()
        for p in self.procs: p.wait()
        c = sqlite3.connect(self.db)
        n = c.execute('select count(*) from stars').fetchone()[0]; integ = c.execute('pragma integrity_check').fetchone()[0]; c.close()
        verdict = 'HELD' if n == expect and integ == 'ok' else 'FOUND'
        print(f'   {verdict}: stars on disk {n} (acknowledged after the last swap {expect}), integrity {integ}')

def acked(e, ports, ids):
    # an idle Library keeps the old file open (refused by design, H13S-1) until its next call
    if e.py.poll() is None: print('   python first:', e.pysay('search'))
    return sum(star(p, i) for p, i in zip(ports, ids))

CASES = {}
def case(f): CASES[f.__name__] = f; return f

@case
def three_processes(e):
    acked(e, [PORT + 1], e.ids[:1]); b = e.backup('b.db')
    os.rename(b, e.db); time.sleep(0.3)
    n = acked(e, [PORT, PORT + 1, PORT], e.ids[1:4]); print('   python:', e.pysay('search')); return n
@case
def twice_quickly(e):
    acked(e, [PORT + 1], e.ids[:1]); b1 = e.backup('b1.db'); b2 = e.backup('b2.db')
    os.rename(b1, e.db); time.sleep(0.05); os.rename(b2, e.db)
    n = acked(e, [PORT, PORT + 1, PORT], e.ids[1:4]); print('   python:', e.pysay('search')); return n
@case
def twice_with_star_between(e):
    acked(e, [PORT + 1], e.ids[:1]); b1 = e.backup('b1.db'); b2 = e.backup('b2.db')
    os.rename(b1, e.db); star(PORT, e.ids[1], until=5)  # refused while the idle Library has the old file; os.rename(b2, e.db)
    n = acked(e, [PORT, PORT + 1, PORT], e.ids[2:5]); print('   python:', e.pysay('search')); return n
@case
def over_and_back(e):
    acked(e, [PORT + 1, PORT], e.ids[:2]); keep = os.path.join(e.w, 'keep.db'); os.link(e.db, keep)
    b = e.backup('b.db'); os.rename(b, e.db); time.sleep(2); print('   python on the copy:', e.pysay('search'))
    os.rename(keep, e.db); time.sleep(0.3)
    n = acked(e, [PORT, PORT + 1], e.ids[2:4]); print('   python back:', e.pysay('search')); return n + 2
@case
def over_and_back_quickly(e):
    acked(e, [PORT + 1, PORT], e.ids[:2]); keep = os.path.join(e.w, 'keep.db'); os.link(e.db, keep)
    b = e.backup('b.db'); os.rename(b, e.db); time.sleep(0.05); os.rename(keep, e.db)
    n = acked(e, [PORT, PORT + 1], e.ids[2:4]); print('   python:', e.pysay('search')); return n + 2
@case
def killed_holding_old(e):
    acked(e, [PORT + 1], e.ids[:1]); b = e.backup('b.db')
    e.procs[1].send_signal(signal.SIGSTOP); os.rename(b, e.db); time.sleep(3)
    e.procs[1].kill(); e.procs[1].wait()
    n = acked(e, [PORT, PORT], e.ids[1:3]); print('   python:', e.pysay('search')); return n
@case
def python_killed_holding_old(e):
    acked(e, [PORT + 1], e.ids[:1]); b = e.backup('b.db')
    e.py.send_signal(signal.SIGSTOP); os.rename(b, e.db); time.sleep(3)
    e.py.kill(); e.py.wait()
    return acked(e, [PORT, PORT + 1], e.ids[1:3])
@case
def killed_right_after_write(e):
    # server 2 writes (WAL frames in the old file) and is killed at once after the swap, before it notices
    b = e.backup('b.db'); acked(e, [PORT + 1], e.ids[:1])
    e.procs[1].send_signal(signal.SIGSTOP); os.rename(b, e.db); e.procs[1].kill(); e.procs[1].wait()
    n = acked(e, [PORT, PORT], e.ids[1:3]); print('   python:', e.pysay('search')); return n

for name, f in CASES.items():
    if ONLY and name not in ONLY: continue
    for watch in (False, True):
        print(f'{name}{" (serve 1 --watch)" if watch else ""}', flush=True)
        e = Env(name + ('_w' if watch else ''), watch)
        try: n = f(e)
        except Exception as ex: print('   ERROR', ex); n = -1
        e.finish(n); sys.stdout.flush()
