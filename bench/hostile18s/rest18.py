#!/usr/bin/env python3
"""Hostile pass 18 (server): odd /rest/ paths. Every path under /rest/ (and /rest itself when the
server answers it as Subsonic) must get a Subsonic error envelope in the format asked (f=json,
f=xml, f=jsonp&callback=cb, none = XML), never HTML, never an empty body, never a 5xx crash.
Usage: rest18.py PORT USER PASSWORD. Prints one line per flagged case and a summary."""
import json, socket, sys, xml.dom.minidom

PORT, USER, PW = int(sys.argv[1]), sys.argv[2], sys.argv[3]
AUTH = 'u=%s&p=%s&v=1.16.1&c=h18' % (USER, PW)

NAMES = ['', '.view', 'ping.view/', 'ping/', 'ping%2F', 'ping%2fx', '%2F', '%2e%2e', '..', '.', 'ping.view.view',
         'PING', 'ping%00', 'ping%ff%fe', '%c0%ae', '%e2%82', 'x' * 4000, 'x' * 60000, 'ping;x', 'ping?', 'ping%3F',
         'ping%20', '%20ping', 'ping.VIEW', 'getSong.view/..', 'a/b/c/d', '//ping', 'ping//', '\u00e9', '%E9',
         'ping%0d%0aX-Injected:%201', 'ping%22%3C%3E', '<script>', '%3Cscript%3E', 'getLicense.view%00.json',
         'ping.json', 'ping.view.json', 'stream/../ping', 'ping/%2e%2e/ping', '%', '%%', '%zz', 'ping%']
PREFIXES = ['/rest/', '/REST/', '/rest//']
# f is read as Subsonic and Navidrome read it, case and all: f=JSON is XML. f=jsonp is not offered
# (docs/integrations.md): answered as XML.
FORMATS = [('json', 'f=json'), ('xml', 'f=xml'), ('xml', ''), ('xml', 'f=jsonp&callback=cb'), ('xml', 'f=JSON'), ('bogus', 'f=bogus')]


def raw_get(path):
    s = socket.create_connection(('127.0.0.1', PORT), timeout=30)
    s.sendall(('GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' % path).encode('utf-8', 'surrogateescape'))
    data = b''
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {l.split(':', 1)[0].lower(): l.split(':', 1)[1].strip() for l in lines[1:] if ':' in l}
    return status, headers, body, lines


def check(kind, status, headers, body):
    ct = headers.get('content-type', '')
    if status >= 500 and status != 503:
        return 'status %d' % status
    if not body:
        return 'empty body (status %d)' % status
    if b'<html' in body.lower() or b'<!doctype' in body.lower():
        return 'HTML'
    if 'x-injected' in headers:
        return 'header injected'
    text = body.decode('utf-8', 'replace')
    if kind == 'json' or kind == 'bogus':
        try:
            r = json.loads(text)['subsonic-response']
        except Exception:
            if kind == 'bogus':
                try:
                    xml.dom.minidom.parseString(body)
                    return None
                except Exception:
                    pass
            return 'not a JSON envelope: %r (%s)' % (text[:80], ct)
        if r.get('status') != 'failed' or 'error' not in r:
            return 'not a failure: %r' % text[:100]
        return None
    if kind == 'jsonp':
        if not (text.startswith('cb(') and text.rstrip().rstrip(';').endswith(')')):
            try:
                r = json.loads(text)['subsonic-response']
                return None if r.get('status') == 'failed' else 'jsonp: not a failure'
            except Exception:
                return 'not JSONP: %r (%s)' % (text[:80], ct)
        try:
            r = json.loads(text.rstrip().rstrip(';')[3:-1])['subsonic-response']
        except Exception:
            return 'JSONP not parsable: %r' % text[:80]
        return None if r.get('status') == 'failed' else 'jsonp: not a failure'
    try:
        d = xml.dom.minidom.parseString(body)
    except Exception as e:
        return 'not well-formed XML: %s %r' % (e, text[:80])
    root = d.documentElement
    if root.tagName != 'subsonic-response' or root.getAttribute('status') != 'failed':
        return 'not a failed XML envelope: %r' % text[:100]
    return None


cases = flags = 0
for prefix in PREFIXES:
    for name in NAMES:
        for kind, f in FORMATS:
            for auth in (True, False):
                q = '&'.join(x for x in (AUTH if auth else '', f) if x)
                path = prefix + name + ('?' + q if q else '')
                cases += 1
                try:
                    status, headers, body, lines = raw_get(path)
                except Exception as e:
                    flags += 1
                    print('FLAG %r: no answer: %s' % (path[:120], e))
                    continue
                # /REST/ and /rest// are not /rest/ (the page's 404 may answer them): counted, not judged
                if prefix != '/rest/' and b'subsonic-response' not in body:
                    continue
                if status == 414 or status == 400 and len(path) > 50000:
                    continue  # a request line too long for the server: HTTP's answer
                # dot segments and repeated slashes are merged (RFC 3986; pass 17): /rest/.. is the page,
                # /rest//ping and /rest/stream/../ping are ping; in ping?? the '?' is part of the key "?f"
                if name in ('..', '//ping', 'ping//', 'stream/../ping', 'ping?'):
                    continue
                why = check(kind, status, headers, body)
                if why:
                    flags += 1
                    print('FLAG %s %r: %s' % (kind, path[:120], why))
# /rest alone and odd methods
for path in ['/rest', '/rest?f=json', '/rest.view', '/rest%2Fping?f=json&' + AUTH]:
    cases += 1
    status, headers, body, lines = raw_get(path)
    print('INFO %r: %d %r' % (path[:60], status, body[:100]))
print('cases %d flags %d' % (cases, flags))
