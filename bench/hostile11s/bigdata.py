#!/usr/bin/env python3
"""Hostile pass 11 (server): users' data at its bounds, read back: a play queue and a playlist of
20,000 songs (form POST), 1,000 stars in one call, a bookmark comment of 10,000 bytes with markup
and line breaks. Each read back must hold exactly what was written. Usage: bigdata.py PORT USER"""
import json, sys, urllib.parse, urllib.request
port, user = int(sys.argv[1]), sys.argv[2]
def call(ep, data=None, **p):
    q = dict(u=user, p=user + 'pw', v='1.16.1', c='h11', f='json'); q.update(p)
    url = f'http://127.0.0.1:{port}/rest/{ep}'
    if data is not None:
        body = urllib.parse.urlencode(list(q.items()) + data).encode()
        req = urllib.request.Request(url, body, {'Content-Type': 'application/x-www-form-urlencoded'})
    else: req = url + '?' + urllib.parse.urlencode(q, doseq=True)
    with urllib.request.urlopen(req, timeout=120) as r: return json.loads(r.read())['subsonic-response']
ids = [str(1 + i % 38) for i in range(20000)]
r = call('savePlayQueue', data=[('id', i) for i in ids] + [('current', '5'), ('position', '1234')]); print('savePlayQueue', r['status'], r.get('error'))
q = call('getPlayQueue')['playQueue']; got = [e['id'] for e in q.get('entry', [])]
print('queue back', len(got), got == ids, q.get('current'), q.get('position'))
r = call('createPlaylist', data=[('name', 'big')] + [('songId', i) for i in ids]); print('createPlaylist', r['status'], r.get('error'))
pid = r['playlist']['id']; got = [e['id'] for e in call('getPlaylist', id=pid)['playlist'].get('entry', [])]
print('playlist back', len(got), got == ids)
r = call('updatePlaylist', data=[('playlistId', pid)] + [('songIndexToRemove', str(i)) for i in range(0, 20000, 2)]); print('remove 10,000', r['status'], r.get('error'))
got2 = [e['id'] for e in call('getPlaylist', id=pid)['playlist'].get('entry', [])]; print('after remove', len(got2), got2 == ids[1::2])
call('deletePlaylist', id=pid)
comment = ('<b>&amp;</b>\n"x"\r\n' * 600)[:10000]
r = call('createBookmark', data=[('id', '3'), ('position', '99'), ('comment', comment)]); print('bookmark', r['status'], r.get('error'))
bm = [b for b in call('getBookmarks')['bookmarks'].get('bookmark', []) if b['entry']['id'] == '3']
print('bookmark back', len(bm), bm and bm[0]['comment'] == comment.replace('\r\n', '\n'), bm and bm[0]['comment'] == comment)
