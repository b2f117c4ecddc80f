#!/usr/bin/env python3
"""Hostile pass 21 (server): angles pass 20 did not take.
- lists the spec repeats (id=..&id=..): getSong with two ids; star/unstar/scrobble with the same id
  many times; createPlaylist with 10,000 songIds (form POST; the whole list kept, in order), 20,000
  and 20,001 (the bound), updatePlaylist removing 10,000 indexes at once; savePlayQueue with odd
  positions (-1, 1.5, 1e3, 2^63, the bound) and a current given twice;
- search3 with huge counts and offsets; getLyrics and getLyricsBySongId with odd artist/title;
- Unicode case folding in search3 (É, ß/SS, final sigma, Turkish i, a title-case digraph, width);
- very many parameters: a GET of 1,500 junk parameters, a form POST of 24,000 and 25,001 fields
  (CPU time said by hand);
- HTTP/1.0 (no Host, keep-alive asked, a transcode: no chunked answer to an HTTP/1.0 client),
  `Expect: 100-continue` on a form POST, a chunked form POST body, Transfer-Encoding and
  Content-Length both, `Transfer-Encoding: gzip, chunked`, an unknown HTTP version.
A flag: a 5xx other than 503, no answer in 30 s, a body that is not an envelope where one is due, a
lost or doubled entry, or what the case says.
Usage: new21.py PORT"""
import http.client, json, socket, sys, time, urllib.parse

PORT = int(sys.argv[1])
PW = {'alice': 'alicepw', 'bob': 'bobpw', 'carol': 'carolpw'}
flags, cases = [], 0


def flag(what):
    flags.append(what); print('FLAG', what, flush=True)


def q(user='alice', **kw):
    return urllib.parse.urlencode(dict(dict(u=user, p=PW[user], v='1.16.1', c='n21', f='json'), **kw), doseq=True)


def rest(ep, user='alice', post=False, params=None, **kw):
    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=60)
    body = q(user, **kw) if params is None else urllib.parse.urlencode(params, doseq=True)
    try:
        if post: c.request('POST', f'/rest/{ep}', body=body, headers={'Content-Type': 'application/x-www-form-urlencoded'})
        else: c.request('GET', f'/rest/{ep}?{body}')
        r = c.getresponse(); b = r.read()
        try: return r.status, json.loads(b)['subsonic-response']
        except Exception: return r.status, {'status': 'not-an-envelope', 'raw': b[:200]}
    except Exception as e:
        return -1, {'status': 'no answer', 'raw': repr(e)}
    finally:
        c.close()


def check(name, st, d, want=None):
    global cases
    cases += 1
    err = d.get('error', {})
    print(f'  {name}: {st} {d.get("status")} {err.get("code", "")} {str(err.get("message", ""))[:110]}')
    if st == -1 or (st >= 500 and st != 503): flag(f'{name}: {st} {d}')
    elif d.get('status') == 'not-an-envelope': flag(f'{name}: not an envelope: {d}')
    elif want == 'ok' and d.get('status') != 'ok': flag(f'{name}: refused, wanted ok: {err}')
    elif want == 'failed' and d.get('status') != 'failed': flag(f'{name}: ok, wanted a refusal')
    return d


songs = [s['id'] for s in rest('search3', query='', songCount=50)[1]['searchResult3']['song']]
A, B, C = songs[:3]
T0 = int(time.time()) * 1000 - 10 ** 8  # plays of this run's own times (a play is kept once per second)

# --- lists ---------------------------------------------------------------------------------------
st, d = rest('getSong', params=list(urllib.parse.parse_qsl(q())) + [('id', A), ('id', B)])
check('getSong id twice (two songs)', st, d)
st, d = rest('getSong', params=list(urllib.parse.parse_qsl(q())) + [('id', A), ('id', A)])
check('getSong id twice (same)', st, d)
st, d = rest('star', id=[A] * 500, user='carol')
check('star the same id 500 times', st, d, 'ok')
st, d = rest('getStarred2', user='carol')
n = [s['id'] for s in d.get('starred2', {}).get('song', [])].count(A)
if n != 1: flag(f'star of one id 500 times: listed {n} times')
st, d = rest('unstar', id=[A] * 500, user='carol')
check('unstar the same id 500 times', st, d, 'ok')
st, d = rest('getSong', id=A, user='carol')
pc0 = d.get('song', {}).get('playCount', 0)
st, d = rest('scrobble', id=[A] * 20, time=[T0 + k * 1000 for k in range(20)], submission='true', user='carol')
check('scrobble one id 20 times with 20 times', st, d, 'ok')
st, d = rest('getSong', id=A, user='carol')
if d.get('song', {}).get('playCount', 0) - pc0 != 20: flag(f'20 plays of one song at 20 times counted {d.get("song", {}).get("playCount", 0) - pc0}')
st, d = rest('scrobble', id=[A, B], time=[1700000100000], submission='true', user='carol')
check('scrobble 2 ids with 1 time', st, d)
ids10k = [songs[k % len(songs)] for k in range(10000)]
st, d = rest('createPlaylist', post=True, name='ten thousand', songId=ids10k, user='bob')
d = check('createPlaylist of 10,000 songIds (form POST)', st, d, 'ok')
pl = d.get('playlist', {}).get('id')
if pl:
    st, d = rest('getPlaylist', id=pl, user='bob')
    got = [e['id'] for e in d.get('playlist', {}).get('entry', [])]
    if got != ids10k: flag(f'createPlaylist of 10,000: read back {len(got)} entries, {"same" if got == ids10k[:len(got)] else "other"} order')
    st, d = rest('updatePlaylist', post=True, playlistId=pl, songIndexToRemove=list(range(0, 10000, 2)), user='bob')
    check('updatePlaylist removing 5,000 indexes', st, d, 'ok')
    st, d = rest('getPlaylist', id=pl, user='bob')
    got = [e['id'] for e in d.get('playlist', {}).get('entry', [])]
    if got != ids10k[1::2]: flag(f'after removing the even indexes: {len(got)} entries, not the odd ones')
    st, d = rest('updatePlaylist', post=True, playlistId=pl, songIndexToRemove=[4999] * 3000 + [5000], user='bob')
    check('updatePlaylist removing 4999 3,000 times and 5000 (past the end)', st, d, 'failed')
    st, d = rest('getPlaylist', id=pl, user='bob')
    if len(d.get('playlist', {}).get('entry', [])) != 5000: flag('a refused removal changed the playlist')
