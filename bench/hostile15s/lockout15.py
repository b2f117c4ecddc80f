#!/usr/bin/env python3
"""Hostile pass 15 (server): the sign-in lockout through every way a secret is sent. For each way
(p=, p=enc:HEX, t+s, the form POST's body, apiKey=, the REST API's Bearer token and ?token= on the
audio route), N wrong guesses from one address, then the right secret from it: a lockout that one way
does not count lets guessing go on at full speed. Also: wrong guesses through one way, the right
password through another. Prints the guesses per second each way allowed.
Usage: lockout15.py PORT USER PASSWORD API_TOKEN TRACK_ID [N]"""
import hashlib, http.client, json, sys, time, urllib.parse
PORT, U, PW, TOKEN, TRACK = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
N = int(sys.argv[6]) if len(sys.argv) > 6 else 20
flags, n = [], 0
def req(method, path, src, body=None, headers=None):
    global n; n += 1
    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=30, source_address=(src, 0))
    c.request(method, path, body=body, headers=headers or {}); r = c.getresponse(); b = r.read(); c.close()
    return r.status, b
def sub(params, src, post=False):
    q = urllib.parse.urlencode(dict(params, v='1.16.1', c='h15', f='json'))
    st, b = req('POST', '/rest/ping', src, q, {'Content-Type': 'application/x-www-form-urlencoded'}) if post else req('GET', '/rest/ping?' + q, src)
    d = json.loads(b)['subsonic-response']
    return d['status'], d.get('error', {}).get('code')
def tok(pw, salt='abcdef'): return dict(u=U, t=hashlib.md5((pw + salt).encode()).hexdigest(), s=salt)
ways = {
    'p=': (lambda pw, src: sub(dict(u=U, p=pw), src)),
    'p=enc:': (lambda pw, src: sub(dict(u=U, p='enc:' + pw.encode().hex()), src)),
    't+s': (lambda pw, src: sub(tok(pw), src)),
    'form POST': (lambda pw, src: sub(dict(u=U, p=pw), src, post=True)),
}
for i, (name, way) in enumerate(ways.items()):
    src = f'127.0.0.{10 + i}'
    t = time.time()
    for g in range(N): way(f'wrong{g}', src)
    rate = N / (time.time() - t)
    right = way(PW, src)
    locked = right != ('ok', None)
    print(f'{name:10} {N} wrong guesses ({rate:.0f}/s), then the right password: {right} {"locked" if locked else "NOT LOCKED"}')
    if not locked: flags.append(name)
    other = [w for w in ways if w != name][0]
    print(f'{"":10} the right password through {other} from the same address: {ways[other](PW, src)}')
# apiKey: 256 random bits, documented as not limited: the rate only
t = time.time()
for g in range(N): sub(dict(apiKey='k' * 43 + str(g)), '127.0.0.20')
print(f'apiKey=    {N} wrong keys ({N / (time.time() - t):.0f}/s), documented as not limited (256 random bits)')
# the REST API's token (chosen by the owner, 8 characters at least)
for name, call in (('Bearer', lambda s, src: req('GET', '/api/status', src, headers={'Authorization': 'Bearer ' + s})),
                   ('?token=', lambda s, src: req('GET', f'/api/tracks/{TRACK}/audio?token=' + urllib.parse.quote(s), src, headers={'Range': 'bytes=0-0'}))):
    src = '127.0.0.30' if name == 'Bearer' else '127.0.0.31'
    t = time.time(); statuses = {}
    for g in range(N): st, _ = call(f'wrong{g:04d}', src); statuses[st] = statuses.get(st, 0) + 1
    rate = N / (time.time() - t)
    st, _ = call(TOKEN, src)
    locked = st not in (200, 206)
    print(f'{name:10} {N} wrong tokens ({rate:.0f}/s, answers {statuses}), then the right one: {st} {"locked" if locked else "NOT LOCKED"}')
    if not locked: flags.append(name)
print('cases', n, 'flags', len(flags), flags)
