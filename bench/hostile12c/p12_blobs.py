#!/usr/bin/env python3
"""Hostile pass 12: a track's or a window's embedding of every telling size (0 .. 10^8 bytes; zeros,
random, NaN floats, text), then status (which reads every embedding), search, similar, duplicates,
doctor, like, and index again. Usage (in $W, default /tmp/h12c; C = the binary): p12_blobs.py"""
import os, sys, shutil, sqlite3, struct
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile10')); from h import *
os.chdir(os.environ.get('W', '/tmp/h12c'))
os.makedirs('blob', exist_ok=True)
nanf = struct.pack('<f', float('nan')); inff = struct.pack('<f', float('inf'))
SIZES = [0, 1, 2, 3, 4, 5, 511, 1020, 2044, 2047, 2049, 2052, 4096, 1 << 20, 100_000_000]
VALUES = {f'zero{n}': f"zeroblob({n})" for n in SIZES}
VALUES.update({f'rand{n}': f"randomblob({n})" for n in SIZES[:13]})
VALUES.update({'nan2048': "x'" + (nanf * 512).hex() + "'", 'inf2048': "x'" + (inff * 512).hex() + "'", 'text': "'abc'",
               'int': '42', 'real': '1.5', 'big2048': "x'" + (struct.pack('<f', 3e38) * 512).hex() + "'"})
CMDS = ['status', 'status --json', 'search x -k 3 --json', 'similar 2 -k 3', 'duplicates', 'doctor', 'like lib/t2.flac -k 2',
        'index lib -q']
for where in ('tracks', 'windows'):
    for name, val in VALUES.items():
        db = f'blob/{where}-{name}.db'
        for x in (db, db + '-wal', db + '-shm'):
            if os.path.exists(x): os.remove(x)
        shutil.copy('lib.db', db)
        sql = (f"update tracks set embedding={val} where id=1" if where == 'tracks'
               else f"update windows set embedding={val} where track_id=1 and idx=0")
        con = sqlite3.connect(db); con.execute('pragma ignore_check_constraints=1'); con.execute(sql); con.commit(); con.close()
        for c in CMDS:
            case(f'blob-{where}', f'$C {c} --db {db}', expect=(0, 1), timeout=120,
                 check=lambda rc, out, err: ('RAW ' + err[:80]) if any(w in err for w in ('SELECT', 'nlohmann', 'json.exception', 'sqlite3_')) else (jsonok(rc, out, err) if '--json' in c and rc == 0 else ''))
summary()
