#!/usr/bin/env python3
"""Hostile pass 13 (server): request limits on /rest/ and /api/ by raw socket: request lines and
headers over the limits (with f=json / f=xml / a JSONP callback in the part read and past it), bodies
over the limit (POSTed forms, Content-Length lies, chunked), odd methods, dot segments and encoded
slashes towards files. Flags a 5xx, a hang, a crash, an answer to /rest/ that is not a Subsonic
envelope in the format asked (when the format could be read), an echoed callback, a file's bytes.
Usage: limits13.py PORT SERVER_PID"""
import json, os, socket, sys, xml.dom.minidom
PORT, PID = int(sys.argv[1]), sys.argv[2]
A = 'u=bob&p=bobpw&v=1.16.1&c=h13'
n, flags = 0, []
def raw(data, timeout=20):
    s = socket.create_connection(('127.0.0.1', PORT), timeout=timeout)
    try:
        try: s.sendall(data)
        except (BrokenPipeError, ConnectionResetError): pass
        out = b''
        while True:
            try: b = s.recv(65536)
            except socket.timeout: return out + b'<TIMEOUT>'
            except ConnectionResetError: return out + b'<RESET>'
            if not b: return out
            out += b
    finally: s.close()
def check(what, resp, fmt=None, rest=True):
    global n; n += 1
    head, _, body = resp.partition(b'\r\n\r\n')
    line = head.split(b'\r\n')[0].decode('latin-1')
    why = None
    if not os.path.exists(f'/proc/{PID}'): why = 'server gone'
    elif resp.endswith(b'<TIMEOUT>'): why = 'hang'
    elif not line.startswith('HTTP/1.1 '): why = f'no status line: {resp[:80]!r}'
    elif line.split()[1].startswith('5') and line.split()[1] != '503': why = line
    elif b'root:x:0' in resp or b'alert(' in body[:40]: why = 'a file or a callback echoed'
    elif rest and fmt == 'json':
        try: json.loads(body)['subsonic-response']
        except Exception: why = f'not a JSON envelope: {line} {body[:100]!r}'
    elif rest and fmt == 'xml':
        try: xml.dom.minidom.parseString(body).getElementsByTagName('subsonic-response')[0]
        except Exception: why = f'not an XML envelope: {line} {body[:100]!r}'
    print(('FLAG ' if why else 'ok   ') + what + ' -> ' + line + ' ' + body[:90].decode('latin-1').replace('\n', ' ') + ((' -- ' + why) if why else ''), flush=True)
    if why: flags.append((what, why))
H = b'Host: 127.0.0.1\r\nConnection: close\r\n'
for fmt in ('json', 'xml'):
    for size in (8000, 8200, 20000, 200000):
        q = f'/rest/ping?f={fmt}&{A}&x=' + 'a' * size
        check(f'GET line {size} f={fmt} first', raw(f'GET {q} HTTP/1.1\r\n'.encode() + H + b'\r\n'), fmt)
        q = f'/rest/ping?{A}&x=' + 'a' * size + f'&f={fmt}'
        check(f'GET line {size} f={fmt} past the limit', raw(f'GET {q} HTTP/1.1\r\n'.encode() + H + b'\r\n'), fmt if size < 8100 else None)
    q = f'/rest/ping?f=jsonp&callback=alert(document.cookie)//&{A}&x=' + 'a' * 9000
    check(f'GET line 9000 jsonp callback', raw(f'GET {q} HTTP/1.1\r\n'.encode() + H + b'\r\n'))
    # headers over the limit
    check(f'header 10 KB f={fmt}', raw(f'GET /rest/ping?f={fmt}&{A} HTTP/1.1\r\n'.encode() + H + b'X-Big: ' + b'b' * 10000 + b'\r\n\r\n'), fmt)
    check(f'200 headers f={fmt}', raw(f'GET /rest/ping?f={fmt}&{A} HTTP/1.1\r\n'.encode() + H + b''.join(b'X-%d: v\r\n' % i for i in range(200)) + b'\r\n'), fmt)
    # bodies: POST form over the limit, a lying Content-Length, chunked
    big = (f'f={fmt}&{A}&x=').encode() + b'a' * (12 << 20)
    check(f'POST form 12 MB f={fmt}', raw(b'POST /rest/ping HTTP/1.1\r\n' + H + b'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n' % len(big) + big, 60), None)
    check(f'POST form f={fmt} Content-Length 10^12', raw(f'POST /rest/ping?f={fmt}&{A} HTTP/1.1\r\n'.encode() + H + b'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000000000\r\n\r\nx=1'), fmt)
    check(f'POST form f={fmt} Content-Length -1', raw(f'POST /rest/ping?f={fmt}&{A} HTTP/1.1\r\n'.encode() + H + b'Content-Length: -1\r\n\r\nx=1'), None)
    check(f'POST chunked f={fmt} 2^64 chunk', raw(f'POST /rest/ping?f={fmt}&{A} HTTP/1.1\r\n'.encode() + H + b'Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\nx\r\n0\r\n\r\n'), None)
    check(f'POST chunked and Content-Length f={fmt}', raw(f'POST /rest/ping?f={fmt}&{A} HTTP/1.1\r\n'.encode() + H + b'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n'), None)
    for m in ('PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'BREW'):
        check(f'{m} /rest/ping f={fmt}', raw(f'{m} /rest/ping?f={fmt}&{A} HTTP/1.1\r\n'.encode() + H + b'Content-Length: 0\r\n\r\n'), None)
for t in ['/rest/../api/status', '/rest/..%2fapi%2fstatus', '/rest/%2e%2e/%2e%2e/etc/passwd', '/rest/ping.view/../../../etc/passwd',
          '/static/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/api/../../etc/passwd', '//etc/passwd', '/rest//ping?' + A,
          '/rest/getCoverArt?id=/etc/passwd&' + A, '/rest/getCoverArt?id=..%2F..%2F..%2Fetc%2Fpasswd&' + A, '/rest/stream?id=file:///etc/passwd&' + A,
          '/rest/download?id=%00&' + A, '/rest/getAvatar?username=../../../../etc/passwd&' + A, '/rest/getLyricsBySongId?id=../../etc/passwd&' + A,
          '/api/cover?path=/etc/passwd', '/api/audio?path=/etc/passwd', '/api/tracks/1/audio/../../../../etc/passwd', '/favicon.ico/../../etc/passwd']:
    check('GET ' + t[:60], raw(f'GET {t} HTTP/1.1\r\n'.encode() + H + b'\r\n'), None, rest=False)
print(f'cases {n} flags {len(flags)}')
