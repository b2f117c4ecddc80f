#!/usr/bin/env python3
"""Hostile pass 11 (server): the playlist bound under concurrent creations. bob owns 10,000; one is
deleted, then 24 createPlaylist at once (threads) to the servers given: one process must let exactly one
through. Usage: boundrace.py PORT [PORT2]"""
import json, sys, threading, urllib.parse, urllib.request
ports = [int(p) for p in sys.argv[1:]]
def call(port, ep, **p):
    q = dict(u='bob', p='bobpw', v='1.16.1', c='h11', f='json'); q.update(p)
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/rest/{ep}?' + urllib.parse.urlencode(q, doseq=True), timeout=120) as r:
        return json.loads(r.read())['subsonic-response']
pls = call(ports[0], 'getPlaylists')['playlists']['playlist']
print('owned', len(pls))
print('delete', call(ports[0], 'deletePlaylist', id=pls[-1]['id'])['status'])
ok = []
def make(port, i):
    r = call(port, 'createPlaylist', name=f'race{i}', songId='1')
    if r['status'] == 'ok': ok.append(i)
ts = [threading.Thread(target=make, args=(ports[i % len(ports)], i)) for i in range(24)]
[t.start() for t in ts]; [t.join() for t in ts]
print('created', len(ok), 'owned now', len(call(ports[0], 'getPlaylists')['playlists']['playlist']))
