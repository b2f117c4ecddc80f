#!/usr/bin/env python3
"""Hostile pass 15 (server): CPU seconds of every route that takes a count, k, size, offset or a
similar number, on a library with a large copy group (pass 14's big/ or re/), each number given as
0, -1, 1000, 10^12, 2^63, 1e3, nan and inf (and 0.5 / 1 for fractions). Flags a 5xx other than 503,
a number accepted that is not one (200 for nan/inf/2^63 where an integer is asked), or an answer over
BUDGET CPU seconds. Usage: cpu15.py PORT SERVER_PID TRACK_ID SONG_ID ALBUM_ID ARTIST_ID [BUDGET]"""
import json, os, sys, urllib.parse
PORT, PID, T, S, AL, AR = sys.argv[1:7]
BUDGET = float(sys.argv[7]) if len(sys.argv) > 7 else 2.0
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile13s'))
from cpuclock import timed_get
SUB = urllib.parse.urlencode(dict(u='bob', p='bobpw', v='1.16.1', c='h15', f='json'))
NUMS = ['0', '-1', '1000', '1000000000000', '9223372036854775808', '1e3', 'nan', 'inf']
routes = [  # (path with {} for the number, whether the number is an integer)
    (f'/api/search?q=song&k={{}}', True), (f'/api/search?q=song&k=1000&per_artist={{}}', True),
    (f'/api/search?q=song&k=1000&diversity={{}}', False), (f'/api/tracks?offset={{}}&limit=1000', True),
    (f'/api/tracks?limit={{}}', True), (f'/api/similar?track={T}&k={{}}', True),
    (f'/api/similar?track={T}&k=1000&per_album={{}}', True), (f'/api/like?track={T}&k={{}}', True),
    (f'/api/like?track={T}&k=1000&per_chunk={{}}', True), (f'/api/like?track={T}&k=1000&vote_weight={{}}', False),
    (f'/api/like?track={T}&k=1000&diversity={{}}', False), (f'/api/classify?track={T}&top={{}}', True),
    (f'/api/taste?nearest={{}}', True), (f'/api/taste?max_centres={{}}', True), (f'/api/artists?k={{}}', True),
    (f'/api/albums?k={{}}', True), (f'/api/sonic/getSonicSimilarTracks?track={T}&count={{}}', True),
    (f'/api/sonic/getSonicSimilarTracks?track={T}&count=1000&perArtist={{}}', True),
    (f'/api/sonic/getSonicSimilarTracks?track={T}&count=1000&duplicateCosine={{}}', False),
    (f'/api/sonic/findSonicPath?startTrack={T}&endTrack=2&count={{}}', True),
    (f'/api/sonic/search?q=song&count={{}}', True), (f'/api/sonic/similarToAlbum?album={AL}&count={{}}', True),
    (f'/api/sonic/similarToArtist?artist={AR}&count={{}}', True),
    (f'/rest/getRandomSongs?{SUB}&size={{}}', True), (f'/rest/getAlbumList2?{SUB}&type=newest&size=500&offset={{}}', True),
    (f'/rest/search3?{SUB}&query=&songCount={{}}', True), (f'/rest/search3?{SUB}&query=&songCount=500&songOffset={{}}', True),
    (f'/rest/getTopSongs?{SUB}&artist=Alpha&count={{}}', True), (f'/rest/getSimilarSongs2?{SUB}&id={S}&count={{}}', True),
    (f'/rest/getSimilarSongs?{SUB}&id={AL}&count={{}}', True), (f'/rest/getSonicSimilarTracks?{SUB}&id={S}&count={{}}', True),
    (f'/rest/findSonicPath?{SUB}&startSongId={S}&endSongId=2&count={{}}', True),
    (f'/rest/getArtistInfo2?{SUB}&id={AR}&count={{}}', True), (f'/rest/getSongsByGenre?{SUB}&genre=x&count={{}}', True),
]
n, flags, worst = 0, [], 0.0
for r, integer in routes:
    for v in NUMS:
        st, b, c, w = timed_get(PORT, PID, r.format(v)); n += 1
        worst = max(worst, c)
        try: d = json.loads(b); d = d.get('subsonic-response', d)
        except ValueError: d = {}
        ok_answer = st == 200 and d.get('status', 'ok') == 'ok' and 'error' not in d
        bad = (st >= 500 and st != 503) or c > BUDGET or (integer and ok_answer and v in ('nan', 'inf', '9223372036854775808', '1e3'))
        if bad: flags.append(f'{r.format(v)} -> {st}')
        if bad or c > 0.2:
            err = d.get('error') if isinstance(d.get('error'), (str, dict)) else ''
            print(f'{"FLAG" if bad else "slow"} {c:6.2f} cpu s {w:6.2f} s {st} {r.format(v)[:110]} {str(err)[:120]}', flush=True)
print('cases', n, 'worst cpu s', round(worst, 2), 'flags', len(flags))
