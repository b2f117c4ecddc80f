#!/usr/bin/env python3
"""Hostile pass 12: --precision auto's kept speed table (XDG_CACHE_HOME/clapsearch/precision-speed/KEY.json)
with hostile contents and kinds (a directory, a FIFO, a link to /dev/zero, to itself, a dangling link,
64 KiB + 1 of JSON, times of 1e308, 1e-300, -0, 1e400, strings), and two fresh runs at once. Each: a
fresh index of plib/, exit 0, a recorded choice, and the table whole afterwards.
Usage (in $W, default /tmp/h12c; C = the binary): p12_speedfile.py"""
import os, sys, json, shutil, glob, subprocess
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile10')); from h import *
os.chdir(os.environ.get('W', '/tmp/h12c'))
X = os.path.abspath('xsp'); D = f'{X}/clapsearch/precision-speed'
def fresh_cache():
    shutil.rmtree(X, ignore_errors=True); os.makedirs(D)
# the key file's name: one run with an empty cache
fresh_cache()
env = dict(os.environ, XDG_CACHE_HOME=X)
subprocess.run([os.environ['C'], 'index', 'plib', '--db', 'sp0.db', '--model', 'M', '-q', '--rebuild'], env=env, check=True)
name = glob.glob(f'{D}/*.json')[0]; good = json.load(open(name))
def rec(rc, out, err):
    tab = glob.glob(f'{D}/*.json')
    try:
        t = json.load(open(name)); ok = set(t['ms_per_window']) == {'fp32', 'bf16', 'int8'}
    except Exception as e: ok = False
    return '' if ok else 'TABLE NOT WHOLE ' + str(tab)
T = dict(good)
CASES = {
 'huge': lambda: json.dump(dict(T, ms_per_window={'fp32': 1e308, 'bf16': 1e308, 'int8': 1e308}), open(name, 'w')),
 'tiny': lambda: json.dump(dict(T, ms_per_window={'fp32': 1e-300, 'bf16': 1e-300, 'int8': 5e-324}), open(name, 'w')),
 'negzero': lambda: open(name, 'w').write(json.dumps(T).replace(str(T['ms_per_window']['int8']), '-0.0')),
 'e400': lambda: open(name, 'w').write(json.dumps(T).replace(str(T['ms_per_window']['int8']), '1e400')),
 'string': lambda: open(name, 'w').write(json.dumps(T).replace(str(T['ms_per_window']['int8']), '"5"')),
 'dir': lambda: os.mkdir(name),
 'fifo': lambda: os.mkfifo(name),
 'zero': lambda: os.symlink('/dev/zero', name),
 'self': lambda: os.symlink(name, name),
 'dangling': lambda: os.symlink('/nonexistent/x', name),
 'big': lambda: open(name, 'w').write(json.dumps(T)[:-1] + ',"pad":"' + 'x' * 65536 + '"}'),
 'nul': lambda: open(name, 'wb').write(b'\0' * 100),
 'cache_is_file': lambda: (shutil.rmtree(D), open(D, 'w').write('x')),
 'dir_readonly': lambda: os.chmod(D, 0o555),
}
for cname, make in CASES.items():
    fresh_cache(); make()
    check = None if cname in ('cache_is_file', 'dir', 'dir_readonly') else rec
    case('speedfile', f'XDG_CACHE_HOME={X} $C index plib --db sp-{cname}.db --model M -q --rebuild 2>&1; $C status --db sp-{cname}.db | grep -m1 precision',
         expect=0, timeout=300, check=check)
    os.chmod(D, 0o755) if os.path.isdir(D) else None
# two fresh runs at once, three times: one table, and both choose alike
for k in range(3):
    fresh_cache()
    case('speedfile-race', f'(XDG_CACHE_HOME={X} $C index plib --db spa{k}.db --model M -q --rebuild & XDG_CACHE_HOME={X} $C index plib --db spb{k}.db --model M -q --rebuild; wait) 2>&1; '
         f'a=$($C status --db spa{k}.db | grep -m1 precision | cut -c1-15); b=$($C status --db spb{k}.db | grep -m1 precision | cut -c1-15); echo "$a / $b"; [ "$a" = "$b" ]',
         expect=0, timeout=300, check=rec)
summary()
