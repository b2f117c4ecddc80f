#!/usr/bin/env python3
"""Hostile pass 11 (server): the same requests to a SQLite-backed and a PostgreSQL-backed `serve` of
the same library (indexed the same way, users made the same way), answers compared after dropping
what differs by design (ids of playlists, times). Prints each request whose answers differ.
Usage: diffstores.py PORT_SQLITE PORT_PG"""
import json, sys, urllib.parse, urllib.request, re
a, b = int(sys.argv[1]), int(sys.argv[2])
def get(port, path):
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=60) as r: return r.status, r.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
def norm(body):
    try: j = json.loads(body)
    except Exception: return body[:200]
    def walk(x):
        if isinstance(x, dict): return {k: walk(v) for k, v in x.items() if k not in ('created', 'changed', 'lastPlayed', 'played', 'starred', 'time', 'elapsed_ms', 'db_bytes', 'serverVersion', 'uptime_s', 'minutesAgo', 'playCount','database','db')}
        if isinstance(x, list): return [walk(v) for v in x]
        if isinstance(x, float): return round(x, 4)
        return x
    return walk(j)
S = 'u=bob&p=bobpw&v=1.16.1&c=h11&f=json'
reqs = [f'/rest/{e}?{S}{q}' for e, q in [
  ('getIndexes',''),('getArtists',''),('getAlbumList2','&type=alphabeticalByName&size=500'),('getAlbumList2','&type=byGenre&genre=Jazz'),
  ('getAlbumList2','&type=byYear&fromYear=0&toYear=3000'),('search3','&query='),('search3','&query=song'),('search3','&query=%C3%BCn'),
  ('getSong','&id=1'),('getSong','&id=5'),('getMusicDirectory','&id=1'),('getGenres',''),('getSongsByGenre','&genre=Jazz%3BPop'),
  ('getSongsByGenre','&genre=Jazz'),('getTopSongs','&artist=Artist%20A'),('getSimilarSongs','&id=1&count=10'),('getSimilarSongs2','&id=ar-1&count=10'),
  ('getArtistInfo2','&id=ar-1'),('getAlbumInfo2','&id=al-1'),('getRandomSongs','&size=0'),('getStarred2',''),('getPlayQueue',''),
  ('getBookmarks',''),('getLyricsBySongId','&id=1'),('getScanStatus',''),('getUser','&username=bob'),('getOpenSubsonicExtensions',''),
  ('getArtist','&id=ar-1'),('getAlbum','&id=al-1'),('getAlbum','&id=al-2'),('getInternetRadioStations',''),('getMusicFolders',''),
  ('getNowPlaying',''),('search2','&query=a'),('getAlbumList','&type=newest'),('getStarred',''),('getSimilarSongs','&id=ar-1'),
  ('getSimilarSongs','&id=al-1&count=5'),('getSong','&id=99999'),('getSong','&id=abc'),('getTopSongs','&artist=%C3%9Cn%C3%AFc%C3%B8d%C3%A9%20%E2%9C%93')]]
reqs += ['/api/status', '/api/tracks?limit=1000', '/api/artists', '/api/albums', '/api/search?q=piano&k=50', '/api/search?q=x&k=10&collapse_duplicates=true',
  '/api/similar?track=1&k=50', '/api/similar?track=2&k=10&diversity=0.5', '/api/like?track=2&k=10', '/api/similar?seed=1&seed=2&not=3&k=10',
  '/api/tracks/5', '/api/tracks/1/scores', '/api/map', '/api/sonic/resolve?path=A/s1.flac', '/api/sonic/getSonicSimilarTracks?id=1&count=10',
  '/api/sonic/findSonicPath?start=1&end=5&count=6', '/api/sonic/similarToArtist?artist=Artist%20A&count=5', '/api/sonic/search?q=hi&count=5',
  '/api/classify?labels=a,b&track=1', '/api/search?q=a&where=year%3E%3D1980', '/api/search?q=a&where=genre%3DJazz']
diff = 0
for r in reqs:
    sa, ba = get(a, r); sb, bb = get(b, r)
    na, nb = norm(ba), norm(bb)
    if sa != sb or na != nb:
        diff += 1
        print('DIFF', r, sa, sb); print('  sqlite:', json.dumps(na)[:400]); print('  pg    :', json.dumps(nb)[:400])
print(len(reqs), 'requests,', diff, 'differ')
