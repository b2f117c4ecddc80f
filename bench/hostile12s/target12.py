#!/usr/bin/env python3
"""Hostile pass 12 (server): request targets against origin_form's '?' rewriting (H11P-3): '?' in
every place, '#', '%' and bad escapes, absolute-form with and without a path, userinfo, an empty
authority, lines just under and over the 8,192-byte limit, and '?' enough to pass it if each counted
three bytes (H12S-1). Each case: the status wanted, and for 200 a query read back where it can be.
Usage: target12.py PORT"""
import socket, sys
PORT = int(sys.argv[1])
def raw(data, timeout=15):
    s = socket.create_connection(('127.0.0.1', PORT), timeout=timeout); s.sendall(data); out = b''
    while True:
        try: b = s.recv(65536)
        except socket.timeout: return out + b'<TIMEOUT>'
        if not b: return out
        out += b
A = 'u=bob&p=bobpw&v=1.16.1&c=x&f=json'
q2k = 'a' + '?' * 1999
cases = [  # target, status wanted, text the answer must hold
    ('/rest/ping?' + A + '&x=a?b', 200, '"ok"'), ('/rest/ping??' + A, 200, 'required parameter'),
    ('/rest/ping?' + A + '#frag', 200, None), ('/rest/ping?' + A + '&x=%', 200, '"ok"'), ('/rest/ping?' + A + '&x=%zz%', 200, '"ok"'),
    ('/rest/ping?' + A + '&x=' + '?' * 2800, 200, '"ok"'), ('/rest/ping?' + A + '&x=' + '?' * 8100, 200, '"ok"'),
    ('/rest/ping?' + A + '&x=' + '?' * 8200, 414, None), ('/rest/ping?' + A + '&x=' + 'a' * 8300, 414, None),
    ('/api/search?q=who?&k=2', 200, '"query":"who?"'), ('/api/search?q=a%3Fb&k=2', 200, '"query":"a?b"'),
    ('/api/search?q=' + q2k + '&q=' + q2k + '&k=1', 200, '"query":"' + q2k + '"'),
    ('http://127.0.0.1/api/search?q=' + q2k + '&q=' + q2k + '&k=1', 200, '"query":"' + q2k + '"'),
    ('/api/search?q=%3F%3F??&k=1', 200, '"query":"????"'), ('/api/search?q=?%3F?&k=1', 200, '"query":"???"'),
    ('/api/search?q=a&k=1?', 400, None), ('/api/search?q=%E2%80%AE?&k=1', 200, None),
    ('http://127.0.0.1/rest/ping?' + A + '&q=a?b', 200, '"ok"'), ('http://127.0.0.1?' + A, 200, 'clapsearch'),
    ('http://127.0.0.1#x?' + A, 200, None), ('HTTP://127.0.0.1/rest/ping?' + A, 200, '"ok"'),
    ('http://u:p@evil/rest/ping?' + A, 400, 'userinfo'), ('http:///rest/ping?' + A, 400, None),
    ('http://evil.example/api/status?x=?', 421, None), ('http://127.0.0.1' + '/' * 9000 + 'rest/ping?' + A, 414, None),
    ('/rest/search3?' + A + '&query=who?is?there', 200, '"ok"'), ('/rest/ping?' + '?' * 100 + A, 200, None),
]
flags = 0
for target, want, holds in cases:
    r = raw(b'GET ' + target.encode() + b' HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
    try: st = int(r.split(b' ', 2)[1])
    except Exception: st = r[:40]
    ok = st == want and (holds is None or holds.encode() in r)
    if not ok: flags += 1; print('FLAG', len(target), target[:60], 'got', st, 'want', want, r[-200:])
# Pipelined: the target kept for a request with '?' (H12S-1's fix) must not stand for the next one's.
H = b'Host: 127.0.0.1\r\n'
for first in (b'/api/search?q=a??b&k=1', b'http://127.0.0.1/api/search?q=a??b&k=1'):
    r = raw(b'GET ' + first + b' HTTP/1.1\r\n' + H + b'\r\nGET /api/search?k=1 HTTP/1.1\r\n' + H + b'\r\n'
            b'GET /api/search?q=plain&k=1 HTTP/1.1\r\n' + H + b'Connection: close\r\n\r\n')
    ok = r.count(b'"query":"a??b"') == 1 and b'q: give at least one' in r and r.count(b'"query":"plain"') == 1
    cases.append(first); flags += not ok
    if not ok: print('FLAG pipelined after', first, r[-300:])
print('cases', len(cases), 'flags', flags)
