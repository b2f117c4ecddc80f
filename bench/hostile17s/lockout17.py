#!/usr/bin/env python3
"""Hostile pass 17 (server): a guesser rotating through its IPv6 /64. Needs an AnyIP route for the
client's /64 and a server address in another /64 on this machine (as root):
  ip -6 route add local fd00:17:0:1::/64 dev lo; ip -6 addr add fd00:18::1/64 dev lo
Against a server on '::' with --token TOKEN and user U (password PW): N wrong tokens, then N wrong
passwords for U, each from a new address of fd00:17:0:1::/64 (the next address each time); then
the right token and the right password from yet another address of it; then N connections held
open from N addresses of it at once (how many the server served). Flags: more than 5 guesses of
either kind answered as checked (401 without "too many" / code 40 without "too many"), the right
ones not locked after them, more than the bound's connections served at once. Usage:
lockout17.py PORT TOKEN U PW [N] [BOUND]"""
import http.client, ipaddress, json, socket, sys, urllib.parse
PORT, TOKEN, U, PW = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
N = int(sys.argv[5]) if len(sys.argv) > 5 else 50
BOUND = int(sys.argv[6]) if len(sys.argv) > 6 else 8
NET, SERVER = ipaddress.IPv6Network('fd00:17:0:1::/64'), 'fd00:18::1'
k = 0
def addr():
    global k; k += 1; return str(NET[k])
def sock_from(a):  # IP_FREEBIND: an address of the AnyIP route, not configured on an interface
    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_IP, 15, 1); s.settimeout(30)
    s.bind((a, 0)); s.connect((SERVER, PORT)); return s
def get(path, headers=None):
    c = http.client.HTTPConnection(SERVER, PORT, timeout=30)
    c.sock = sock_from(addr())
    c.request('GET', path, headers=headers or {}); r = c.getresponse(); b = r.read().decode('utf-8', 'replace'); c.close()
    return r.status, b
flags = []
checked = sum(1 for i in range(N) if (lambda st_b: st_b[0] == 401 and 'too many' not in st_b[1])(get('/api/status', {'Authorization': f'Bearer wrong-{i}'})))
st, b = get('/api/status', {'Authorization': 'Bearer ' + TOKEN})
right_token = f'{st}{" locked" if "too many" in b else ""}'
print(f'tokens: {N} wrong from {N} addresses of the /64: {checked} checked; then the right one: {right_token}')
if checked > 5 or right_token == '200': flags.append('token lockout per address')
def sub(pw):
    st, b = get('/rest/ping?' + urllib.parse.urlencode(dict(u=U, p=pw, v='1.16.1', c='l17', f='json')))
    d = json.loads(b)['subsonic-response']
    return d['status'] + (' locked' if 'too many' in d.get('error', {}).get('message', '') else '')
checked = sum(1 for i in range(N) if sub(f'wrong{i}') == 'failed')
right_pw = sub(PW)
print(f'passwords: {N} wrong from {N} addresses: {checked} checked; then the right one: {right_pw}')
if checked > 5 or right_pw == 'ok': flags.append('password lockout per address')
socks, served = [], 0
for i in range(BOUND * 3):
    s = sock_from(addr()); s.settimeout(5)
    s.sendall(f'GET / HTTP/1.1\r\nHost: [{SERVER}]\r\n\r\n'.encode())
    try: served += s.recv(64).startswith(b'HTTP/1.1 200')
    except OSError: pass
    socks.append(s)
for s in socks: s.close()
print(f'connections: {BOUND * 3} from {BOUND * 3} addresses held open at once: {served} served (bound {BOUND})')
if served > BOUND: flags.append('connection bound per address')
print('cases', 2 * N + 2 + BOUND * 3, 'flags', len(flags), flags)
