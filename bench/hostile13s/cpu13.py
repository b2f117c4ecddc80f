#!/usr/bin/env python3
"""Hostile pass 13 (server): the server's CPU seconds (from /proc/PID/stat, as cpu12.py) for each
sonic route that tells copies by fingerprint (getSimilarSongs, getSimilarSongs2, getSonicSimilarTracks,
similarToArtist/Album, /api/sonic/search, instant mixes), over a library given by the caller.
Usage: cpu13.py PORT SERVER_PID TRACK_ID [USER PASSWORD]"""
import json, os, sys, time, urllib.parse, urllib.request
PORT, PID, TID = int(sys.argv[1]), sys.argv[2], sys.argv[3]
USER, PW = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else ('bob', 'bobpw')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpuclock import timed_get
def get(path): return timed_get(PORT, PID, path)
A = urllib.parse.urlencode(dict(u=USER, p=PW, v='1.16.1', c='h13', f='json'))
def ids(b):
    try: d = json.loads(b)
    except Exception: return '?'
    d = d.get('subsonic-response', d)
    for k in ('similarSongs2', 'similarSongs'):
        if k in d: return len(d[k].get('song', []))
    if 'error' in d: return 'error ' + str(d['error'])[:100]
    for k in ('tracks', 'results', 'matches'):
        if k in d: return len(d[k])
    return str(d)[:100]
routes = [f'/rest/getSimilarSongs2?{A}&id={TID}&count=50', f'/rest/getSimilarSongs?{A}&id={TID}&count=50',
          f'/api/sonic/getSonicSimilarTracks?id={TID}&count=50', f'/api/sonic/getSonicSimilarTracks?id={TID}&count=50&excludeDuplicates=true',
          f'/api/sonic/search?q=jingle&count=50', f'/api/similar?track={TID}&k=50&diversity=0.5']
worst = 0
for r in routes:
    st, b, c, w = get(r)
    worst = max(worst, c)
    print(f'{c:7.2f} cpu s {w:7.2f} s  {st} {ids(b)}  {r.split("?")[0]}{"" if "count" not in r else " " + r[r.index("count"):]}', flush=True)
print('worst cpu s', round(worst, 2))