for n in (20000, 20001):
    st, d = rest('createPlaylist', post=True, name=f'n{n}', songId=[A] * n, user='bob')
    d = check(f'createPlaylist of {n} songIds', st, d, 'ok' if n == 20000 else 'failed')
st, d = rest('getPlaylists', user='bob')
names = [p['name'] for p in d.get('playlists', {}).get('playlist', [])]
if 'n20001' in names: flag('a refused createPlaylist of 20,001 left a playlist')
for pos in ('-1', '1.5', '1e3', str(2 ** 63), str(366 * 24 * 3600 * 1000), str(366 * 24 * 3600 * 1000 + 1), ' 5', '0x10'):
    st, d = rest('savePlayQueue', id=[A, B], current=B, position=pos, user='carol')
    check(f'savePlayQueue position={pos!r}', st, d)
st, d = rest('savePlayQueue', params=list(urllib.parse.parse_qsl(q('carol'))) + [('id', A), ('id', B), ('current', A), ('current', B)], user='carol')
check('savePlayQueue current twice', st, d)
st, d = rest('getPlayQueue', user='carol')
check('getPlayQueue after', st, d, 'ok')

# --- search3 bounds, lyrics ------------------------------------------------------------------------
for kw in (dict(songCount=5000), dict(songCount=5001), dict(songOffset=10 ** 9), dict(songOffset=2 ** 63), dict(songOffset=2 ** 31),
           dict(artistCount=5000, albumCount=5000, songCount=5000), dict(songCount=0, albumCount=0, artistCount=0)):
    t = time.perf_counter()
    st, d = rest('search3', query='', **kw)
    check(f'search3 {kw} ({(time.perf_counter() - t) * 1000:.0f} ms)', st, d)
for kw in (dict(artist='Artist', title='Plain'), dict(artist='', title=''), dict(artist='x' * 3000), dict(title='%'), dict(title='_'),
           dict(artist='*', title='*'), dict(title="' OR 1=1 --"), dict(title='\u00e9' * 1000)):
    st, d = rest('getLyrics', **kw)
    check(f'getLyrics {str(kw)[:60]}', st, d, 'ok')
for i in songs[:8] + ['0', '-1', 'x']:
    st, d = rest('getLyricsBySongId', id=i)
    check(f'getLyricsBySongId {i}', st, d)

# --- Unicode case folding -----------------------------------------------------------------------------
for qq in ('CAFÉ', 'café', 'CAFE\u0301', 'ｃａｆｅ', 'Caf\u00c9 nfc', 'PLAIN', 'plaın', 'PLAİN', 'ＰＬＡＩＮ', 'ß', 'Σ', 'ǅ'):
    st, d = rest('search3', query=qq, songCount=20)
    titles = sorted(s['title'] for s in d.get('searchResult3', {}).get('song', []))
    check(f'search3 {qq!r} -> {titles}', st, d, 'ok')
    if qq.lower().startswith('caf') and not any('NFC' in t for t in titles) and 'nfc' not in qq.lower(): flag(f'search3 {qq!r} misses Café: {titles}')

