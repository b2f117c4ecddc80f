#!/usr/bin/env python3
"""Hostile pass 21 (server): two servers of the same library, one on a SQLite index and one on a
PostgreSQL index, after the same generators ran against both (hostile20.py, playlists20.py and
this pass's): every read route asked of both as each user, the answers compared with the times
(created, changed, played, minutes ago) and the server's own fields set aside. Any other
difference is flagged: a play, star, rating, playlist entry or queue entry lost or doubled on one
store shows here.  Usage: compare21.py PORT_A PORT_B"""
import json, sys, urllib.parse, urllib.request

A, B = int(sys.argv[1]), int(sys.argv[2])
PW = {'alice': 'alicepw', 'bob': 'bobpw', 'carol': 'carolpw'}
TIMES = {'created', 'changed', 'played', 'minutesAgo', 'starred', 'lastPlayed', 'time', 'position', 'expires',
         'serverVersion', 'lastScan', 'count', 'folder', 'lastModified'}


def rest(port, ep, user, **kw):
    q = urllib.parse.urlencode(dict(dict(u=user, p=PW[user], v='1.16.1', c='cmp21', f='json'), **kw), doseq=True)
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/rest/{ep}?{q}', timeout=60) as r:
            return json.loads(r.read())['subsonic-response']
    except Exception as e:
        return {'error': repr(e)}


def scrub(v):
    if isinstance(v, dict) and 'musicFolder' in v:  # its id is a hash of the folder's path
        v = dict(v, musicFolder=[dict(f, id='(hash)') for f in v['musicFolder']])
    if isinstance(v, dict) and v.get('name') == 'h20-shared' and 'entry' in v:  # two users added at once: order of arrival
        v = dict(v, entry=sorted(v['entry'], key=lambda e: e['id']))
    if isinstance(v, dict): return {k: scrub(x) for k, x in v.items() if k not in TIMES}
    if isinstance(v, list): return [scrub(x) for x in v]
    if isinstance(v, str) and v.startswith('fo-'): return 'fo-(a hash of the folder path: the two libraries are in two folders)'
    return v


def diff(a, b, path=''):
    if type(a) != type(b): return [f'{path}: {json.dumps(a)[:120]} / {json.dumps(b)[:120]}']
    if isinstance(a, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b: out.append(f'{path}.{k}: only in {"A" if k in a else "B"}: {json.dumps(a.get(k, b.get(k)))[:120]}')
            else: out += diff(a[k], b[k], f'{path}.{k}')
        return out
    if isinstance(a, list):
        if len(a) != len(b): return [f'{path}: {len(a)} items / {len(b)} items']
        return sum((diff(x, y, f'{path}[{i}]') for i, (x, y) in enumerate(zip(a, b))), [])
    return [] if a == b else [f'{path}: {a!r} / {b!r}']


songs = [s['id'] for s in rest(A, 'search3', 'bob', query='', songCount=500)['searchResult3']['song']]
calls = [('getIndexes', {}), ('getArtists', {}), ('getGenres', {}), ('getMusicFolders', {}), ('getStarred', {}), ('getStarred2', {}),
         ('getPlaylists', {}), ('getPlayQueue', {}), ('getPlayQueueByIndex', {}), ('getBookmarks', {}), ('getUser', {'username': 'bob'}),
         ('getUsers', {}), ('search3', {'query': '', 'songCount': 500}), ('search3', {'query': 'caf', 'songCount': 500}),
         ('search2', {'query': 'a'}), ('getTopSongs', {'artist': 'Artist'}), ('getNowPlaying', {})]
for t in ('newest', 'alphabeticalByName', 'alphabeticalByArtist', 'frequent', 'recent', 'starred', 'highest'):
    calls += [('getAlbumList2', {'type': t}), ('getAlbumList', {'type': t})]
calls += [('getSong', {'id': s}) for s in songs] + [('getLyricsBySongId', {'id': s}) for s in songs]
flags = cases = 0
for user in PW:
    pls = rest(A, 'getPlaylists', user).get('playlists', {}).get('playlist', [])
    for c in calls + [('getPlaylist', {'id': p['id']}) for p in pls]:
        cases += 1
        a, b = scrub(rest(A, c[0], user, **c[1])), scrub(rest(B, c[0], user, **c[1]))
        d = diff(a, b)
        if d:
            flags += 1
            print(f'FLAG {user} {c[0]} {c[1]}: {len(d)} differences, first: {d[:3]}')
print(f'cases {cases}, flags {flags}')
