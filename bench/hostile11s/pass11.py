#!/usr/bin/env python3
"""Hostile pass 11 (server): the classes of passes 7-10 again (their scripts were not kept), one
function per class, each case a request (raw socket or urllib) and a check. Flags a 5xx, a hang
(socket timeout), a crash (the server's pid gone), an answer that does not parse, a server path in
an answer, another user's data, and what each class says must not happen. Usage:
pass11.py PORT SERVER_PID LIBRARY_DIR [CLASS...]   (users alice/alicepw admin, bob/bobpw, carol/carolpw)"""
import collections, json, os, socket, sys, time, urllib.parse, urllib.request, xml.dom.minidom
PORT, PID, LIB = int(sys.argv[1]), sys.argv[2], sys.argv[3]
counts, flags = collections.Counter(), []
def flag(cls, what, why): flags.append((cls, what, why)); print('FLAG', cls, what, '--', why, flush=True)
def alive(): return os.path.exists(f'/proc/{PID}')
def rss():
    for l in open(f'/proc/{PID}/status'):
        if l.startswith('VmHWM'): return int(l.split()[1]) // 1024
def raw(data, timeout=15, read_all=True, pre=None):
    s = socket.create_connection(('127.0.0.1', PORT), timeout=timeout)
    try:
        if pre: pre(s)
        s.sendall(data); out = b''
        while True:
            try: b = s.recv(65536)
            except socket.timeout: return out + b'<TIMEOUT>'
            if not b: return out
            out += b
            if not read_all and b'\r\n\r\n' in out: return out
    finally: s.close()
def get(path, timeout=60):
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{PORT}{path}', timeout=timeout) as r: return r.status, r.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
    except Exception as e: return 'EXC', str(e).encode()
def sub(ep, user='bob', f='json', **p):
    q = dict(u=user, p=user + 'pw', v='1.16.1', c='h11', f=f); q.update(p)
    st, body = get(f'/rest/{ep}?' + urllib.parse.urlencode(q, doseq=True))
    return st, body
def case(cls, what, st, body, ok=lambda st, b: True):
    counts[cls] += 1
    if st == 'EXC' or (isinstance(st, int) and st >= 500 and st != 503): flag(cls, what, f'status {st} {body[:120]!r}')
    elif LIB.encode() in body and not what.startswith('/api'): flag(cls, what, 'the library path in a /rest/ answer')
    elif not alive(): flag(cls, what, 'server gone'); sys.exit(1)
    else:
        why = ok(st, body)
        if why not in (True, None, ''): flag(cls, what, str(why))
def status_of(resp):
    try: return int(resp.split(b' ', 2)[1])
    except Exception: return resp[:60]

