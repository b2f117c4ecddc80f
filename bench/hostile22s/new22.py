#!/usr/bin/env python3
"""Hostile pass 22 (server): angles passes 17-21 did not take, against setup21.sh's library (users
alice, bob, carol; passwords alicepw, bobpw, carolpw) served with --token TOKEN.
  - list routes at their bounds: getSimilarSongs(2), getTopSongs, getAlbumList(2), getRandomSongs
    with count/size/offset 0, -1, the bound and past it, 2^63, 1e3, " 5", "x";
  - scrobble/getNowPlaying with odd time= (negative, 0, far future, milliseconds vs seconds,
    2^63, 1.5, "x"), submission=false and true, read back through getNowPlaying and getSong's
    playCount (plays never doubled, never a play in 2286 or 1969);
  - endpoints the server does not offer (jukeboxControl, internet radio, podcasts, shares, chat,
    getVideos, ...): a failed envelope with the spec's code, never a 5xx, never ok;
  - getOpenSubsonicExtensions without credentials (the OpenSubsonic spec: it must answer then);
  - HEAD of /rest/ping, /rest/stream, /rest/download, /rest/getCoverArt, /api/status, the page:
    the GET's status and headers, no body;
  - Range requests on stream/download: several ranges, suffix ranges, beyond the end, overlapping,
    garbage, and a transcode with a Range;
  - transcoding with odd maxBitRate (0, -1, 1, 7, 321, 99999, 2^63), format (raw, mp3, opus, flac,
    "../x", "") and timeOffset (-1, the song's length, past it, 1e9, "x");
  - f=jsonp with callbacks that would be script (answered as XML: never a callback echoed);
  - u= of 1, 200, 4,000 bytes, a NUL, a space; a burst of 40 concurrent wrong passwords for carol
    (at most 5 checked, then "too many"), then her right one refused, alice unaffected.
Flags: a 5xx, a crash (no answer), an ok for an unsupported endpoint, a callback echoed, a HEAD
with a body or another status than its GET, a play counted twice or stored at an impossible time.
Usage: new22.py PORT TOKEN. Prints flagged cases, INFO lines to read, and a summary."""
import concurrent.futures, http.client, json, socket, sys, urllib.parse

PORT, TOKEN = int(sys.argv[1]), sys.argv[2]
HOST = '127.0.0.1'
flags, infos, cases = [], [], 0


def req(method, path, headers=None, body=None):
    c = http.client.HTTPConnection(HOST, PORT, timeout=60)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        b = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), b
    except Exception as e:  # noqa: BLE001
        return None, {}, str(e).encode()
    finally:
        c.close()


def rest(call, user='bob', pw='bobpw', method='GET', headers=None, **params):
    q = dict(params)
    if user is not None:
        q.setdefault('u', user)
    if pw is not None:
        q.setdefault('p', pw)
    q.setdefault('v', '1.16.1'); q.setdefault('c', 'h22'); q.setdefault('f', 'json')
    qs = urllib.parse.urlencode({k: v for k, v in q.items() if v is not None}, safe='')
    return req(method, f'/rest/{call}?{qs}', headers)


def envelope(b):
    try:
        return json.loads(b)['subsonic-response']
    except Exception:  # noqa: BLE001
        return None


def case(name, st, b, ok=None, code=None, note=False):
    global cases
    cases += 1
    env = envelope(b) if st == 200 else None
    shown = (b[:160] if isinstance(b, bytes) else str(b)[:160])
    if st is None or st >= 500:
        flags.append(f'{name}: {st} {shown!r}')
        return env
    if ok is not None and env is not None and (env.get('status') == 'ok') != ok:
        flags.append(f'{name}: expected {"ok" if ok else "failed"}: {shown!r}')
    if code is not None and env is not None and env.get('error', {}).get('code') != code:
        flags.append(f'{name}: expected code {code}: {shown!r}')
    if note:
        infos.append(f'{name}: {st} {shown!r}')
    return env


# --- list routes at their bounds -------------------------------------------------------------
odd = ['0', '-1', '1', '500', '501', '5000', '5001', '1e3', ' 5', 'x', str(2**63), str(2**31), '']
for call, param, extra in [('getSimilarSongs', 'count', {'id': '1'}), ('getSimilarSongs2', 'count', {'id': 'ar-1'}),
                           ('getTopSongs', 'count', {'artist': 'Artist'}), ('getAlbumList2', 'size', {'type': 'newest'}),
                           ('getAlbumList', 'size', {'type': 'random'}), ('getAlbumList2', 'offset', {'type': 'alphabeticalByName'}),
                           ('getRandomSongs', 'size', {}), ('search3', 'songOffset', {'query': ''}),
                           ('getAlbumList2', 'type', {}), ('getAlbumList2', 'fromYear', {'type': 'byYear', 'toYear': '2000'}),
                           ('getAlbumList2', 'genre', {'type': 'byGenre'})]:
    for v in odd + (['byYear', 'byGenre', 'starred', 'frequent', 'recent', 'highest', 'BYYEAR', 'nope'] if param == 'type' else []):
        st, h, b = rest(call, **extra, **{param: v})
        env = case(f'{call} {param}={v!r}', st, b)
        if env is not None and env.get('status') == 'ok':
            body = {k: val for k, val in env.items() if k not in ('status', 'version', 'type', 'serverVersion', 'openSubsonic')}
            n = sum(len(x) if isinstance(x, list) else 0 for part in body.values() if isinstance(part, dict) for x in part.values())
            if v in ('-1', 'x', '1e3', ' 5', str(2**63)) and param != 'type' and param != 'genre':
                infos.append(f'{call} {param}={v!r}: ok with {n} entries')
        elif env is not None:
            err = env.get('error', {})
            if v in ('0', '1', '500') and param in ('count', 'size'):
                infos.append(f'{call} {param}={v!r}: failed {err}')

