#!/usr/bin/env python3
"""Hostile pass 11 (server): two `serve` processes on one index. carol's writes go to both at once
(threads per server): appends to one playlist (updatePlaylist songIdToAdd), stars, ratings,
scrobbles, bookmarks and savePlayQueue; then each server must read back every write (no append
lost, counts equal on both). Usage: twoproc.py PORT1 PORT2"""
import json, sys, threading, urllib.parse, urllib.request
p1, p2 = int(sys.argv[1]), int(sys.argv[2]); USER = sys.argv[3] if len(sys.argv) > 3 else 'carol'
def call(port, ep, **p):
    q = dict(u=USER, p=USER+'pw', v='1.16.1', c='h11', f='json'); q.update(p)
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/rest/{ep}?' + urllib.parse.urlencode(q, doseq=True), timeout=60) as r:
        return json.loads(r.read())['subsonic-response']
pl = call(p1, 'createPlaylist', name='shared')['playlist']['id']
errors = []
def worker(port, tag):
    for i in range(40):
        for ep, args in [('updatePlaylist', dict(playlistId=pl, songIdToAdd=str(1 + i % 38))),
                         ('scrobble', dict(id=str(1 + i % 38), submission='true', time=str(1700000000000 + i * 1000 + tag))),
                         ('star', dict(id=str(1 + (i + tag) % 38))), ('setRating', dict(id=str(1 + i % 38), rating=str(1 + i % 5))),
                         ('createBookmark', dict(id=str(1 + i % 38), position=str(i * 1000))),
                         ('savePlayQueue', dict(id=[str(1 + j) for j in range(i % 10 + 1)], current='1'))]:
            r = call(port, ep, **args)
            if r['status'] != 'ok': errors.append((port, ep, r.get('error')))
ts = [threading.Thread(target=worker, args=(p, t)) for t, p in enumerate([p1, p2, p1, p2])]
[t.start() for t in ts]; [t.join() for t in ts]
print('errors:', len(errors), errors[:5])
for port in (p1, p2):
    n = len(call(port, 'getPlaylist', id=pl)['playlist'].get('entry', []))
    st = call(port, 'getStarred2')['starred2']; bm = call(port, 'getBookmarks')['bookmarks'].get('bookmark', [])
    print(port, 'playlist entries', n, '(want 160)', 'starred', len(st.get('song', [])), 'bookmarks', len(bm))
