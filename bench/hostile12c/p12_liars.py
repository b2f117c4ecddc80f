#!/usr/bin/env python3
"""Runs index (one folder per file), embed, like and doctor --fidelity on mkliars.py's files, under a
4 GB address-space limit. Usage (in $W, default /tmp/h12c; C = the binary): p12_liars.py DIR"""
import sys, os, shutil, json
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile10')); from h import *
os.chdir(os.environ.get('W', '/tmp/h12c'))
d = sys.argv[1]
L = 'ulimit -v 4000000; '
for f in sorted(os.listdir(d)):
    one = f'{d}.one/{f}'; shutil.rmtree(one, ignore_errors=True); os.makedirs(one)
    shutil.copy(f'{d}/{f}', one)
    db = f'{d}.one/{f}.db'
    for x in (db, db + '-wal', db + '-shm'):
        if os.path.exists(x): os.remove(x)
    def indexed(rc, out, err):
        if rc != 0: return ''
        j = json.loads(out)
        return '' if j.get('indexed', 0) + j.get('errors', 0) == 1 else 'COUNT ' + out[:100]
    case('liar-index', L + f'$C index {one} --db {db} --model M --json -q', expect=(0,), timeout=180, check=indexed)
    case('liar-index-fp0', L + f'$C index {one} --db {db}.fp0 --model M --json -q --first-pass 0', expect=(0,), timeout=180)
    case('liar-embed', L + f'$C embed --audio {one}/{f} --model M', expect=(0, 1, 2), timeout=180)
    case('liar-like', L + f'$C like {one}/{f} --db lib.db -k 2', expect=(0, 1), timeout=180)
    case('liar-status', f'$C status --db {db} --json', expect=(0,), check=jsonok)
summary()
