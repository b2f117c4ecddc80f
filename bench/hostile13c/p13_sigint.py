#!/usr/bin/env python3
"""Hostile pass 13: SIGINT (Ctrl-C), SIGTERM and SIGKILL at many moments of `index` (fresh, and
`--rebuild` of an index holding a user's marks), then the same command again: nothing lost (every
track once, the user's plays, stars and playlists kept), nothing twice, integrity_check ok.
Needs big/ (150 distinct 3 s FLACs) and hist.db (lib/ with a user and marks, pass 11's mkmarks.sh).
Usage (in $W, default /tmp/h13c; C = the binary): p13_sigint.py"""
import os, sys, subprocess, time, signal, sqlite3, shutil
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile10')); from h import *
os.chdir(os.environ.get('W', '/tmp/h13c'))
C = os.environ.get('C')
def rm(db):
    for x in (db, db + '-wal', db + '-shm', db + '.lock'):
        if os.path.exists(x): os.remove(x)
def facts(db):
    c = sqlite3.connect(db)
    t = c.execute('select count(*), count(distinct path) from tracks').fetchone()
    w = c.execute('select count(*), count(distinct track_id || \'/\' || idx) from windows').fetchone()
    marks = [c.execute(f'select count(*) from {x}').fetchone()[0] for x in ('plays', 'stars', 'playlist_entries')
             if c.execute("select 1 from sqlite_master where name=?", (x,)).fetchone()]
    return t, w, marks, c.execute('pragma integrity_check').fetchone()[0]
os.makedirs('sig', exist_ok=True)
subprocess.run([C, 'index', 'big', '--db', 'sig/ref.db', '-q', '--model', 'M'], check=False) if not os.path.exists('sig/ref.db') else None
ref = facts('sig/ref.db'); href = facts('hist.db')
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
    for delay in (0.05, 0.2, 0.5, 1, 2, 3, 5, 8):
        for kind in ('fresh', 'rebuild'):
            db = f'sig/{kind}-{sig.name}-{delay}.db'; rm(db)
            if kind == 'fresh': args = [C, 'index', 'big', '--db', db, '-q', '--model', 'M']; want = ref
            else: shutil.copy('hist.db', db); shutil.copy('hist.db.key', db + '.key'); args = [C, 'index', 'lib', '--db', db, '-q', '--rebuild']; want = href
            p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(delay); p.send_signal(sig)
            try: _, err = p.communicate(timeout=60); rc = p.returncode
            except subprocess.TimeoutExpired: p.kill(); p.wait(); rc = 'HANG'; err = b''
            case(f'sig-{kind}', f'true # {sig.name} at {delay}s: rc {rc} {err.decode()[-150:]!r}',
                 check=lambda *a: 'HANG' if rc == 'HANG' else '')
            rcmd = ' '.join(args[1:])
            def same(rc2, out, e2):
                f = facts(db)
                if f[3] != 'ok': return 'INTEGRITY ' + f[3][:60]
                if f[0][0] != f[0][1] or f[0] != want[0]: return f'TRACKS {f[0]} want {want[0]}'
                if f[1][0] != f[1][1] or f[1] != want[1]: return f'WINDOWS {f[1]} want {want[1]}'
                if f[2] != want[2]: return f'MARKS {f[2]} want {want[2]}'
                return ''
            case(f'sig-{kind}-again', f'$C {rcmd}', expect=0, timeout=300, check=same)
summary()