# --- scrobble times -------------------------------------------------------------------------
def play_count(song, user='bob', pw='bobpw'):
    st, h, b = rest('getSong', user=user, pw=pw, id=song)
    env = envelope(b) or {}
    return env.get('song', {}).get('playCount', 0)

before = play_count('2')
times = ['-1', '0', '1', str(10**9), str(1_700_000_000_000), str(32_503_680_000_000), str(2**63), str(2**63 - 1), '1.5', 'x', ' 1700000000000', '1e12', '-9223372036854775808']
counted = 0
for t in times:
    st, h, b = rest('scrobble', id='2', time=t, submission='true')
    env = case(f'scrobble time={t!r}', st, b)
    if env and env.get('status') == 'ok':
        counted += 1
    infos.append(f'scrobble time={t!r}: {(env or {}).get("status")} {(env or {}).get("error", "")}')
after = play_count('2')
if after - before != counted:
    flags.append(f'scrobble: {counted} accepted but the play count moved by {after - before}')
st, h, b = rest('scrobble', id='3', submission='false')
st, h, b = rest('getNowPlaying')
env = case('getNowPlaying after a now-playing scrobble', st, b, ok=True)
infos.append(f'getNowPlaying: {json.dumps(env)[:300]}')
st, h, b = rest('scrobble', id='3', submission='false', time=str(2**62))
case('now playing with time 2^62', st, b, note=True)
st, h, b = rest('getNowPlaying')
case('getNowPlaying after it', st, b, ok=True, note=True)

# --- endpoints not offered ------------------------------------------------------------------
for call in ['jukeboxControl', 'getInternetRadioStations', 'createInternetRadioStation', 'getPodcasts', 'getNewestPodcasts',
             'refreshPodcasts', 'createPodcastChannel', 'getShares', 'createShare', 'getChatMessages', 'addChatMessage',
             'getVideos', 'getVideoInfo', 'getCaptions', 'hls.m3u8', 'getAvatar', 'startScan', 'getScanStatus',
             'updateUser', 'createUser', 'deleteUser', 'changePassword', 'getTranscodeDecision', 'getPodcastEpisode']:
    for suffix in ['', '.view']:
        st, h, b = rest(call + suffix, action='status', id='1', url='http://x', username='zed', password='p', email='e@x')
        env = case(f'{call}{suffix}', st, b)
        if env is not None and env.get('status') == 'ok':
            infos.append(f'{call}{suffix}: ok {json.dumps(env)[:200]}')
        elif env is not None:
            infos.append(f'{call}{suffix}: code {env.get("error", {}).get("code")} {env.get("error", {}).get("message", "")[:100]}')
        else:
            infos.append(f'{call}{suffix}: {st} {b[:100]!r}')

# --- getOpenSubsonicExtensions without credentials -------------------------------------------
for how, params in [('none', dict(user=None, pw=None)), ('wrong', dict(pw='nope')), ('no v/c', dict(user=None, pw=None, v=None, c=None))]:
    st, h, b = rest('getOpenSubsonicExtensions', **params)
    env = case(f'getOpenSubsonicExtensions {how}', st, b)
    infos.append(f'getOpenSubsonicExtensions {how}: {st} {b[:200]!r}')

# --- HEAD ------------------------------------------------------------------------------------
auth = 'u=bob&p=bobpw&v=1.16.1&c=h22'
for path in [f'/rest/ping?{auth}', f'/rest/stream?{auth}&id=1', f'/rest/stream?{auth}&id=5&format=mp3', f'/rest/download?{auth}&id=1',
             f'/rest/getCoverArt?{auth}&id=7', f'/rest/getCoverArt?{auth}&id=7&size=64', '/api/status', '/', '/app.js', '/api/tracks/1/audio',
             '/api/openapi.json', '/rest/ping', '/nope']:
    hdr = {'Authorization': 'Bearer ' + TOKEN}
    gst, gh, gb = req('GET', path, hdr)
    hst, hh, hb = req('HEAD', path, hdr)
    case(f'HEAD {path}', hst, b'' if hst and hst < 500 else hb)
    if hb:
        flags.append(f'HEAD {path}: a body of {len(hb)} bytes')
    if gst != hst:
        flags.append(f'HEAD {path}: {hst}, GET {gst}')
    if gh.get('content-type') != hh.get('content-type'):
        infos.append(f'HEAD {path}: content-type {hh.get("content-type")} vs GET {gh.get("content-type")}')
    if 'content-length' in hh and gh.get('content-length') and hh['content-length'] != gh['content-length']:
        infos.append(f'HEAD {path}: content-length {hh["content-length"]} vs GET {gh["content-length"]}')

