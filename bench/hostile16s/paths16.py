#!/usr/bin/env python3
"""Hostile pass 16 (server): non-canonical request paths. Each form of a /rest/ endpoint, of an /api/
route and of the page (doubled slashes, dot segments, a trailing slash, another case, percent-encoded
slashes and dots, ".view", absolute-form), sent raw (no client normalises it first), with f=json, xml
and jsonp (answered as XML, documented), to a server started with --token. Flags: an /api/ form answered 200 without the token (a
way past the check), a form that is /rest/ once merged answered with anything but a Subsonic envelope
in the format asked, a 5xx, (the page's files are public: a form that is one of them once merged may
answer 200 without the token), a body that holds a file from outside the library (/etc/passwd).
Prints each form's status and what answered (envelope ok/failed, the REST API's {error}, the page).
Usage: paths16.py PORT TOKEN USER PASSWORD"""
import json, socket, sys
PORT, TOKEN, U, PW = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
AUTH = f'u={U}&p={PW}&v=1.16.1&c=h16'
def raw(target, headers=''):
    s = socket.create_connection(('127.0.0.1', PORT), timeout=20)
    s.sendall(f'GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n'.encode())
    data = b''
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
    s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    status = int(head.split(b' ')[1]) if head.startswith(b'HTTP/') else 0
    return status, body.decode('utf-8', 'replace')
def kind(body, fmt):
    if fmt == 'json':
        try: d = json.loads(body)
        except ValueError: return 'not json'
        if 'subsonic-response' in d: return 'envelope ' + d['subsonic-response']['status']
        return 'api {error}' if 'error' in d else 'json'
    if fmt in ('xml', 'jsonp'):  # f=jsonp is not offered: answered as XML (docs/integrations.md)
        if '<subsonic-response' in body: return 'envelope ' + ('ok' if 'status="ok"' in body else 'failed')
        return 'api {error}' if body.startswith('{"error"') else 'other'
# (form, is it /rest/ once its slashes are merged and its dot segments taken out)
rest_forms = [('/rest/ping', True), ('/rest/ping.view', True), ('//rest/ping', True), ('///rest/ping', True),
              ('/rest//ping', True), ('//rest//ping.view', True), ('/./rest/ping', True), ('/rest/./ping', True),
              ('/x/../rest/ping', True), ('/../rest/ping', True), ('/rest/ping/', True), ('/rest/ping/.', True),
              ('/rest/x/../ping', True), ('/REST/ping', False), ('/Rest/Ping', False), ('/rest/PING', True),
              ('/rest%2Fping', True), ('%2Frest/ping', False), ('/%72est/ping', True), ('/rest/%2e/ping', True),
              ('/rest/%2e%2e/api/status', True), ('/rest/ping%00', True), ('/rest/ping;x', True),
              ('http://127.0.0.1//rest/ping', True), ('/rest', False), ('/rest/', True), ('//rest/', True),
              ('/rest/../../../etc/passwd', False), ('/rest/stream/../../etc/passwd', False), ('/rest/stream?id=../../etc/passwd', True)]
api_forms = ['/api/status', '//api/status', '/api//status', '/./api/status', '/rest/../api/status', '/x/../api/status',
             '/api/status/', '/%61pi/status', '/api%2Fstatus', '/API/status', '/api/./status', '//api/tracks/1/audio',
             '/api/tracks/1/./audio', '/api/tracks//1/audio', '/api/tracks/1/audio?token=wrong',
             '//api/tracks/1/audio?token=wrong', '/api/tracks/1/../1/audio', '/../../etc/passwd', '/index.html/../../etc/passwd',
             '//etc/passwd', '/app.js/..', '/%2e%2e/%2e%2e/etc/passwd']
def merged(form):  # the path as a server that merges slashes and takes dot segments out reads it
    out = []
    for seg in form.split('?')[0].split('/'):
        if seg == '..': out = out[:-1]
        elif seg not in ('', '.'): out.append(seg)
    return '/' + '/'.join(out)
flags, n = [], 0
for form, is_rest in rest_forms:
    for fmt in ('json', 'xml', 'jsonp'):
        q = AUTH + ('&f=json' if fmt == 'json' else '&f=jsonp&callback=cb' if fmt == 'jsonp' else '')
        target = form + ('&' if '?' in form else '?') + q
        st, body = raw(target); n += 1
        k = kind(body, fmt)
        bad = st >= 500 or 'root:' in body or (is_rest and not k.startswith('envelope'))
        if bad: flags.append(f'{target} -> {st} {k}')
        print(f'{"FLAG" if bad else "    "} {st} {k:16} {form} f={fmt}')
for form in api_forms:
    for auth in ('', f'Authorization: Bearer {TOKEN}\r\n'):
        st, body = raw(form, auth); n += 1
        bad = (not auth and st == 200 and merged(form).startswith('/api/')) or st >= 500 or 'root:' in body
        if bad: flags.append(f'{form} {"with" if auth else "without"} token -> {st}')
        print(f'{"FLAG" if bad else "    "} {st} {"token" if auth else "none ":5} {form} {body[:90]!r}')
print('cases', n, 'flags', len(flags))
for f in flags: print('FLAG', f)
