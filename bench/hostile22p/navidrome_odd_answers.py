#!/usr/bin/python3
"""Hostile pass 22 (integrations): a server answering the Navidrome plugin's /api/sonic/ requests
with answers not tried before (pass 7-16's hostile_server.mjs has huge, over-limit, wrong types,
not JSON, HTML, bad UTF-8, raw control characters, non-objects, big numbers, count ignored):
nesting 10^5 and 10^6 deep (inside an entry, at the top, in an unknown key), a key given twice,
an empty 200, a 204, a 302 to another host, \\u0000 in a title, one 9 MB title, 10^6 escapes,
an entry of 100,000 keys, a byte order mark first, garbage after the JSON, a top-level array,
sonicMatch null / an object / a string, similarity -0 / 1e-400 / NaN. The first path segment of
the plugin's baseUrl picks the answer. Prints "listening on http://127.0.0.1:PORT".

    navidrome_odd_answers.py   (then: node navidrome_odd_answers.mjs EXTISM_MOD_JS clapsearch.ndp URL)
"""
import http.server
import json
import sys

song = lambda i, title=None: {"id": f"t{i}", "title": title or f"Song {i}", "artist": "A", "album": "B", "duration": 10}
ok = json.dumps({"sonicMatch": [{"entry": song(0), "similarity": 0.5}, {"entry": song(1), "similarity": 0.25}]}).encode()
ANSWERS = {
    "deepentry": lambda: (200, b'{"sonicMatch":[{"entry":{"title":"x","extra":' + b"[" * 1_000_000 + b"]" * 1_000_000 + b'},"similarity":0.5}]}'),
    "deeptop": lambda: (200, b'{"x":' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b',"sonicMatch":[]}'),
    "deepunclosed": lambda: (200, b'{"sonicMatch":[' + b"[" * 1_000_000),
    "dupkey": lambda: (200, b'{"sonicMatch":[{"entry":{"title":"first"},"similarity":0.5}],"sonicMatch":[{"entry":{"title":"second"},"similarity":0.5}]}'),
    "empty200": lambda: (200, b""),
    "s204": lambda: (204, b""),
    "redirect": lambda: (302, b""),
    "nulescape": lambda: (200, b'{"sonicMatch":[{"entry":{"title":"a\\u0000b"},"similarity":0.5}]}'),
    "bigtitle": lambda: (200, json.dumps({"sonicMatch": [{"entry": song(0, "t" * 9_000_000), "similarity": 0.5}]}).encode()),
    "escapes": lambda: (200, b'{"sonicMatch":[{"entry":{"title":"' + b"\\u00e9" * 1_000_000 + b'"},"similarity":0.5}]}'),
    "manykeys": lambda: (200, b'{"sonicMatch":[{"entry":{' + b",".join(b'"k%d":%d' % (i, i) for i in range(100_000)) + b',"title":"last"},"similarity":0.5}]}'),
    "bom": lambda: (200, b"\xef\xbb\xbf" + ok),
    "trailing": lambda: (200, ok + b"xyz{"),
    "toparray": lambda: (200, b"[]"),
    "matchnull": lambda: (200, b'{"sonicMatch":null}'),
    "matchobject": lambda: (200, b'{"sonicMatch":{"entry":{"title":"o"},"similarity":0.5}}'),
    "matchstring": lambda: (200, b'{"sonicMatch":"[{\\"entry\\":{}}]"}'),
    "oddsim": lambda: (200, b'{"sonicMatch":[{"entry":{"title":"a"},"similarity":-0},{"entry":{"title":"b"},"similarity":1e-400},'
                           b'{"entry":{"title":"c"},"similarity":NaN}]}'),
    "ok": lambda: (200, ok),
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        mode = self.path.split("/")[1]
        status, body = ANSWERS.get(mode, lambda: (404, b'{"error":"unknown mode"}'))()
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "http://192.0.2.1/evil")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
