#!/usr/bin/env python3
"""Hostile pass 12 (server): the CPU each list route costs the server over a library of 2,000 copies of
one song (and a few others), read from /proc/PID/stat (user + system) around each request, one at a
time. bob stars every song, rates them, bookmarks 1,000, queues and lists 2,000 in a playlist first.
Flags a 5xx other than the budget's 503, a hang, and a route over LIMIT CPU seconds.
Usage: cpu12.py PORT SERVER_PID [LIMIT_S]"""
import json, os, sys, time, urllib.parse, urllib.request
PORT, PID = int(sys.argv[1]), sys.argv[2]; LIMIT = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
TICK = os.sysconf('SC_CLK_TCK')
def cpu():
    f = open(f'/proc/{PID}/stat').read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK
def get(path, data=None):
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{PORT}{path}', data=data, timeout=300) as r: return r.status, r.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
    except Exception as e: return 'EXC', str(e).encode()
A = 'u=bob&p=bobpw&v=1.16.1&c=h12&f=json'
def rest(ep, q='', data=None): return get(f'/rest/{ep}?{A}&{q}', data)
ids = [str(t['track_id']) for o in range(0, 5000, 1000) for t in json.loads(get(f'/api/tracks?limit=1000&offset={o}')[1])['tracks']]
print('tracks', len(ids))
form = lambda pairs: urllib.parse.urlencode(pairs).encode()
for i in range(0, len(ids), 1000): rest('star', data=form([('id', x) for x in ids[i:i + 1000]]))
for x in ids[:1000]: rest('createBookmark', f'id={x}&position=5')
rest('savePlayQueue', data=form([('id', x) for x in ids] + [('current', ids[3])]))
pl = json.loads(rest('createPlaylist', data=form([('name', 'all')] + [('songId', x) for x in ids]))[1])['subsonic-response']['playlist']['id']
idx = json.loads(rest('getIndexes')[1])['subsonic-response']['indexes']
folder = [a for i in idx['index'] for a in i['artist']][0]['id']
dirs = json.loads(rest('getMusicDirectory', f'id={folder}')[1])['subsonic-response']['directory'].get('child', [])
sub = [d['id'] for d in dirs if d.get('isDir')][:1] or [folder]
arts = json.loads(rest('getArtists')[1])['subsonic-response']['artists']['index']
artist = [a for i in arts for a in i['artist']][0]['id']
albums = json.loads(rest('getArtist', f'id={artist}')[1])['subsonic-response']['artist'].get('album', [])
album = albums[0]['id'] if albums else 'al-0'
t1 = ids[10]
routes = ['/api/status', '/api/tracks?limit=1000', '/api/tracks?text=c&limit=1000&offset=1000', f'/api/search?q=tone&k=1000', f'/api/search?q=a&q=b&q=c&k=1000&diversity=0.9',
          f'/api/search?q=x&k=1000&collapse_duplicates=true', f'/api/similar?track={t1}&k=1000', f'/api/similar?track={t1}&k=1000&diversity=1',
          f'/api/like?track={t1}&k=1000&diversity=0.5', f'/api/like?track={t1}&k=1000&per_chunk=1000', f'/api/like?seed={t1}&k=1000&exclude_self=true',
          f'/api/similar?track={t1}&k=1000&collapse_duplicates=true&per_artist=1', '/api/classify?label=x&top=1000', '/api/map', '/api/users',
          '/api/taste?user=bob&nearest=1000', '/api/mixes?user=bob', '/api/artists?q=x&k=1000', f'/api/albums?like={t1}&k=1000',
          f'/api/sonic/getSonicSimilarTracks?track={t1}&count=1000', f'/api/sonic/getSonicSimilarTracks?track={t1}&count=1000&excludeDuplicates=false',
          f'/api/sonic/findSonicPath?startTrack={t1}&endTrack={ids[-1]}&count=1000', f'/api/sonic/findSonicPath?startTrack={ids[0]}&endTrack={ids[2]}&count=100',
          '/api/sonic/search?q=x&count=1000', f'/api/sonic/similarToArtist?artist=x&count=1000', '/api/sonic/similarToAlbum?album=x&count=1000',
          f'/api/tracks/{t1}/scores?q=a', '/api/analyze?q=x']
rests = ['getIndexes', f'getMusicDirectory&id={folder}', f'getMusicDirectory&id={sub[0]}', 'getArtists', f'getArtist&id={artist}', f'getAlbum&id={album}',
         'getAlbumList2&type=newest&size=500', 'getAlbumList2&type=random&size=500', 'getAlbumList&type=alphabeticalByName&size=500', 'getRandomSongs&size=500',
         'getSongsByGenre&genre=&count=500', 'search3&query=&songCount=5000&albumCount=5000&artistCount=5000', 'search2&query=c&songCount=5000',
         'getStarred', 'getStarred2', f'getPlaylist&id={pl}', 'getPlaylists', 'getPlayQueue', 'getPlayQueueByIndex', 'getBookmarks',
         f'getSimilarSongs&id={t1}&count=1000', f'getSimilarSongs2&id={artist}&count=1000', f'getSimilarSongs&id={album}&count=1000',
         f'getSimilarSongs&id={folder}&count=1000', 'getTopSongs&artist=x&count=5000', f'getSonicSimilarTracks&id={t1}&count=1000',
         f'findSonicPath&startSongId={t1}&endSongId={ids[-1]}&count=1000', 'getGenres', f'getSong&id={t1}', 'getNowPlaying',
         f'getArtistInfo2&id={artist}&count=1000', f'getAlbumInfo2&id={album}']
flags, rows = [], []
for path in routes + [f'/rest/{r.split("&", 1)[0]}?{A}&{r.split("&", 1)[1] if "&" in r else ""}' for r in rests]:
    c0, w0 = cpu(), time.monotonic(); st, b = get(path); c, w = cpu() - c0, time.monotonic() - w0
    short = path.split(A)[0] + (path.split(A)[1] if A in path else '')
    rows.append((round(c, 2), round(w, 2), st, len(b), short))
    if st == 'EXC' or (isinstance(st, int) and st >= 500 and st != 503) or c > LIMIT:
        flags.append(short); print('FLAG', st, c, short, b[:200], flush=True)
    if b'"status":"failed"' in b: print('failed', short, b[:200])
for r in sorted(rows, reverse=True)[:15]: print(r)
print('routes', len(rows), 'flags', len(flags))
