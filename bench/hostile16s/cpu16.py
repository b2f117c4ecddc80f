#!/usr/bin/env python3
"""Hostile pass 16 (server): pass 15's cpu15.py for the numbers it did not send: the for-you routes
(half_life, nearest, max_centres with a user), the map, a track's scores, search's high/moderate, and
the Subsonic lists and queue (getAlbumList, getAlbumList2 byYear's years, getStarred2, search3's
artist and album counts, savePlayQueue's position and current, savePlayQueueByIndex's currentIndex,
createBookmark's position, getRandomSongs' years), each given 0, -1, 1000, 10^12, 2^63, 1e3, nan, inf,
-2^63-1 and an empty value (the mixes' and map's k and getStarred2's size are no parameters of theirs:
ignored, as any unknown one). Flags a 5xx other than 503, a non-number accepted where an integer is
asked, an answer over BUDGET CPU seconds. Usage: cpu16.py PORT SERVER_PID TRACK_ID SONG_ID [BUDGET]"""
import json, os, sys, urllib.parse
PORT, PID, T, S = sys.argv[1:5]
BUDGET = float(sys.argv[5]) if len(sys.argv) > 5 else 2.0
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile13s'))
from cpuclock import timed_get
SUB = urllib.parse.urlencode(dict(u='bob', p='bobpw', v='1.16.1', c='h16', f='json'))
NUMS = ['0', '-1', '1000', '1000000000000', '9223372036854775808', '1e3', 'nan', 'inf', '-9223372036854775809', '']
routes = [
    ('/api/taste?user=bob&half_life={}', False), ('/api/taste?user=bob&nearest={}', True),
    ('/api/taste?user=bob&max_centres={}', True), ('/api/mixes?user=bob&k={}', False), ('/api/map?k={}', False),
    (f'/api/tracks/{T}/scores?k={{}}', True), ('/api/search?q=song&high={}', False), ('/api/search?q=song&moderate={}', False),
    ('/api/analyze?k={}', True), ('/api/sonic/resolve?q=song&count={}', True),
    (f'/rest/getAlbumList?{SUB}&type=random&size={{}}', True), (f'/rest/getAlbumList?{SUB}&type=newest&offset={{}}', True),
    (f'/rest/getAlbumList2?{SUB}&type=byYear&fromYear={{}}&toYear=3000', True),
    (f'/rest/getAlbumList2?{SUB}&type=byYear&fromYear=0&toYear={{}}', True),
    (f'/rest/getStarred2?{SUB}&size={{}}', False), (f'/rest/search3?{SUB}&query=&artistCount={{}}', True),
    (f'/rest/search3?{SUB}&query=&albumCount={{}}&albumOffset=0', True), (f'/rest/search2?{SUB}&query=&songCount={{}}', True),
    (f'/rest/getRandomSongs?{SUB}&size=500&fromYear={{}}', True),
    (f'/rest/savePlayQueue?{SUB}&id={S}&current={S}&position={{}}', True),
    (f'/rest/savePlayQueueByIndex?{SUB}&id={S}&id={S}&currentIndex={{}}', True),
    (f'/rest/savePlayQueueByIndex?{SUB}&id={S}&currentIndex=0&position={{}}', True),
    (f'/rest/createBookmark?{SUB}&id={S}&position={{}}', True),
    (f'/rest/getPlayQueue?{SUB}&x={{}}', False), (f'/rest/getPlayQueueByIndex?{SUB}&x={{}}', False),
    (f'/rest/scrobble?{SUB}&id={S}&submission=false&time={{}}', True),
    (f'/rest/stream?{SUB}&id={S}&maxBitRate={{}}', True), (f'/rest/stream?{SUB}&id={S}&timeOffset={{}}', True),
    (f'/rest/getCoverArt?{SUB}&id={S}&size={{}}', True), (f'/rest/getLyricsBySongId?{SUB}&id={S}&x={{}}', False),
]
n, flags, worst = 0, [], 0.0
for r, integer in routes:
    for v in NUMS:
        st, b, c, w = timed_get(PORT, PID, r.format(urllib.parse.quote(v))); n += 1
        worst = max(worst, c)
        try: d = json.loads(b); d = d.get('subsonic-response', d)
        except ValueError: d = {}
        ok_answer = st in (200, 206) and d.get('status', 'ok') == 'ok' and 'error' not in d
        bad = (st >= 500 and st != 503) or c > BUDGET or (integer and ok_answer and v in ('nan', 'inf', '9223372036854775808', '1e3', '-9223372036854775809'))
        if bad: flags.append(f'{r.format(v)} -> {st}')
        if bad or c > 0.2:
            err = d.get('error') if isinstance(d.get('error'), (str, dict)) else ''
            print(f'{"FLAG" if bad else "slow"} {c:6.2f} cpu s {w:6.2f} s {st} {r.format(v)[:110]} {str(err)[:120]}', flush=True)
print('cases', n, 'worst cpu s', round(worst, 2), 'flags', len(flags))
