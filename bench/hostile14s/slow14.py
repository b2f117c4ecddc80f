#!/usr/bin/env python3
"""Hostile pass 14 (server): slow clients against the connection threads. For each attack, N sockets
(more than --http-threads) are held while a normal Subsonic ping is timed every second: heads sent a
byte a second (slowloris), a form POST whose body comes a byte a second (slow body), idle keep-alive
connections after one request, and answers never read (a large getIndexes left in the socket). Flags a
ping unanswered within LIMIT seconds (the server's head timeout is 10 s; pings queue behind held
threads at most that long) and a server gone. Usage: slow14.py PORT SERVER_PID [N] [SECONDS] [LIMIT]"""
import os, socket, sys, threading, time, urllib.request
PORT, PID = int(sys.argv[1]), sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 100
SECS = int(sys.argv[4]) if len(sys.argv) > 4 else 30
LIMIT = float(sys.argv[5]) if len(sys.argv) > 5 else 15
A = 'u=bob&p=bobpw&v=1.16.1&c=h14&f=json'
def sock():
    s = socket.create_connection(('127.0.0.1', PORT), timeout=60)
    return s
def drip(prefix, trickle):
    try:
        s = sock(); s.sendall(prefix)
        for b in trickle:
            s.sendall(bytes([b])); time.sleep(1)
            if stop.is_set(): break
        s.close()
    except OSError: pass
def idle(req):
    try:
        s = sock(); s.sendall(req); stop.wait(SECS); s.close()
    except OSError: pass
attacks = {
    'slowloris head': lambda: drip(b'GET /rest/ping?' + A.encode() + b' HTTP/1.1\r\nHost: 127.0.0.1\r\n', b'X-A: ' + b'a' * 200),
    'slow form body': lambda: drip(b'POST /rest/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n', A.encode() + b'&x=' + b'a' * 150),
    'idle keep-alive': lambda: idle(b'GET /rest/ping?' + A.encode() + b' HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
    'answers not read': lambda: idle(b''.join(b'GET /rest/getIndexes?' + A.encode() + b' HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' for _ in range(50))),
}
n, flags = 0, []
for name, attack in attacks.items():
    stop = threading.Event()
    ts = [threading.Thread(target=attack, daemon=True) for _ in range(N)]
    for t in ts: t.start()
    worst = 0
    t_end = time.time() + SECS
    while time.time() < t_end:
        t0 = time.time()
        try:
            with urllib.request.urlopen(f'http://127.0.0.1:{PORT}/rest/ping?{A}', timeout=60) as r: r.read()
            took = time.time() - t0
        except Exception as e:
            took = 999
        n += 1; worst = max(worst, took)
        time.sleep(1)
    stop.set()
    for t in ts: t.join(timeout=5)
    alive = os.path.exists(f'/proc/{PID}')
    bad = worst > LIMIT or not alive
    if bad: flags.append(name)
    print(f'{"FLAG" if bad else "ok  "} {name:18} {N} sockets {SECS} s: slowest ping {worst:.1f} s, server {"up" if alive else "GONE"}', flush=True)
    time.sleep(12)  # the held connections time out before the next attack
print('cases', n, 'flags', len(flags), flags)
