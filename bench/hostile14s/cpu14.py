#!/usr/bin/env python3
"""Hostile pass 14 (server): CPU seconds of the routes that look up a request's copies (RequestCopies)
with adversarial parameters, on a library where one song has ~1,000 byte-identical copies (an album of
1,001 tracks, 10 folders of 100): getSimilarSongs2 of the album, its artist, a folder, a copy; the
largest count; findSonicPath between two copies and between a copy and another song with count 1000;
getSonicSimilarTracks; /api/similar with diversity 0..1 and k 1000. Flags a 5xx other than 503, or an
answer over BUDGET CPU seconds. Usage: cpu14.py PORT SERVER_PID ALBUM_ID ARTIST_ID FOLDER_ID COPY_ID
COPY2_ID OTHER_ID [BUDGET]"""
import json, os, sys, time, urllib.parse, urllib.request
PORT, PID, AL, AR, FO, C1, C2, OT = sys.argv[1:9]
BUDGET = float(sys.argv[9]) if len(sys.argv) > 9 else 5.0
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile13s'))
from cpuclock import timed_get
def get(path): return timed_get(PORT, PID, path)
A = urllib.parse.urlencode(dict(u='bob', p='bobpw', v='1.16.1', c='h14', f='json'))
def size(b):
    try: d = json.loads(b)
    except Exception: return '?'
    d = d.get('subsonic-response', d)
    if 'error' in d: return 'error ' + str(d['error'])[:140]
    for k in ('similarSongs2', 'similarSongs'):
        if k in d: return len(d[k].get('song', []))
    for k in ('sonicMatch', 'tracks', 'results', 'matches'):
        if k in d: return len(d[k])
    return str(d)[:100]
routes = []
for i in (AL, AR, FO, C1):
    for count in (50, 1000, 10 ** 12):
        routes.append(f'/rest/getSimilarSongs2?{A}&id={i}&count={count}')
for a, b in ((C1, C2), (C1, OT), (OT, C1)):
    for count in (25, 1000):
        routes.append(f'/rest/findSonicPath?{A}&startSongId={a}&endSongId={b}&count={count}')
routes += [f'/rest/getSonicSimilarTracks?{A}&id={C1}&count=1000', f'/rest/getSimilarSongs?{A}&id={C1}&count=1000']
tid = C1.split('-')[-1] if '-' in C1 else C1
for d in ('0', '0.5', '1'):
    routes.append(f'/api/similar?track={tid}&k=1000&diversity={d}')
n, flags, worst = 0, [], 0
for r in routes:
    st, b, c, w = get(r); n += 1
    worst = max(worst, c)
    bad = (st >= 500 and st != 503) or c > BUDGET
    if bad: flags.append(r)
    print(f'{"FLAG" if bad else "ok  "} {c:6.2f} cpu s {w:6.2f} s {st} {size(b)}  {r.split("?")[0]} {r.split("c=h14&f=json&")[-1][:70]}', flush=True)
print('cases', n, 'worst cpu s', round(worst, 2), 'flags', len(flags))
