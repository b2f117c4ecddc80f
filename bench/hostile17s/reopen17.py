#!/usr/bin/env python3
"""Hostile pass 17 (server): copies moved over the index under many clients (H16P-3's per-request
reopen). THREADS clients (REST /api/status, /api/search, /api/users; Subsonic ping, getSong,
getStarred2, star, scrobble, createPlaylist) run for SECONDS while a mover, every GAP seconds,
takes a copy of the index (sqlite3 .backup, as docs/operations.md's Backup) and renames it over
the index (what a restore is). A write answered ok whose request started after the last move
ended and ended before the next copy started must be in the index at the end (a write between
a copy's start and its rename went to the replaced file: the restore's own loss, not counted).
Flags: a lost write, a 5xx other than 503, a failed envelope or {error} (counted by message),
a request unanswered in 30 s (a deadlock), the server gone. Usage:
reopen17.py PORT DB TOKEN THREADS SECONDS GAP"""
import collections, http.client, json, os, sqlite3, subprocess, sys, threading, time, urllib.parse
PORT, DB, TOKEN = int(sys.argv[1]), sys.argv[2], sys.argv[3]
THREADS, SECONDS, GAP = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
SUB = dict(u='bob', p='bobpw', v='1.16.1', c='r17', f='json')
lock = threading.Lock()
moves = []          # (copy started, rename done), monotonic
answers = collections.Counter()
failures = collections.Counter()
writes = []         # (kind, key, started, ended)
stop = threading.Event()
def get(path, headers=None):
    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=30)
    try:
        c.request('GET', path, headers=headers or {})
        r = c.getresponse(); b = r.read().decode('utf-8', 'replace'); return r.status, b
    except Exception as e:
        return -1, f'{type(e).__name__}: {e}'
    finally:
        c.close()
def rest(ep, **kw):
    st, b = get(f'/rest/{ep}?' + urllib.parse.urlencode(dict(SUB, **kw)))
    try: d = json.loads(b)['subsonic-response']
    except Exception: return st, False, b[:120]
    return st, d['status'] == 'ok', d.get('error', {}).get('message', '')
def api(path):
    st, b = get(path, {'Authorization': 'Bearer ' + TOKEN})
    return st, st == 200, '' if st == 200 else b[:160]
def client(n):
    k = 0
    while not stop.is_set():
        k += 1; key = f'{n}-{k}'
        for kind, call in [('status', lambda: api('/api/status')), ('search', lambda: api('/api/search?q=song&k=3')),
                           ('users', lambda: api('/api/users')), ('ping', lambda: rest('ping')),
                           ('getSong', lambda: rest('getSong', id='1')), ('getStarred2', lambda: rest('getStarred2')),
                           ('star', lambda: rest('star', id=str(1 + (n * 7 + k) % 30))),
                           ('scrobble', lambda: rest('scrobble', id='2', submission='true', time=str(1577836800000 + (n * 100000 + k) * 1000))),
                           ('createPlaylist', lambda: rest('createPlaylist', name=f'r17-{key}', songId='3'))]:
            t0 = time.monotonic(); st, ok, msg = call(); t1 = time.monotonic()
            with lock:
                answers[(kind, ok)] += 1
                if not ok: failures[(kind, st, msg[:140])] += 1
                if ok and kind in ('scrobble', 'createPlaylist'):
                    writes.append((kind, (n * 100000 + k) + 1577836800 if kind == 'scrobble' else f'r17-{key}', t0, t1))
def mover():
    i = 0
    while not stop.wait(GAP):
        i += 1; t0 = time.monotonic()
        subprocess.run(['sqlite3', DB, f'.backup {DB}.m17'], check=True)
        os.rename(f'{DB}.m17', DB)
        with lock: moves.append((t0, time.monotonic()))
threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)] + [threading.Thread(target=mover)]
start = time.monotonic()
for t in threads: t.start()
time.sleep(SECONDS); stop.set()
for t in threads: t.join()
took = time.monotonic() - start
alive = get('/rest/ping?' + urllib.parse.urlencode(SUB))[0] == 200
time.sleep(2)
con = sqlite3.connect(DB)
plays = {r[0] for r in con.execute("SELECT played_at FROM plays p JOIN users u ON u.id = p.user_id WHERE u.name = 'bob'")}
lists = {r[0] for r in con.execute("SELECT name FROM playlists WHERE name LIKE 'r17-%'")}
def clear(t0, t1):  # the write's request lies wholly between two moves
    for m0, m1 in moves:
        if t1 >= m0 and t0 <= m1: return False
    return True
checked = lost = 0
for kind, key, t0, t1 in writes:
    if not clear(t0, t1): continue
    # a write before a move is in the copy; after the last move, in the final file: either way, kept.
    checked += 1
    there = (key in plays or key * 1000 in plays) if kind == 'scrobble' else key in lists
    if not there:
        lost += 1
        if lost <= 10: print('LOST', kind, key)
total = sum(answers.values())
print(f'{THREADS} threads, {took:.0f} s, {len(moves)} moves, {total} requests ({total / took:.0f}/s), '
      f'{sum(v for (k, ok), v in answers.items() if ok)} ok')
for (kind, st, msg), v in failures.most_common(): print(f'  failed {v:5d} {kind} {st} {msg!r}')
flags = lost + sum(v for (kind, st, msg), v in failures.items() if st == -1 or (st >= 500 and st != 503)) + (0 if alive else 1)
print(f'writes answered ok {len(writes)}, checked (clear of a move) {checked}, lost {lost}; server alive {alive}; '
      f'failures {sum(failures.values())}; flags {flags}')