# --- Range --------------------------------------------------------------------------------------
st, h, whole = req('GET', f'/rest/download?{auth}&id=1')
size = len(whole)
for rng in ['bytes=0-0', 'bytes=-1', 'bytes=-0', f'bytes={size - 1}-', f'bytes={size}-', f'bytes={size}-{size + 10}', 'bytes=0-10,20-30',
            'bytes=0-10,5-15', 'bytes=10-5', 'bytes=abc', 'bytes=-', 'bytes= 0-1', 'items=0-1', 'bytes=0-' + '9' * 30,
            f'bytes=-{size + 100}', 'bytes=0-1,' * 200 + '0-1', 'bytes=1-2, 3-4', 'bytes=18446744073709551615-']:
    for path in [f'/rest/download?{auth}&id=1', f'/rest/stream?{auth}&id=1', f'/api/tracks/1/audio', f'/rest/stream?{auth}&id=1&format=mp3']:
        st, hh, b = req('GET', path, {'Range': rng, 'Authorization': 'Bearer ' + TOKEN})
        case(f'Range {rng[:40]} {path[:30]}', st, b'' if st and st < 500 else b)
        if st == 206:
            cr = hh.get('content-range', '')
            try:
                a, z = cr.split(' ')[1].split('/')[0].split('-')
                if 'format=mp3' not in path and b != whole[int(a):int(z) + 1]:
                    flags.append(f'Range {rng} {path}: the bytes are not the file\'s {cr}')
            except Exception:  # noqa: BLE001
                flags.append(f'Range {rng} {path}: 206 with Content-Range {cr!r}')
        infos.append(f'Range {rng[:40]} {path[:40]}: {st} {hh.get("content-range")} {len(b)} bytes')

# --- transcoding parameters -------------------------------------------------------------------
for k, vals in [('maxBitRate', ['0', '-1', '1', '7', '8', '321', '320', '99999', str(2**63), 'x', '']),
                ('format', ['raw', 'mp3', 'opus', 'flac', 'ogg', 'MP3', '../x', '', 'aac', 'wav']),
                ('timeOffset', ['-1', '0', '11', '12', '13', '1e9', 'x', '5.5', str(2**63)])]:
    for v in vals:
        extra = {'format': 'mp3'} if k != 'format' else {}
        st, hh, b = rest('stream', id='1', **extra, **{k: v})
        env = case(f'stream {k}={v!r}', st, b if hh.get('content-type', '').startswith('application/json') or st != 200 else b'')
        kind = hh.get('content-type')
        infos.append(f'stream {k}={v!r}: {st} {kind} {len(b)} bytes {(b[:120] if "json" in (kind or "") or "xml" in (kind or "") else b"")!r}')

# --- jsonp ------------------------------------------------------------------------------------
for cb in ['alert(1)//', 'cb', '<script>', 'a.b', '', 'x' * 5000]:
    st, hh, b = rest('ping', f='jsonp', callback=cb)
    case(f'jsonp callback={cb[:20]!r}', st, b'')
    if cb and cb.encode() in b:
        flags.append(f'jsonp callback {cb[:20]!r} echoed: {b[:120]!r}')
    infos.append(f'jsonp {cb[:20]!r}: {st} {hh.get("content-type")}')

# --- u= ---------------------------------------------------------------------------------------
for u in ['b', 'bob' * 66, 'x' * 4000, 'bob\x00', 'bob ', ' bob', 'BOB', 'bo%b']:
    st, hh, b = rest('ping', user=u)
    env = case(f'u={u[:12]!r}({len(u)})', st, b)
    infos.append(f'u={u[:12]!r}({len(u)}): {st} {(env or {}).get("status")} {(env or {}).get("error", "")}')

# --- a burst of wrong passwords -----------------------------------------------------------------
with concurrent.futures.ThreadPoolExecutor(40) as pool:
    answers = list(pool.map(lambda i: rest('ping', user='carol', pw=f'wrong{i}'), range(40)))
checked = sum(1 for st, h, b in answers if (envelope(b) or {}).get('error', {}).get('code') == 40 and 'too many' not in b.decode())
locked = sum(1 for st, h, b in answers if b'too many' in b)
other = [b[:100] for st, h, b in answers if not (envelope(b) or {}).get('error')]
cases += 40
infos.append(f'burst: 40 wrong for carol at once: {checked} checked, {locked} "too many", {len(other)} other {other[:2]}')
if checked > 5:
    flags.append(f'burst: {checked} wrong passwords checked at once (the lockout allows 5)')
st, h, b = rest('ping', user='carol', pw='carolpw')
env = case('carol right after the burst', st, b, ok=False)
st, h, b = rest('ping', user='alice', pw='alicepw')
case('alice after carol\'s burst', st, b, ok=True)

for line in infos:
    print('INFO', line)
for f in flags:
    print('FLAG', f)
print(f'cases {cases} flags {len(flags)}')
