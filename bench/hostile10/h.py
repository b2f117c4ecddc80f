#!/usr/bin/env python3
"""Hostile pass 10 case runner: each case is a shell command line; records rc, stderr's first lines, and flags
rc >= 124 (a crash or hang) and cases whose expected rc differs."""
import subprocess, sys, json, os, collections
C = os.environ.get('C', 'build/clapsearch')
counts = collections.Counter(); flags = []
def case(cls, cmd, expect=None, timeout=60, check=None, env=None):
    full = cmd.replace('$C', C)
    try:
        p = subprocess.run(['bash', '-c', full], capture_output=True, timeout=timeout, env=env)
        rc = p.returncode; out = p.stdout.decode('utf-8', 'replace'); err = p.stderr.decode('utf-8', 'replace')
    except subprocess.TimeoutExpired:
        rc = 'TIMEOUT'; out = err = ''
    counts[cls] += 1
    flag = ''
    if rc == 'TIMEOUT' or (isinstance(rc, int) and (rc < 0 or rc >= 124 and rc not in (130, 141, 143))): flag = 'CRASH/HANG'
    elif expect is not None and rc not in (expect if isinstance(expect, tuple) else (expect,)): flag = f'RC(expected {expect})'
    if not flag and check:
        why = check(rc, out, err)
        if why: flag = why
    e = ' | '.join(l for l in err.strip().splitlines() if 'Run with --help' not in l)[:300]
    print(json.dumps(dict(cls=cls, cmd=cmd[:200], rc=rc, err=e, out=out[:120], flag=flag)), flush=True)
    if flag: flags.append((cls, cmd, rc, e))
    return rc, out, err
def jsonok(rc, out, err):
    try:
        for l in out.splitlines() if out.lstrip().startswith('{"') and '\n{' in out else [out]:
            if l.strip(): json.loads(l)
    except Exception as ex: return 'BADJSON ' + str(ex)[:60]
    return ''
def summary():
    print('COUNTS', dict(counts), sum(counts.values()))
    for f in flags: print('FLAG', f)
