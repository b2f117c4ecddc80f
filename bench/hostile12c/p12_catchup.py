#!/usr/bin/env python3
"""Hostile pass 12: the packet-hash catch-up stopped (SIGKILL, SIGTERM, SIGINT) at many moments, then
resumed: the index stays whole (integrity_check), the resumed run completes, and every hash equals a
fresh index's. Needs big/ (150 distinct 3 s FLACs) and big.db (its index, hashes made in the pipeline).
Usage (in $W, default /tmp/h12c; C = the binary): p12_catchup.py"""
import os, sys, subprocess, time, signal, sqlite3, shutil
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile10')); from h import *
os.chdir(os.environ.get('W', '/tmp/h12c'))
C = os.environ.get('C')
want = dict(sqlite3.connect('big.db').execute('select content_hash, packet_hash from packet_hashes'))
def hashes(db): return dict(sqlite3.connect(db).execute('select content_hash, packet_hash from packet_hashes'))
os.makedirs('cu', exist_ok=True)
for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
    for k in range(12):
        delay = 0.008 * k  # after the catch-up's first progress line
        db = f'cu/{sig.name}-{k}.db'
        for x in (db, db + '-wal', db + '-shm'):
            if os.path.exists(x): os.remove(x)
        shutil.copy('big.db', db)
        sqlite3.connect(db).execute('delete from packet_hashes').connection.commit()
        p = subprocess.Popen([C, 'index', 'big', '--db', db], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        first = b''
        while b'hashing packets' not in first:
            c = p.stderr.read(1)
            if not c: break
            first += c
        time.sleep(delay); p.send_signal(sig)
        try: _, err = p.communicate(timeout=60); rc = p.returncode; err = first + err
        except subprocess.TimeoutExpired: p.kill(); rc = 'HANG'; err = b''
        kept = len([v for v in hashes(db).values() if v])
        integ = sqlite3.connect(db).execute('pragma integrity_check').fetchone()[0]
        case('catchup-stop', f'true # {sig.name} at {delay:.2f}s: rc {rc}, {kept} hashes kept, integrity {integ}, err {err.decode()[-160:]!r}',
             check=lambda *a: '' if integ == 'ok' and rc != 'HANG' else 'BROKEN')
        case('catchup-resume', f'$C index big --db {db} -q', expect=0,
             check=lambda *a: '' if hashes(db) == want else f'HASHES differ: {len(hashes(db))} rows')
summary()
