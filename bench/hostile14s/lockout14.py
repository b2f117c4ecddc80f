#!/usr/bin/env python3
"""Hostile pass 14 (server): the Subsonic sign-in lockout (serve --login-lockout). Which spellings of a
user name sign in with the right password (each is one more bucket of the limit if the limit keys it
apart), whether 5 wrong passwords lock that user from that address only (127.0.0.x are all loopback),
whether the right password is then refused, whether other users and other addresses go on, and the
server's memory after failures under many distinct made-up names.
Usage: lockout14.py PORT SERVER_PID USER PASSWORD OTHER_USER OTHER_PASSWORD [NAMES]"""
import json, socket, sys, time, urllib.parse, http.client
PORT, PID, U, PW, U2, PW2 = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
NAMES = int(sys.argv[7]) if len(sys.argv) > 7 else 0
n, flags = 0, []
def call(u, p, src='127.0.0.1'):
    global n; n += 1
    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=30, source_address=(src, 0))
    q = urllib.parse.urlencode({'u': u, 'p': p, 'v': '1.16.1', 'c': 'h14', 'f': 'json'})
    c.request('GET', '/rest/ping?' + q); r = c.getresponse(); body = r.read(); c.close()
    d = json.loads(body)['subsonic-response']
    return d['status'], d.get('error', {}).get('code'), d.get('error', {}).get('message', '')
def rss():
    for line in open(f'/proc/{PID}/status'):
        if line.startswith('VmRSS'): return int(line.split()[1])
# 1. spellings that sign in as U
spellings = [U.upper(), U.capitalize(), ' ' + U, U + ' ', U + '\u200b', '\u200b' + U, U + '\u00ad', U + '\ufeff',
             U + '\u034f', U + '\ufe0f', U + '\U000e0001', ''.join(chr(0xff00 + ord(c) - 0x20) for c in U),
             U + '\x00', U + '\t', U + '\u0301', U + '\u200b' * 100, U + '\u200b' * 300, U + '\ufe0f' * 300]
for s in spellings:
    st = call(s, PW)
    print('spelling', repr(s[:12]), len(s.encode()), '->', st[0], st[1], st[2][:60])
# 2. lock U from 127.0.0.2
for i in range(5): call(U, 'wrong%d' % i, '127.0.0.2')
locked = call(U, PW, '127.0.0.2')
print('right password after 5 wrong, same address:', locked)
if locked[0] == 'ok': flags.append('not locked after 5 failures')
print('right password, other address 127.0.0.3:', call(U, PW, '127.0.0.3'))
print('other user, same address:', call(U2, PW2, '127.0.0.2'))
# 3. the spellings from the locked address: does any bypass the lock (a bucket of its own)?
for s in spellings:
    st = call(s, PW, '127.0.0.2')
    if st[0] == 'ok': flags.append('spelling %r signs in past the lock' % s[:12]); print('BYPASS', repr(s[:20]), len(s.encode()))
# 4. many names
if NAMES:
    before = rss(); t = time.time()
    for i in range(NAMES): call('made-up-%06d' % i, 'x', '127.0.0.4')
    print(f'{NAMES} made-up names: rss {before} -> {rss()} kB in {time.time()-t:.0f} s')
    print('locked user still locked after them:', call(U, PW, '127.0.0.2'))
print('cases', n, 'flags', len(flags), flags)