def framing():
    C = 'framing'
    H = b'Host: 127.0.0.1\r\n'
    for what, req, want in [
        ('pipelined 3', b'GET /api/status HTTP/1.1\r\n' + H + b'\r\n' + b'GET /api/status HTTP/1.1\r\n' + H + b'\r\n' + b'GET /api/status HTTP/1.1\r\n' + H + b'Connection: close\r\n\r\n', 'three'),
        ('two Hosts', b'GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil\r\nConnection: close\r\n\r\n', 400),
        ('two Content-Length', b'POST /rest/ping HTTP/1.1\r\n' + H + b'Content-Length: 3\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd', 400),
        ('CL and TE', b'POST /rest/ping HTTP/1.1\r\n' + H + b'Content-Length: 3\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n', 400),
        ('NUL in Host', b'GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\x00x\r\nConnection: close\r\n\r\n', 400),
        ('NUL in target', b'GET /api/sta\x00tus HTTP/1.1\r\n' + H + b'Connection: close\r\n\r\n', 400),
        ('bare LF', b'GET /api/status HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n\n', None),
        ('obs-fold', b'GET /api/status HTTP/1.1\r\n' + H + b'X: a\r\n b\r\nConnection: close\r\n\r\n', None),
        ('space before colon', b'GET /api/status HTTP/1.1\r\n' + H + b'Connection : close\r\n\r\n', 400),
        ('HTTP/2.0', b'GET /api/status HTTP/2.0\r\n' + H + b'\r\n', None),
        ('HTTP/1.1 no Host', b'GET /api/status HTTP/1.1\r\nConnection: close\r\n\r\n', 400),
        ('absolute form other host', b'GET http://evil.example/api/status HTTP/1.1\r\n' + H + b'Connection: close\r\n\r\n', None),
        ('negative CL', b'POST /rest/ping HTTP/1.1\r\n' + H + b'Content-Length: -1\r\nConnection: close\r\n\r\n', 400),
        ('huge CL', b'POST /rest/ping HTTP/1.1\r\n' + H + b'Content-Length: 99999999999999999999\r\nConnection: close\r\n\r\n', None),
        ('chunk size overflow', b'POST /api/like HTTP/1.1\r\n' + H + b'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n', None),
        ('2 ranges', b'GET /app.js HTTP/1.1\r\n' + H + b'Range: bytes=0-1,2-3\r\nConnection: close\r\n\r\n', 200),
        ('many ranges', b'GET /api/openapi.json HTTP/1.1\r\n' + H + b'Range: bytes=0-' + b',0-' * 2000 + b'\r\nConnection: close\r\n\r\n', 200),
        ('one range', b'GET /app.js HTTP/1.1\r\n' + H + b'Range: bytes=0-9\r\nConnection: close\r\n\r\n', 206),
        ('head 70 KB', b'GET /api/status HTTP/1.1\r\n' + H + (b'X-Pad: ' + b'a' * 7000 + b'\r\n') * 10 + b'Connection: close\r\n\r\n', 431),
        ('HTTP/1.0 transcode', b'GET /rest/stream?u=bob&p=bobpw&v=1.16.1&c=x&id=1&format=mp3 HTTP/1.0\r\n' + H + b'\r\n', 'nochunk'),
    ]:
        r = raw(req)
        st = status_of(r)
        counts[C] += 1
        if not alive(): flag(C, what, 'server gone'); sys.exit(1)
        if r.endswith(b'<TIMEOUT>'): flag(C, what, 'no end: ' + repr(r[:80]))
        elif want == 'three':
            if r.count(b'HTTP/1.1 200') != 3: flag(C, what, f'{r.count(b"HTTP/1.1 200")} answers')
        elif want == 'nochunk':
            if b'chunked' in r.split(b'\r\n\r\n')[0].lower(): flag(C, what, 'chunked to HTTP/1.0')
        elif want is not None and st != want: flag(C, what, f'status {st}, want {want}')
        elif isinstance(st, int) and st >= 500 and st != 503: flag(C, what, f'status {st}')
    # slowloris: the head deadline closes the connection
    t0 = time.time()
    r = raw(b'GET /api/status HTTP/1.1\r\n', timeout=40)
    counts[C] += 1
    if r.endswith(b'<TIMEOUT>') or time.time() - t0 > 35: flag(C, 'slowloris', f'held {time.time() - t0:.0f} s')
    # slow body: a few bytes of a 1 MB body, then silence
    t0 = time.time()
    r = raw(b'POST /api/like HTTP/1.1\r\n' + H + b'Content-Type: audio/wav\r\nContent-Length: 1000000\r\n\r\nRIFF', timeout=120)
    counts[C] += 1
    if r.endswith(b'<TIMEOUT>'): flag(C, 'slow body', f'held {time.time() - t0:.0f} s')

def auth():
    C = 'auth'
    for what, q, want in [('no credentials', 'v=1.16.1&c=x&f=json', 10), ('wrong password', 'u=bob&p=x&v=1.16.1&c=x&f=json', 40),
                          ('NUL user', 'u=bob%00&p=bobpw&v=1.16.1&c=x&f=json', 40), ('enc: hex', 'u=bob&p=enc:626f627077&v=1.16.1&c=x&f=json', None),
                          ('t without s', 'u=bob&t=abc&v=1.16.1&c=x&f=json', 10), ('apiKey and u', 'u=bob&apiKey=x&v=1.16.1&c=x&f=json', 43),
                          ('bad apiKey', 'apiKey=' + 'a' * 3000 + '&v=1.16.1&c=x&f=json', 44), ('p twice', 'u=bob&p=bobpw&p=x&v=1.16.1&c=x&f=json', None)]:
        st, body = get('/rest/ping?' + q)
        def ok(st, b, want=want):
            j = json.loads(b)['subsonic-response']
            if want is None: return
            if j.get('error', {}).get('code') != want: return f'code {j.get("error")} want {want}'
        case(C, what, st, body, ok)
    for ep in ['getUsers', 'createUser', 'deleteUser', 'startScan', 'changePassword', 'updateUser', 'getUser']:
        st, body = sub(ep, user='carol', username='alice', password='x')
        case(C, 'carol ' + ep, st, body, lambda st, b: 'ok to a non-admin' if b'"status":"ok"' in b and ep != 'startScan' else None)
    st, body = sub('ping', user='alice')
    case(C, 'alice still signs in', st, body, lambda st, b: None if b'"ok"' in b else 'alice locked out')

