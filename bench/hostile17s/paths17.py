#!/usr/bin/env python3
"""Hostile pass 17 (server): request paths past pass 16's normal_target. Sent raw (no client
normalises them) to a server started with --token, without the token, then with it:
  percent-encoded dots, slashes and backslashes (%2e%2e, %2f, %5c), NUL (%00), double encoding (%252e),
  overlong UTF-8 dots and slashes (%c0%ae, %c0%af, %e0%80%ae), backslashes, a path of only dots, '..'
  beyond the root, query strings carrying paths, a 64 KB path of '/./', Subsonic ids that name files
  (stream, download, getCoverArt with id=../../etc/passwd and friends), /api/ ids that do, and
  /api/sonic/resolve?path=/etc/passwd.
Flags: an /api/ route answered 200 without the token; a 5xx; no answer within 20 s; a body holding a
file from outside the library (/etc/passwd's "root:", /etc/hostname's text); a /rest/ form answered
with anything but a Subsonic envelope. Prints each form's status and a piece of its body.
Usage: paths17.py PORT TOKEN USER PASSWORD"""
import json, socket, sys, time
PORT, TOKEN, U, PW = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
AUTH = f'u={U}&p={PW}&v=1.16.1&c=h17&f=json'
HOSTNAME = open('/etc/hostname').read().strip()
def raw(target, headers=''):
    s = socket.create_connection(('127.0.0.1', PORT), timeout=20)
    t0 = time.monotonic()
    s.sendall(f'GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n'.encode('latin-1'))
    data = b''
    try:
        while True:
            b = s.recv(65536)
            if not b: break
            data += b
    except socket.timeout:
        return -1, 'TIMEOUT', time.monotonic() - t0
    s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    status = int(head.split(b' ')[1]) if head.startswith(b'HTTP/') else 0
    return status, body.decode('utf-8', 'replace'), time.monotonic() - t0
api = ['/api/status', '/api%2fstatus', '/api%2Fstatus', '/%61pi/status', '/api/%73tatus', '/api/status%00', '/api%00/status',
       '/api\\status', '/api%5cstatus', '/x/%2e%2e/api/status', '/%2e%2e/api/status', '/%2e/api/status', '/%252e%252e/api/status',
       '/x/%c0%ae%c0%ae/api/status', '/x/%e0%80%ae%e0%80%ae/api/status', '/%c0%afapi/status', '/api/status/', '/api/status/.',
       '/api/status/..', '/api/status%2f', '/api/status;x', '/api/./status', '/api//status', '/api/x/../status', '/.api/status',
       '/api/status?x=/../../etc/passwd', '/api/tracks/1', '/api/tracks/1/audio', '/api/tracks/1%2faudio', '/api/tracks/1/.%2faudio',
       '/api/tracks/..%2f..%2f..%2fetc%2fpasswd/audio', '/api/tracks/%2e%2e/audio', '/api/openapi.json', '/openapi.json',
       '/api/sonic/resolve?path=/etc/passwd', '/api/sonic/resolve?path=../../../../etc/passwd', '/api/sonic/resolve?path=%2fetc%2fpasswd',
       '/api/like?path=/etc/passwd', '/' + '/.' * 4000 + '/api/status', '/' + '../' * 2000 + 'api/status',
       '/' + '%2e%2e/' * 1000 + 'api/status']
page = ['/', '/.', '/..', '/...', '/....', '/./', '/../', '/../../', '/%2e', '/%2e%2e', '/%2e%2e%2f', '/index.html', '/app.js',
        '/app.js/', '/app.js%00', '/app.js%00.html', '/style.css', '/style.css/..', '/\\', '/\\..\\..\\etc\\passwd',
        '/..%5c..%5cetc%5cpasswd', '/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd', '/%252e%252e/%252e%252e/etc/passwd',
        '/etc/passwd', '/../../../../etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd', '/%2fetc%2fpasswd', '//etc/passwd',
        '/proc/self/environ', '/../../proc/self/cmdline', '/' + '/.' * 30000, '/' + '.' * 8000, '/' + '/..' * 2700]
rest = ['/rest/ping', '/rest/ping.view', '/rest%2fping', '/rest/%2e/ping', '/rest/%2e%2e/rest/ping', '/rest/ping%00',
        '/rest/ping%00.view', '/rest/%252e/ping', '/rest\\ping', '/rest/ping\\', '/rest/..\\rest\\ping', '/rest/%c0%ae/ping',
        '/rest/ping/', '/rest/getSong/', '/rest/ping.view/', '/rest/', '/rest', '/rest/.', '/rest/..', '/rest/...',
        '/rest/' + '/.' * 3000 + '/ping', '/rest/' + 'a' * 8000]
ids = ['../../../../etc/passwd', '/etc/passwd', '%2fetc%2fpasswd', 'tr-1/../../../etc/passwd', 'al-../../etc/passwd',
       'ar-/etc/passwd', 'tr-%00', 'tr-1%00/etc/passwd', '..%5c..%5cetc%5cpasswd', 'file:///etc/passwd', '\\etc\\passwd',
       '1/../../etc/hostname', 'pl-../../etc/passwd', 'tr-0', 'tr--1', 'tr-99999999999999999999']
for ep in ['stream', 'download', 'getCoverArt', 'getSong', 'getLyricsBySongId', 'getAlbum', 'getArtist']:
    for i in ids:
        rest.append(f'/rest/{ep}?id={i}')
flags, n = [], 0
def check(target, tok, kind):
    global n; n += 1
    hdr = f'Authorization: Bearer {TOKEN}\r\n' if tok else ''
    q = AUTH if kind == 'rest' else ''
    t = target if not q else target + ('&' if '?' in target else '?') + q
    st, body, dt = raw(t, hdr)
    why = []
    if st == -1: why.append('no answer in 20 s')
    if st >= 500 and st != 503: why.append(f'{st}')
    if 'root:x:' in body or 'root:*:' in body or (HOSTNAME and body.strip() == HOSTNAME) or 'PATH=' in body: why.append('a file from outside the library')
    if kind == 'api' and not tok and st == 200 and not body.lstrip().startswith('<!doctype') and 'subsonic-response' not in body:
        why.append('/api/ answered 200 without the token')
    # '/rest' and '/rest\\ping' are no path under /rest/ (a backslash is no separator): the page's 404, as on main
    if kind == 'rest' and target.startswith('/rest/') and 'subsonic-response' not in body and st not in (200, 206): why.append('no envelope')
    shown = (t if len(t) < 90 else t[:60] + f'...({len(t)} bytes)')
    print(f'{"FLAG " if why else "     "}{st} {"token" if tok else "none "} {dt:5.2f}s {shown} {body[:110]!r} {"; ".join(why)}')
    if why: flags.append((t, why))
for p in api:
    check(p, False, 'api'); check(p, True, 'api')
for p in page:
    check(p, False, 'page')
for p in rest:
    check(p, False, 'rest')
print('cases', n, 'flags', len(flags))
