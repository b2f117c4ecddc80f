#!/usr/bin/env python3
"""Hostile pass 18 (server): clients whose IPv6 address carries an IPv4 one (H18S-1). Needs AnyIP
routes for the client prefixes and a server address on this machine (as root):
  ip -6 route add local 64:ff9b::/96 dev lo; ip -6 route add local 2001:0:4136:e378::/64 dev lo
  ip -6 route add local 2002:c000:207::/48 dev lo; ip -6 addr add fd00:18::1/64 dev lo
Against a server on '::' with --token TOKEN and user U (password PW), for each form:
  - NAT64 (64:ff9b::/96): 10 wrong tokens from 10 IPv4 clients (64:ff9b::192.0.2.1 ... .10), then the
    right token from another IPv4 client (.200): it must be served (another client), and a
    right password of U from another (.201) too;
  - Teredo (one relay 65.54.227.120, clients 192.0.2.1 ... inverted in the last 32 bits): the same;
  - 6to4 (2002:c000:207::/48, one IPv4 site): 10 wrong tokens from 10 /64s of the site, then the
    right one from an 11th /64: it must be locked (one client);
  - 24 connections held open from 24 NAT64 clients (GET /, kept alive): all served (each its own bound).
Flags: an innocent client locked out, a 6to4 site escaping the lockout. Usage: carried18.py PORT TOKEN U PW"""
import http.client, ipaddress, json, socket, sys, urllib.parse

PORT, TOKEN, U, PW = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
SERVER = 'fd00:18::1'


def nat64(v4):
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address('64:ff9b::')) | int(ipaddress.IPv4Address(v4))))


def teredo(v4):
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address('2001:0:4136:e378:8000:63bf::')) |
                                     (int(ipaddress.IPv4Address(v4)) ^ 0xffffffff)))


def six_to_four(subnet):
    return '2002:c000:207:%x::1' % subnet


def sock_from(a):
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND
    s.settimeout(30)
    s.bind((a, 0))
    s.connect((SERVER, PORT))
    return s


def get(src, path, headers=None):
    c = http.client.HTTPConnection(SERVER, PORT, timeout=30)
    c.sock = sock_from(src)
    c.request('GET', path, headers=headers or {})
    r = c.getresponse()
    b = r.read().decode('utf-8', 'replace')
    c.close()
    return r.status, b


def token(src, t):
    st, b = get(src, '/api/status', {'Authorization': 'Bearer ' + t})
    return 'locked' if 'too many' in b else str(st)


def password(src, pw):
    st, b = get(src, '/rest/ping?' + urllib.parse.urlencode(dict(u=U, p=pw, v='1.16.1', c='h18', f='json')))
    d = json.loads(b)['subsonic-response']
    return 'locked' if 'too many' in d.get('error', {}).get('message', '') else d['status']


flags = []
cases = 0
for form, make in (('nat64', nat64), ('teredo', teredo)):
    for i in range(1, 11):
        token(make('192.0.2.%d' % i), 'wrong-%d' % i)
        password(make('192.0.2.%d' % i), 'wrong%d' % i)
    right = token(make('192.0.2.200'), TOKEN)
    right_pw = password(make('192.0.2.201'), PW)
    cases += 22
    print('%s: 10 wrong tokens and passwords from 10 IPv4 clients; another client: token %s, password %s' % (form, right, right_pw))
    if right != '200' or right_pw != 'ok':
        flags.append('%s: an innocent IPv4 client locked out' % form)
for i in range(1, 11):
    token(six_to_four(i), 'wrong-%d' % i)
right = token(six_to_four(0x99), TOKEN)
cases += 11
print('6to4: 10 wrong tokens from 10 /64s of one site; an 11th /64: %s' % right)
if right == '200':
    flags.append('6to4: a site rotating its /64s escaped the lockout')
held, served = [], 0
for i in range(1, 25):  # 3 times the default bound (8), each an IPv4 client of its own
    s = sock_from(nat64('198.51.100.%d' % i))
    s.settimeout(5)
    s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    try:
        served += s.recv(64).startswith(b'HTTP/1.1 200')
    except OSError:
        pass
    held.append(s)
for s in held:
    s.close()
cases += 24
print('connections: 24 from 24 NAT64 clients held open at once: %d served' % served)
if served < 24:
    flags.append('NAT64 clients bounded together')
print('cases %d flags %d %s' % (cases, len(flags), '; '.join(flags)))