def others():
    C = 'other users'
    st, body = sub('createPlaylist', user='carol', name='carol-secret-h11', songId='1')
    pid = json.loads(body)['subsonic-response']['playlist']['id']
    for ep, p in [('getPlaylist', dict(id=pid)), ('updatePlaylist', dict(playlistId=pid, name='pwned')), ('deletePlaylist', dict(id=pid)),
                  ('createPlaylist', dict(playlistId=pid, songId='2')), ('getCoverArt', dict(id=pid)), ('getPlaylists', dict(username='carol')),
                  ('getPlayQueue', dict(username='carol')), ('getBookmarks', dict(username='carol')), ('getStarred2', dict(username='carol'))]:
        st, body = sub(ep, user='bob', **p)
        case(C, 'bob ' + ep, st, body, lambda st, b: 'carol\'s data shown' if b'carol-secret-h11' in b else None)
    st, body = sub('getPlaylist', user='carol', id=pid)
    case(C, 'carol\'s playlist intact', st, body, lambda st, b: None if b'carol-secret-h11' in b and b'"songCount":1' in b else 'changed: ' + b[:200].decode())
    sub('deletePlaylist', user='carol', id=pid)

def paths():
    C = 'paths'
    ids = ['../../etc/passwd', '%2e%2e%2fetc%2fpasswd', '/etc/passwd', '1/../2', '1%00', 'al-../../x', 'fo-..', 'ar-%00', '0', '-1', '1e0', '01', '１',
           'pl-1/../1', 'fo-1%00', 'al-1%0A', '9' * 30, 'tr-1', 'mf-1']
    for i in ids:
        for ep in ['stream', 'download', 'getCoverArt', 'getLyricsBySongId', 'getSong', 'getMusicDirectory', 'getSimilarSongs', 'getSonicSimilarTracks']:
            st, body = get(f'/rest/{ep}?u=bob&p=bobpw&v=1.16.1&c=x&f=json&id=' + urllib.parse.quote(i, safe='%/'))
            case(C, f'{ep} id={i}', st, body, lambda st, b: 'root: in the answer' if b'root:' in b else None)
    for t in ['/rest/../api/status', '/rest/%2e%2e/api/status', '/%2Fetc/passwd', '/app.js%00', '/../../etc/passwd', '/api/tracks/..%2f..%2fetc/audio',
              '/api/tracks/1/audio/..', '/static/../../etc/passwd', '/index.html/', '//etc/passwd']:
        r = raw(f'GET {t} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'.encode())
        counts[C] += 1
        if b'root:' in r: flag(C, t, 'a file outside')

