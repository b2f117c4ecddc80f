#!/usr/bin/env python3
"""Hostile pass 20 (server): playlist edits a client may send oddly, and HTTP pipelining.
- updatePlaylist songIndexToRemove repeated, negative, past the end, with songIdToAdd in one call
  (indexes are of the playlist as it was: the spec); the result checked entry by entry.
- another user's public playlist: createPlaylist?playlistId=, updatePlaylist, deletePlaylist by
  a non-owner (code 50, nothing changed).
- savePlayQueue with one song 1000 times and a current past it; getPlayQueue after.
- 200 requests pipelined in one send on one connection: every answer, in order.
Usage: playlists20.py PORT. Prints flagged cases and a summary."""
import http.client, json, socket, sys, urllib.parse

PORT = int(sys.argv[1])
PW = {'alice': 'alicepw', 'bob': 'bobpw', 'carol': 'carolpw'}
flags, cases = [], 0


def flag(what):
    flags.append(what); print('FLAG', what, flush=True)


def rest(ep, user='bob', **kw):
    q = urllib.parse.urlencode(dict(dict(u=user, p=PW[user], v='1.16.1', c='p20', f='json'), **kw), doseq=True)
    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=30)
    try:
        c.request('GET', f'/rest/{ep}?{q}'); r = c.getresponse(); b = r.read()
        return json.loads(b)['subsonic-response']
    except Exception as e:
        return {'status': 'not-an-envelope', 'error': {'message': repr(e)}}
    finally:
        c.close()


songs = [s['id'] for s in rest('search3', query='', songCount=50)['searchResult3']['song']]
A, B, C, D = songs[:4]


def entries(pl, user='bob'):
    return [e['id'] for e in rest('getPlaylist', user=user, id=pl).get('playlist', {}).get('entry', [])]


def make(ids, user='bob'):
    return rest('createPlaylist', user=user, name='p20', songId=ids)['playlist']['id']


# ('01' is read as 1, as every whole-number parameter is: not flagged)
REMOVALS = [([0, 0], [B, C]), ([2, 0], [B]), ([-1], None), ([3], None), ([99999999999999999999], None), (['x'], None), ([0, 1, 2], []),
            (['01'], [A, C]), ([' 1'], None)]
for idx, want in REMOVALS:
    cases += 1
    pl = make([A, B, C])
    d = rest('updatePlaylist', playlistId=pl, songIndexToRemove=idx)
    got = entries(pl)
    if want is None:
        if d.get('status') == 'ok' and got != [A, B, C]: flag(f'remove {idx}: ok and the playlist is {got}')
        if d.get('status') != 'ok' and got != [A, B, C]: flag(f'remove {idx}: refused but the playlist changed to {got}')
        print(f'  remove {idx}: {d.get("status")} {d.get("error", {}).get("message", "")[:100]} -> {got}')
    elif d.get('status') != 'ok' or got != want:
        flag(f'remove {idx}: {d.get("status")} {d.get("error", {}).get("message", "")} -> {got}, wanted {want}')
# add and remove in one call: indexes are of the playlist before the adds
cases += 1
pl = make([A, B, C])
d = rest('updatePlaylist', playlistId=pl, songIdToAdd=[D, A], songIndexToRemove=[0])
got = entries(pl)
if got != [B, C, D, A]: flag(f'add {D},{A} and remove 0 of [A,B,C]: {d.get("status")} -> {got}, wanted [B, C, D, A]')

# another user's public playlist
pl = make([A, B])
rest('updatePlaylist', playlistId=pl, public='true')
for ep, kw in [('createPlaylist', dict(playlistId=pl, songId=C)), ('updatePlaylist', dict(playlistId=pl, songIdToAdd=C)),
               ('updatePlaylist', dict(playlistId=pl, songIndexToRemove=0)), ('updatePlaylist', dict(playlistId=pl, name='taken')),
               ('deletePlaylist', dict(id=pl))]:
    cases += 1
    d = rest(ep, user='carol', **kw)
    if d.get('status') == 'ok' or d.get('error', {}).get('code') != 50:
        flag(f'carol {ep} {kw} on bob\'s public playlist: {d.get("status")} {d.get("error")}')
got = entries(pl)
if got != [A, B]: flag(f'bob\'s public playlist after carol\'s edits: {got}')
# a private one: carol must not even learn it exists (70, as for none)
rest('updatePlaylist', playlistId=pl, public='false')
for ep, kw in [('getPlaylist', dict(id=pl)), ('updatePlaylist', dict(playlistId=pl, songIdToAdd=C)), ('deletePlaylist', dict(id=pl))]:
    cases += 1
    d = rest(ep, user='carol', **kw)
    print(f'  carol {ep} on bob\'s private playlist: {d.get("status")} {d.get("error")}')
    if d.get('status') == 'ok': flag(f'carol {ep} on bob\'s private playlist: ok')

# the play queue
for kw in [dict(id=[A] * 1000, current=A), dict(id=[A] * 1001, current=A), dict(id=[A, B], current=C), dict(id=[A, B], current='x'),
           dict(id=[A, B], current=B, position=10**15)]:
    cases += 1
    d = rest('savePlayQueue', **kw)
    q = rest('getPlayQueue')
    n = len(q.get('playQueue', {}).get('entry', []))
    print(f'  savePlayQueue {len(kw["id"])} ids current={kw["current"]}: {d.get("status")} {d.get("error", {}).get("message", "")[:90]}; queue now {n}')
    if q.get('status') != 'ok': flag(f'getPlayQueue after savePlayQueue {len(kw["id"])}: {q}')

# pipelining
cases += 1
q = urllib.parse.urlencode(dict(u='bob', p='bobpw', v='1.16.1', c='p20', f='json'))
reqs = ''.join(f'GET /rest/getSong?{q}&id={songs[k % len(songs)]} HTTP/1.1\r\nHost: x\r\n\r\n' for k in range(199))
reqs += f'GET /rest/ping?{q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
s = socket.create_connection(('127.0.0.1', PORT), timeout=60)
s.sendall(reqs.encode())
data = b''
try:
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
except socket.timeout:
    flag('pipelined 200: no end in 60 s')
s.close()
answers = data.count(b'HTTP/1.1 ')
print(f'  200 pipelined requests: {answers} answers, {data.count(b"HTTP/1.1 200")} 200s')
# A server may close a kept-alive connection after some requests (cpp-httplib: 100, said in
# Keep-Alive: max=100) if its last answer says Connection: close: the client sends the rest again.
last = data.rsplit(b'HTTP/1.1 ', 1)[-1].split(b'\r\n\r\n', 1)[0].lower()
if answers != 200 and b'connection: close' not in last: flag(f'200 pipelined requests got {answers} answers, the last without Connection: close')

print(f'\ncases {cases}, flags {len(flags)}')
for f in flags: print('  ', f)
