#!/usr/bin/env python3
"""Hostile pass 16 (server): the lockouts' loopback exemption and their table. Against a server
listening on '::' (IPv4 and IPv6) with --token, with a user U whose password is PW:
  1. the REST API token: 8 wrong then the right one from each client address: 127.0.0.1 (named
     ::ffff:127.0.0.1 by a server on '::'), ::1, 127.0.0.2 (loopback, not limited), and from this
     machine's own IPv4 and IPv6 addresses, with X-Forwarded-For / Forwarded / X-Real-IP: 127.0.0.1
     (limited: a header must not fake loopback).
  2. does a right token (a right password) reset the count? 4 wrong, the right one, 2 wrong, the right one.
  3. the Subsonic password lockout from the same addresses.
  4. the table: N wrong passwords from N different 127.x.y.z addresses (Subsonic counts loopback; the
     token's failures are in the same table), the server's RSS before and after, and whether an
     address locked before the flood is still locked after it.
Start the server with --login-lockout 3600 (the flood takes minutes). Usage: lockout16.py PORT SERVER_PID TOKEN U PW OWN_V4 OWN_V6 [N]"""
import http.client, json, socket, sys, threading, time, urllib.parse
PORT, PID, TOKEN, U, PW, V4, V6 = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
N = int(sys.argv[8]) if len(sys.argv) > 8 else 100000
flags, n = [], 0
def req(path, src, headers=None, dst=None):
    global n; n += 1
    dst = dst or ('::1' if src == '::1' else '127.0.0.1' if src.startswith('127.') else V6 if ':' in src else V4)
    c = http.client.HTTPConnection(dst, PORT, timeout=30, source_address=(src, 0))
    c.request('GET', path, headers=headers or {}); r = c.getresponse(); b = r.read(); c.close()
    return r.status, b.decode('utf-8', 'replace')
def token(t, src, extra=None):
    st, b = req('/api/status', src, dict({'Authorization': 'Bearer ' + t}, **(extra or {})))
    return f'{st}{" locked" if "too many" in b else ""}'
def sub(pw, src):
    st, b = req('/rest/ping?' + urllib.parse.urlencode(dict(u=U, p=pw, v='1.16.1', c='h16', f='json')), src)
    d = json.loads(b)['subsonic-response']
    return d['status'] + (' locked' if 'too many' in d.get('error', {}).get('message', '') else '')
def rss():
    for line in open(f'/proc/{PID}/status'):
        if line.startswith('VmRSS'): return int(line.split()[1]) / 1024
print('1. the token, 8 wrong then the right one')
cases = [('127.0.0.1', None, True), ('::1', None, True), ('127.0.0.2', None, True),
         (V4, None, False), (V6, None, False), (V4, {'X-Forwarded-For': '127.0.0.1'}, False),
         (V4, {'Forwarded': 'for=127.0.0.1'}, False), (V6, {'X-Real-IP': '::1'}, False)]
for src, extra, exempt in cases:
    wrong = [token('wrong-token-' + str(i), src, extra) for i in range(8)]
    right = token(TOKEN, src, extra)
    bad = (exempt and right != '200') or (not exempt and right == '200')
    if bad: flags.append(f'token from {src} {extra or ""}: right one after 8 wrong -> {right}')
    print(f'{"FLAG" if bad else "    "} from {src:15} {str(extra or ""):34} wrong: {wrong[0]}..{wrong[-1]} right: {right} (loopback: {exempt})')
print('2. does the right one reset the count? (fresh addresses: the own IPv6 and 127.0.0.33 for Subsonic)')
print('   token from an address not yet locked is not available twice; Subsonic from 127.0.0.33:',
      [sub('bad' + str(i), '127.0.0.33') for i in range(4)], sub(PW, '127.0.0.33'),
      [sub('bad', '127.0.0.33') for i in range(2)], 'right then:', sub(PW, '127.0.0.33'))
print('3. Subsonic passwords, 6 wrong then the right one')
for src in ('127.0.0.1', '::1', '127.0.0.2', V4, V6):
    wrong = [sub('wrong' + str(i), src) for i in range(6)]
    right = sub(PW, src)
    if right == 'ok': flags.append(f'subsonic from {src}: right one after 6 wrong -> ok (not limited)')
    print(f'     from {src:15} wrong: {wrong[0]}..{wrong[-1]} right: {right}')
print(f'4. the table: {N} addresses, one wrong password each')
before = rss(); locked_before = sub(PW, '127.0.0.2')
addrs = [f'127.{16 + i // 65025}.{(i // 255) % 255}.{i % 255 + 1}' for i in range(N)]
lock = threading.Lock(); done = [0]
def worker(part):
    for a in part:
        try: sub('flood', a)
        except Exception as e: print('error', a, e)
        with lock:
            done[0] += 1
            if done[0] % 10000 == 0: print(f'   {done[0]} addresses, {time.time() - t0:.0f} s, RSS {rss():.1f} MB', flush=True)
t0 = time.time()
ts = [threading.Thread(target=worker, args=(addrs[k::8],)) for k in range(8)]
for t in ts: t.start()
for t in ts: t.join()
after = rss(); locked_after = sub(PW, '127.0.0.2')
print(f'   {N} addresses in {time.time() - t0:.0f} s; RSS {before:.1f} -> {after:.1f} MB; 127.0.0.2 locked before: {locked_before}, after: {locked_after}')
if after - before > 100: flags.append(f'RSS grew {after - before:.0f} MB over {N} addresses')
print('cases', n, 'flags', len(flags))
for f in flags: print('FLAG', f)