def resources():
    C = 'resources'
    before = rss()
    for what, path in [('search 32 texts k=1000 diversity', '/api/search?' + '&'.join(f'q=t{i}' for i in range(32)) + '&k=1000&diversity=1&collapse_duplicates=true'),
                       ('similar k=1000 diversity', '/api/similar?track=1&k=1000&diversity=1'), ('like per_chunk=100 k=1000 diversity', '/api/like?track=1&k=1000&per_chunk=100&diversity=0.5&collapse_duplicates=true'),
                       ('like 32 seeds', '/api/like?' + '&'.join(f'seed={i}' for i in range(1, 33)) + '&k=1000&diversity=0.3'),
                       ('similar 32 seeds 32 nots', '/api/similar?' + '&'.join(f'seed={i}' for i in range(1, 33)) + '&' + '&'.join(f'not=t{i}' for i in range(32)) + '&k=1000&diversity=1'),
                       ('findSonicPath 1000', '/api/sonic/findSonicPath?start=1&end=5&count=1000'), ('map', '/api/map'),
                       ('classify 32 labels', '/api/classify?labels=' + ','.join(f'l{i}' for i in range(32)) + '&k=1000'),
                       ('tracks limit huge', '/api/tracks?limit=99999999999'), ('where deep', '/api/search?q=a&where=' + urllib.parse.quote('(' * 500 + 'year>1' + ')' * 500)),
                       ('where long', '/api/search?q=a&where=' + urllib.parse.quote(' or '.join(f'year={i}' for i in range(700))))]:
        t0 = time.time(); st, body = get(path, timeout=120); dt = time.time() - t0
        case(C, path[:4] + ' ' + what, st, body, lambda st, b: f'{dt:.1f} s' if dt > 30 else None)
    for ep, p in [('getTopSongs', dict(artist='Artist A', count=1000000)), ('getRandomSongs', dict(size=99999999)), ('getSimilarSongs2', dict(id='1', count=99999999)),
                  ('search3', dict(query=' '.join('a' * 1 for _ in range(1000)))), ('getAlbumList2', dict(type='random', size=99999, offset=2 ** 62)),
                  ('getPlaylists', {}), ('getStarred2', {}), ('getSongsByGenre', dict(genre='Jazz', count=10 ** 9, offset=-1))]:
        st, body = sub(ep, **p)
        case(C, ep, st, body)
    after = rss()
    counts[C] += 1
    if after - before > 300: flag(C, 'memory', f'VmHWM {before} -> {after} MB')

def parses(f, b):
    try:
        if f == 'json': json.loads(b)
        else: xml.dom.minidom.parseString(b)
    except Exception as e: return 'does not parse: ' + str(e)[:80]

def text():
    C = 'unicode'
    vals = ['\u0000', '\ud800', 'e\u0301', '\u202e', '\ufeff', '\ufffe', '\U0001F468\u200d\U0001F469', '\x1b[2J', '\x7f', 'a\r\nb', '\u2028', '<x>&"\'', 'A' * 5000]
    for v in vals:
        for ep, key in [('createPlaylist', 'name'), ('createBookmark', 'comment'), ('search3', 'query'), ('getTopSongs', 'artist'), ('getSongsByGenre', 'genre'),
                        ('getLyrics', 'title'), ('savePlayQueue', 'c')]:
            p = {key: v}
            if ep == 'createPlaylist': p['songId'] = '1'
            if ep == 'createBookmark': p.update(id='1', position='1')
            if ep == 'savePlayQueue': p['id'] = '1'
            for f in ('json', 'xml'):
                d = dict(u='carol', p='carolpw', v='1.16.1', c='h11', f=f); d.update(p)
                q = urllib.parse.urlencode(d, errors='surrogatepass')
                st, body = get('/rest/' + ep + '?' + q)
                case(C, f'{ep} {key}={v[:12]!r} {f}', st, body, lambda st, b, f=f: parses(f, b))
    for ep in ['getPlaylists', 'getBookmarks', 'getPlayQueue']:
        for f in ('json', 'xml'):
            st, body = sub(ep, user='carol', f=f)
            case(C, f'read back {ep} {f}', st, body, lambda st, b, f=f: parses(f, b))

def envelopes():
    C = 'envelopes'
    for f in ['json', 'xml', 'JSON', 'jsonp', '', '%00']:
        for q in ['ping', 'getSong&id=999999', 'getSong', 'nosuch']:
            ep, _, extra = q.partition('&')
            st, body = get(f'/rest/{ep}?u=bob&p=bobpw&v=1.16.1&c=x&f={f}&callback=alert(1)//&{extra}')
            case(C, f'{q} f={f}', st, body, lambda st, b: 'callback echoed' if b'alert(1)' in b else None)

for fn in [f for f in [framing, auth, others, paths, resources, text, envelopes] if len(sys.argv) < 5 or f.__name__ in sys.argv[4:]]:
    t0 = time.time(); fn(); print(f'{fn.__name__}: done in {time.time() - t0:.0f} s', flush=True)
print(json.dumps(dict(counts)), 'total', sum(counts.values()), 'flags', len(flags))
