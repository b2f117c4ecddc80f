#!/usr/bin/env python3
"""Hostile pass 21 (server): does a wrong password's answer take longer for a user who exists?
N users tu00.. (made by `clapsearch user add`, passwords pw00..) and N names nobody has; 4 wrong
attempts each (the lockout allows 5 a minute per user and address), known and unknown in
alternation so that the machine's load falls on both alike; p=, p=enc: and t/s. Medians and the
25th/75th percentiles, by hand (no flag: the machine is shared).
Usage: timing21.py PORT N"""
import hashlib, http.client, statistics, sys, time, urllib.parse

PORT, N = int(sys.argv[1]), int(sys.argv[2])


def t_ms(params):
    q = urllib.parse.urlencode(dict(dict(v='1.16.1', c='t21', f='json'), **params))
    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=30)
    c.connect()
    t = time.perf_counter()
    c.request('GET', f'/rest/ping?{q}'); r = c.getresponse(); b = r.read()
    dt = (time.perf_counter() - t) * 1000
    c.close()
    assert b'"code":40' in b, b
    assert b'too many' not in b, b
    return dt


def forms(user, k):
    return [dict(u=user, p='wrong%d' % k), dict(u=user, p='enc:' + ('wrong%d' % k).encode().hex()),
            dict(u=user, t=hashlib.md5(b'wrong' + str(k).encode()).hexdigest(), s='salt%d' % k)]


res = {('known', f): [] for f in range(3)} | {('unknown', f): [] for f in range(3)}
for i in range(N):
    for k in range(4):
        kind = k % 3
        res[('known', kind)].append(t_ms(forms('tu%02d' % i, k)[kind]))
        res[('unknown', kind)].append(t_ms(forms('zz%02d-%d' % (i, k), k)[kind]))
for kind, name in enumerate(('p=', 'p=enc:', 't/s')):
    for who in ('known', 'unknown'):
        v = sorted(res[(who, kind)])
        q = statistics.quantiles(v, n=4)
        print(f'{name:7} {who:8} n={len(v):3} median {statistics.median(v):.3f} ms  (p25 {q[0]:.3f}, p75 {q[2]:.3f})')
