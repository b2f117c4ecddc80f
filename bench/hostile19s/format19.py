#!/usr/bin/env python3
"""Hostile pass 19 (server): refusals made before a route runs (414 request line over 8 KB, 431 head
over 64 KB, 413 body over the limit, 400 malformed head) on /rest/ and /api/, with the format asked
(f=json) at several places in the request line: right after '?', after 8 KB of other parameters (as
createPlaylist's songIds come first in most clients), at 30 KB and 60 KB, and past 64 KB (the head's
limit: not readable, XML expected). A /rest/ answer must be a Subsonic envelope in the format asked
wherever the line could be read; an /api/ answer the REST API's {error, detail} JSON.
Usage: format19.py PORT. Prints flagged cases and a summary line."""
import json, socket, sys

PORT = int(sys.argv[1])


def exchange(data):
    s = socket.create_connection(('127.0.0.1', PORT), timeout=60)
    try:
        s.sendall(data)
    except OSError:
        pass
    out = b''
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except OSError:
        pass
    s.close()
    return out


def kind(body):
    try:
        j = json.loads(body)
        if 'subsonic-response' in j:
            return 'json-envelope'
        if 'error' in j:
            return 'api-json'
        return 'other-json'
    except ValueError:
        pass
    if b'<subsonic-response' in body:
        return 'xml-envelope'
    return 'other:' + body[:60].decode('latin-1')


HOST = b' HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n'
AUTH = 'u=u&p=p&v=1.16.1&c=h19'
cases = flags = 0


def check(what, request, want_status, want_kind):
    global cases, flags
    cases += 1
    r = exchange(request)
    head, _, body = r.partition(b'\r\n\r\n')
    status = head.split(b'\r\n', 1)[0].decode('latin-1')
    k = kind(body)
    ok = status.startswith('HTTP/1.1 ' + want_status) and k == want_kind
    if not ok:
        flags += 1
        print('FLAG %s: %s, %s (want %s %s)' % (what, status, k, want_status, want_kind))


def pad(n):
    return '&x=' + 'a' * n


# 414: the request line over 8 KB, f=json at several places.
for where, n, readable in [('first', 0, True), ('after 8 KB', 9000, True), ('after 30 KB', 30000, True),
                           ('after 60 KB', 60000, True)]:
    for name in ['ping', 'createPlaylist.view', 'star']:
        front = 'f=json&' if where == 'first' else ''
        line = '/rest/%s?%s%s%s%s' % (name, front, AUTH, pad(n if n else 9000), '' if front else '&f=json')
        check('414 /rest/%s f=json %s' % (name, where), b'GET ' + line.encode() + HOST + b'\r\n', '414',
              'json-envelope' if readable else 'xml-envelope')
        check('414 /rest/%s no f %s' % (name, where), b'GET ' + line.replace('f=json', 'f=xml').encode() + HOST + b'\r\n',
              '414', 'xml-envelope')
# absolute-form and a doubled slash
check('414 absolute-form f=json last', b'GET http://127.0.0.1/rest/ping?' + (AUTH + pad(9000) + '&f=json').encode() + HOST + b'\r\n',
      '414', 'json-envelope')
check('414 //rest/ f=json last', b'GET //rest/ping?' + (AUTH + pad(9000) + '&f=json').encode() + HOST + b'\r\n', '414', 'json-envelope')
# Past the head's limit: what follows is never read (decided: XML, as with no f).
check('line over 64 KB, f=json past it', b'GET /rest/ping?' + (AUTH + pad(70000) + '&f=json').encode() + HOST + b'\r\n',
      '431', 'xml-envelope')
check('line over 64 KB, f=json first', b'GET /rest/ping?f=json&' + (AUTH + pad(70000)).encode() + HOST + b'\r\n',
      '431', 'json-envelope')
# 431: header lines over the head's limit, f=json last in a short line.
check('431 headers, f=json last', b'GET /rest/ping?' + (AUTH + '&f=json').encode() + HOST +
      b''.join(b'X-H%d: %s\r\n' % (i, b'h' * 7000) for i in range(12)) + b'\r\n', '431', 'json-envelope')
check('431 headers, f=json after 8 KB', b'GET /rest/ping?' + (AUTH + pad(9000) + '&f=json').encode() + HOST +
      b''.join(b'X-H%d: %s\r\n' % (i, b'h' * 7000) for i in range(12)) + b'\r\n', '431', 'json-envelope')
# 400: a header line over 8 KB; a bare-LF header.
check('400 long header, f=json last', b'GET /rest/ping?' + (AUTH + '&f=json').encode() + HOST + b'X-Big: ' + b'b' * 10000 + b'\r\n\r\n',
      '400', 'json-envelope')
check('400 bare LF, f=json last', b'GET /rest/ping?' + (AUTH + '&f=json').encode() + HOST + b'X-A: 1\n\r\n', '400', 'json-envelope')
# 413: a form POST over 1 MB, f=json in the query (last) and in the body (not read: XML).
check('413 form POST, f=json in the query', b'POST /rest/ping?' + (AUTH + '&f=json').encode() + HOST +
      b'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 2000000\r\n\r\n' + b'x=' + b'a' * 1000, '413', 'json-envelope')
check('413 form POST, f=json in the body', b'POST /rest/ping' + HOST +
      b'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 2000000\r\n\r\nf=json&' + b'x=' + b'a' * 1000, '413', 'xml-envelope')
# /api/: its own form, whatever the size.
for what, req, st in [('414 /api/search', b'GET /api/search?q=' + b'a' * 9000 + HOST + b'\r\n', '414'),
                      ('431 /api/ headers', b'GET /api/status' + HOST + b''.join(b'X-H%d: %s\r\n' % (i, b'h' * 7000) for i in range(12)) + b'\r\n', '431'),
                      ('400 /api/ long header', b'GET /api/status' + HOST + b'X-Big: ' + b'b' * 10000 + b'\r\n\r\n', '400')]:
    check(what, req, st, 'api-json')
print('cases %d flags %d' % (cases, flags))
