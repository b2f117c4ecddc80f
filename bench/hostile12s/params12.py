#!/usr/bin/env python3
"""Hostile pass 12 (server): every /rest/ endpoint x every parameter the server reads x hostile values,
one parameter at a time over a valid base request, in JSON and in XML (and a jsonp callback). Flags a
5xx, a hang, a crash, an answer that does not parse in the format asked, the library's path in an
answer, a control character in an XML answer, a callback echoed, and the slowest answers.
Usage: params12.py PORT SERVER_PID LIBRARY_DIR [USER PASSWORD]"""
import collections, concurrent.futures as cf, json, os, sys, time, urllib.parse, urllib.request, xml.dom.minidom
PORT, PID, LIB = int(sys.argv[1]), sys.argv[2], sys.argv[3]
USER, PW = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else ('carol', 'carolpw')
EPS = ('ping getLicense getMusicFolders getIndexes getMusicDirectory getGenres getArtists getArtist getAlbum getSong '
       'getArtistInfo getArtistInfo2 getAlbumInfo getAlbumInfo2 getSimilarSongs getSimilarSongs2 getTopSongs '
       'getAlbumList getAlbumList2 getRandomSongs getSongsByGenre getNowPlaying getStarred getStarred2 search2 search3 '
       'getPlaylists getPlaylist createPlaylist updatePlaylist deletePlaylist getLyrics getLyricsBySongId getCoverArt '
       'star unstar setRating scrobble getBookmarks createBookmark deleteBookmark getPlayQueue savePlayQueue '
       'getPlayQueueByIndex savePlayQueueByIndex getUser getUsers getScanStatus startScan getOpenSubsonicExtensions '
       'getSonicSimilarTracks findSonicPath stream download').split()
PARAMS = ('id count offset size musicFolderId type fromYear toYear genre songCount artistCount albumCount albumOffset '
          'artistOffset songOffset position current time submission rating songId songIdToAdd songIndexToRemove playlistId '
          'name public comment maxBitRate format timeOffset estimateContentLength query artist title ifModifiedSince '
          'startSongId endSongId currentIndex username albumId artistId includeNotPresent').split()
VALUES = ['', '-1', '0', '99999999999999999999', '9223372036854775807', '-9223372036854775808', '1e9', '0x10', ' 1',
          '1.5', 'NaN', '../../../etc/passwd', '\x00', 'al-1', 'ar-ffffffffffffffff', '<x>&"\'', '\x01\x1b\x7f',
          'a' * 3000, '\u202e\ud7ff\ufffd', 'true']
HEAVY = {'stream', 'download'}  # decoded/transcoded: fewer values
counts, flags, slow = collections.Counter(), [], []
def flag(what, why): flags.append((what, why)); print('FLAG', what, '--', why, flush=True)
def get(q, ep):
    url = f'http://127.0.0.1:{PORT}/rest/{ep}?' + urllib.parse.urlencode(q, doseq=True)
    t = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=60) as r: st, ct, b = r.status, r.headers.get('Content-Type', ''), r.read()
    except urllib.error.HTTPError as e: st, ct, b = e.code, e.headers.get('Content-Type', ''), e.read()
    except Exception as e: st, ct, b = 'EXC', '', str(e).encode()
    return st, ct, b, time.monotonic() - t
def check(ep, p, v, f, cb=None):
    q = dict(u=USER, p=PW, v='1.16.1', c='h12', f=f, id='2')
    q[p] = v
    if cb: q['callback'] = cb
    st, ct, b, dt = get(q, ep)
    what = f'{ep} {p}={v[:20]!r} f={f}' + (f' cb={cb!r}' if cb else '')
    counts[f] += 1
    if dt > 2: slow.append((round(dt, 2), what))
    if st == 'EXC' or (isinstance(st, int) and st >= 500 and st != 503): return flag(what, f'status {st} {b[:120]!r}')
    if not os.path.exists(f'/proc/{PID}'): flag(what, 'server gone'); sys.exit(1)
    if LIB.encode() in b: return flag(what, 'the library path in the answer')
    if 'json' in ct or 'xml' in ct:
        try:
            if f == 'xml' and 'xml' in ct:
                if any(c < 0x20 and c not in (9, 10, 13) for c in b): return flag(what, 'control character in XML')
                xml.dom.minidom.parseString(b)
            elif 'json' in ct: json.loads(b)
        except Exception as e: return flag(what, f'does not parse: {e} {b[:100]!r}')
        if cb and cb.encode() in b and cb: return flag(what, 'callback echoed')
    elif ep not in ('getCoverArt', 'stream', 'download'): return flag(what, f'content type {ct!r}')
jobs = []
for ep in EPS:
    for p in PARAMS:
        for v in (VALUES[:8] + VALUES[11:13] if ep in HEAVY else VALUES):
            jobs.append((ep, p, v, 'json')); jobs.append((ep, p, v, 'xml'))
    jobs.append((ep, 'x', '', 'jsonp', 'alert(document.cookie)//')); jobs.append((ep, 'x', '', 'json', '</script><script>x'))
t0 = time.monotonic()
with cf.ThreadPoolExecutor(4) as ex:
    for _ in ex.map(lambda j: check(*j), jobs): pass
slow.sort(reverse=True)
print(json.dumps(dict(counts)), 'total', sum(counts.values()), 'flags', len(flags), f'in {time.monotonic() - t0:.0f} s')
print('slowest', slow[:10])
