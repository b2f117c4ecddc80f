#!/usr/bin/env python3
"""Hostile pass 15 (server): request lines and heads that cpp-httplib parses oddly or refuses, each sent
raw with a Subsonic query asking f=json (and f=xml): OPTIONS *, absolute-form targets (this server's
and another host), HTTP/0.9 lines, doubled spaces, a trailing word, lower-case methods, a target
without a slash, header floods (many small headers, one header of 8 KB and of 60 KB, obs-fold lines),
bare LF heads, a NUL in the target. Prints each case's status line and the answer's start; flags a
/rest/ answer that is not a Subsonic envelope in the format asked, a 5xx, a closed socket with no
answer, or an answer slower than 12 s. Usage: lines15.py PORT"""
import socket, sys, time
PORT = int(sys.argv[1])
Q = 'u=bob&p=bobpw&v=1.16.1&c=h15&f='
def raw(data, timeout=15):
    s = socket.create_connection(('127.0.0.1', PORT), timeout=timeout)
    t = time.time(); s.sendall(data); out = b''
    try:
        while True:
            b = s.recv(65536)
            if not b: break
            out += b
            if b'\r\n\r\n' in out:
                head, _, body = out.partition(b'\r\n\r\n')
                cl = [l for l in head.split(b'\r\n') if l.lower().startswith(b'content-length:')]
                if cl and len(body) >= int(cl[0].split(b':')[1]): break
    except socket.timeout: pass
    s.close(); return out, time.time() - t
flags, n = [], 0
def case(name, line, fmt, headers=b'Host: 127.0.0.1\r\n', rest=True):
    global n; n += 1
    data = line + b'\r\n' + headers + b'\r\n'
    out, secs = raw(data)
    head, _, body = out.partition(b'\r\n\r\n')
    status = head.split(b'\r\n')[0].decode('latin1') if out else '(nothing)'
    envelope = (b'"subsonic-response"' in body) if fmt == 'json' else (b'<subsonic-response' in body)
    bad = (not out) or status.split(' ')[1:2] in (['500'], ['502'], ['503']) or secs > 12 or (rest and not envelope)
    if bad: flags.append(name + ' f=' + fmt)
    print(('FLAG ' if bad else 'ok   ') + f'{name:34} f={fmt:4} {status[:40]:40} {secs:5.2f}s {body[:110]!r}')
for fmt in ('json', 'xml'):
    q = (Q + fmt).encode()
    case('OPTIONS *', b'OPTIONS * HTTP/1.1', fmt, rest=False)
    case('OPTIONS /rest/ping (preflight)', b'OPTIONS /rest/ping?' + q + b' HTTP/1.1', fmt, rest=False)
    case('absolute-form this host', b'GET http://127.0.0.1:%d/rest/ping?' % PORT + q + b' HTTP/1.1', fmt)
    case('absolute-form other host', b'GET http://evil.example/rest/ping?' + q + b' HTTP/1.1', fmt)
    case('absolute-form https', b'GET https://127.0.0.1/rest/ping?' + q + b' HTTP/1.1', fmt)
    case('authority-form', b'CONNECT 127.0.0.1:%d HTTP/1.1' % PORT, fmt, rest=False)
    case('HTTP/0.9 line', b'GET /rest/ping?' + q, fmt)
    case('HTTP/1.0', b'GET /rest/ping?' + q + b' HTTP/1.0', fmt)
    case('double space', b'GET  /rest/ping?' + q + b' HTTP/1.1', fmt)
    case('trailing word', b'GET /rest/ping?' + q + b' HTTP/1.1 x', fmt)
    case('lower-case method', b'get /rest/ping?' + q + b' HTTP/1.1', fmt)
    case('no slash (not /rest/)', b'GET rest/ping?' + q + b' HTTP/1.1', fmt, rest=False)
    case('tab separator', b'GET\t/rest/ping?' + q + b'\tHTTP/1.1', fmt)
    case('tab, absolute-form', b'GET\thttp://127.0.0.1/rest/ping?' + q + b'\tHTTP/1.1', fmt)
    case('tab after target', b'GET /rest/ping?' + q + b'\tHTTP/1.1', fmt)
    case('CR in target', b'GET /rest/ping?' + q + b'&x=\r HTTP/1.1', fmt)
    case('ESC in target', b'GET /rest/ping?' + q + b'&x=\x1b[2J HTTP/1.1', fmt)
    case('DEL in method', b'G\x7fT /rest/ping?' + q + b' HTTP/1.1', fmt)
    case('NUL in method', b'GE\x00T /rest/ping?' + q + b' HTTP/1.1', fmt)
    case('only method and tab', b'GET\t', fmt, rest=False)
    case('NUL in target', b'GET /rest/ping?x=%00&y=\x00&' + q + b' HTTP/1.1', fmt)
    case('fragment', b'GET /rest/ping?' + q + b'#frag HTTP/1.1', fmt)
    case('dot segments', b'GET /rest/../rest/./ping?' + q + b' HTTP/1.1', fmt)
    case('encoded path', b'GET /rest/%70ing?' + q + b' HTTP/1.1', fmt)
    case('double slash (not /rest/)', b'GET //rest//ping?' + q + b' HTTP/1.1', fmt, rest=False)
    case('view suffix', b'GET /rest/ping.view?' + q + b' HTTP/1.1', fmt)
    case('1000 small headers', b'GET /rest/ping?' + q + b' HTTP/1.1', fmt, b'Host: 127.0.0.1\r\n' + b''.join(b'X-%d: y\r\n' % i for i in range(1000)))
    case('header of 8 KB', b'GET /rest/ping?' + q + b' HTTP/1.1', fmt, b'Host: 127.0.0.1\r\nX: ' + b'a' * 8200 + b'\r\n')
    case('header of 60 KB', b'GET /rest/ping?' + q + b' HTTP/1.1', fmt, b'Host: 127.0.0.1\r\nX: ' + b'a' * 60000 + b'\r\n')
    case('obs-fold header', b'GET /rest/ping?' + q + b' HTTP/1.1', fmt, b'Host: 127.0.0.1\r\nX: a\r\n  folded\r\n')
    case('header without colon', b'GET /rest/ping?' + q + b' HTTP/1.1', fmt, b'Host: 127.0.0.1\r\nnocolon\r\n')
    case('space before colon', b'GET /rest/ping?' + q + b' HTTP/1.1', fmt, b'Host : 127.0.0.1\r\n')
    case('no Host', b'GET /rest/ping?' + q + b' HTTP/1.1', fmt, b'')
    case('two Hosts', b'GET /rest/ping?' + q + b' HTTP/1.1', fmt, b'Host: 127.0.0.1\r\nHost: b\r\n')
    case('Transfer-Encoding on GET', b'GET /rest/ping?' + q + b' HTTP/1.1', fmt, b'Host: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n')
    case('TE gzip', b'POST /rest/ping?' + q + b' HTTP/1.1', fmt, b'Host: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n')
    case('Expect 100', b'POST /rest/ping?' + q + b' HTTP/1.1', fmt, b'Host: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n')
    case('Content-Length huge', b'POST /rest/ping?' + q + b' HTTP/1.1', fmt, b'Host: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 99999999999999999999\r\n')
    case('Content-Length +5', b'POST /rest/ping?' + q + b' HTTP/1.1', fmt, b'Host: 127.0.0.1\r\nContent-Length: +5\r\n')
print(f'{n} cases, {len(flags)} flagged: {flags}')