# --- many parameters ---------------------------------------------------------------------------------
junk = [('x%d' % k, 'y') for k in range(1500)]
st, d = rest('ping', params=list(urllib.parse.parse_qsl(q())) + junk[:700])
check('GET ping with 700 junk parameters', st, d, 'ok')
for n in (24000, 25001):
    t = time.perf_counter()
    st, d = rest('ping', post=True, params=list(urllib.parse.parse_qsl(q())) + [('x%d' % k, 'y') for k in range(n)])
    if n > 25000 and st == 413 and b'status="failed"' in d.get('raw', b''):  # f=json in the unread body: XML (docs/integrations.md)
        d = {'status': 'failed', 'error': {'message': '413 in XML'}}
    check(f'POST ping with {n} junk fields ({(time.perf_counter() - t) * 1000:.0f} ms)', st, d, 'ok' if n == 24000 else 'failed')
t = time.perf_counter()
st, d = rest('ping', post=True, params=list(urllib.parse.parse_qsl(q())) + [('u', 'alice')] * 20000)
check(f'POST ping with u=alice 20,000 times ({(time.perf_counter() - t) * 1000:.0f} ms)', st, d)
st, d = rest('ping', post=True, params=list(urllib.parse.parse_qsl(q())) + [('p', 'x%d' % k) for k in range(20000)])
check('POST ping with 20,000 different p', st, d, 'failed')


# --- HTTP/1.0 and other framing ------------------------------------------------------------------------
def raw(data, timeout=30):
    s = socket.create_connection(('127.0.0.1', PORT), timeout=timeout)
    try:
        s.sendall(data)
        out = b''
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                return out, 'timeout'
            if not b: return out, 'closed'
            out += b
    finally:
        s.close()


def rcase(name, data, want_status=None, no_chunked=False, timeout=30):
    global cases
    cases += 1
    out, end = raw(data, timeout)
    head = out.split(b'\r\n\r\n', 1)[0].decode('latin1')
    status = head.split('\r\n', 1)[0]
    print(f'  {name}: {status!r} ({len(out)} bytes, {end})')
    if not out: flag(f'{name}: no answer ({end})')
    elif ' 5' in status[8:12] and ' 503' not in status and not (' 501' in status and 'Transfer-Encoding' in name): flag(f'{name}: {status}')
    if want_status and f' {want_status} ' not in status + ' ': flag(f'{name}: {status}, wanted {want_status}')
    if no_chunked and 'transfer-encoding: chunked' in head.lower(): flag(f'{name}: a chunked answer to an HTTP/1.0 request')
    return out, head


rcase('HTTP/1.0 ping, no Host', f'GET /rest/ping?{q()} HTTP/1.0\r\n\r\n'.encode(), 200, True)
out, head = rcase('HTTP/1.0 keep-alive, two requests', (f'GET /rest/ping?{q()} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' +
                  f'GET /rest/ping?{q()} HTTP/1.0\r\n\r\n').encode(), 200, True)
print(f'    answers: {out.count(b"HTTP/1.")}')
rcase('HTTP/1.0 transcode (mp3)', f'GET /rest/stream?{q(id=A, format="mp3", maxBitRate=64)} HTTP/1.0\r\n\r\n'.encode(), 200, True, 60)
rcase('HTTP/1.0 search3 (a long answer)', f'GET /rest/search3?{q(query="", songCount=500)} HTTP/1.0\r\n\r\n'.encode(), 200, True)
rcase('HTTP/1.0 /api/ openapi', b'GET /api/openapi.json HTTP/1.0\r\n\r\n', None, True)
rcase('HTTP/1.0 page', b'GET / HTTP/1.0\r\n\r\n', None, True)
body = q()
rcase('Expect: 100-continue form POST', (f'POST /rest/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n'
      f'Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n{body}').encode(), None)
chunked = f'{len(body):x}\r\n{body}\r\n0\r\n\r\n'
rcase('chunked form POST', (f'POST /rest/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n'
      f'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunked}').encode(), 411)  # a declared length (server.cpp)
out, _ = rcase('Transfer-Encoding and Content-Length both', (f'POST /rest/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n'
               f'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}GET /rest/getUsers?{q()} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n').encode(), 400)
if out.count(b'HTTP/1.1 ') > 1: flag('TE and CL both: more than one answer (the smuggled request was read)')
rcase('Transfer-Encoding: gzip, chunked', (f'POST /rest/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n'
      f'Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n{chunked}').encode(), None)
rcase('Transfer-Encoding: chunked, identity', (f'POST /rest/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n'
      f'Transfer-Encoding: chunked, identity\r\nConnection: close\r\n\r\n{chunked}').encode(), None)
rcase('HTTP/2.0 request line', f'GET /rest/ping?{q()} HTTP/2.0\r\nHost: x\r\n\r\n'.encode(), None)
rcase('HTTP/1.2 request line', f'GET /rest/ping?{q()} HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n'.encode(), None)
rcase('no version', f'GET /rest/ping?{q()}\r\n\r\n'.encode(), None, timeout=15)
rcase('a chunk size of 20 hex digits', (f'POST /rest/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n'
      f'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n').encode(), None)
rcase('a chunk size with an extension', (f'POST /rest/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n'
      f'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{len(body):x};ext=1\r\n{body}\r\n0\r\n\r\n').encode(), None)

print(f'\ncases {cases}, flags {len(flags)}')
for f in flags: print('  ', f)
