#!/usr/bin/env python3
"""Hostile pass 11 (server): a user at the 10,000-playlists bound. Fills bob's playlists with
createPlaylist over one keep-alive connection, then checks the 10,001st is refused, getPlaylists
lists 10,000 (time and the server's VmHWM around it), and a replace (createPlaylist playlistId=)
and deletion + creation still work at the bound. Usage: plist.py PORT SERVER_PID [USER PASSWORD]"""
import http.client, json, sys, time, urllib.parse
port, pid = int(sys.argv[1]), sys.argv[2]
user, pw = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else ('bob', 'bobpw')
c = http.client.HTTPConnection('127.0.0.1', port, timeout=120)
def call(ep, **p):
    q = dict(u=user, p=pw, v='1.16.1', c='h11', f='json'); q.update(p)
    c.request('GET', f'/rest/{ep}?' + urllib.parse.urlencode(q, doseq=True))
    r = c.getresponse(); body = r.read()
    return r.status, json.loads(body)['subsonic-response']
def hwm():
    for l in open(f'/proc/{pid}/status'):
        if l.startswith(('VmHWM', 'VmRSS')): print(' ', l.strip(), end='')
    print()
st, r = call('getPlaylists'); have = len(r.get('playlists', {}).get('playlist', []))
print('have', have)
t0 = time.time()
for i in range(have, 10000):
    st, r = call('createPlaylist', name=f'p{i}', songId=['1', '2'])
    if r['status'] != 'ok': print('refused early at', i, r); break
print('filled in %.1f s' % (time.time() - t0))
st, r = call('createPlaylist', name='one too many', songId='1'); print('10001st:', r.get('status'), r.get('error'))
hwm(); t0 = time.time(); st, r = call('getPlaylists'); n = len(r['playlists']['playlist'])
print('getPlaylists: %d in %.2f s' % (n, time.time() - t0)); hwm()
first = r['playlists']['playlist'][0]['id']
st, r2 = call('createPlaylist', playlistId=first, songId='3'); print('replace at bound:', r2['status'], r2.get('error'))
st, r3 = call('deletePlaylist', id=first); print('delete:', r3['status'])
st, r4 = call('createPlaylist', name='after delete', songId='1'); print('create after delete:', r4['status'], r4.get('error'))
st, r5 = call('createPlaylist', name='and one more', songId='1'); print('one more:', r5['status'], r5.get('error'))
