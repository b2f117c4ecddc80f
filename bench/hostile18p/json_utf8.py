#!/usr/bin/env python3
"""Hostile pass 18 (Python/history): history import of ListenBrainz / Last.fm / beets files whose
text is not UTF-8 in many ways; prints each case's exit status and first error line.
Usage: json_utf8.py CLAPSEARCH DB USER OUTDIR"""
import json, os, subprocess, sys

cli, db, user, out = sys.argv[1:5]
os.makedirs(out, exist_ok=True)
lb = '[{"listened_at": 1700000000, "track_metadata": {"artist_name": "A", "track_name": "T%s"}}]'
lf = '{"recenttracks": {"track": [{"artist": {"#text": "A"}, "name": "T%s", "date": {"uts": "1700000000"}}]}}'
bt = '{"path": "/x%s.flac", "title": "T", "artist": "A", "play_count": 1, "last_played": 1700000000}\n'
bad = {
    "latin1": b"\xe9",
    "overlong_slash": b"\xc0\xaf",
    "overlong_nul": b"\xc0\x80",
    "cesu_surrogate": b"\xed\xa0\x80",
    "five_byte": b"\xf8\x88\x80\x80\x80",
    "above_10ffff": b"\xf4\x90\x80\x80",
    "lone_continuation": b"\x80",
    "cut_at_end": b"\xe2\x82",
    "raw_nul": b"\x00",
    "raw_tab": b"\t",
    "raw_del": b"\x7f",
    "c1_control": b"\xc2\x85",
    "escaped_lone_high": b"\\ud800",
    "escaped_lone_low": b"\\udc00x",
    "escaped_nul": b"\\u0000",
    "fffe": b"\xef\xbf\xbe",
}
for fmt, tpl in (("listenbrainz", lb), ("lastfm", lf), ("beets", bt)):
    for name, b in bad.items():
        for where in ("value", "key"):
            if where == "key":
                text = tpl.replace('"artist', '"art%sist', 1).encode()
                data = text.replace(b"%s", b"", 1) if b"%s" in text.split(b"art%sist")[1] else text
                data = text.replace(b"art%sist", b"art" + b + b"ist").replace(b"%s", b"")
            else:
                data = tpl.encode().replace(b"%s", b)
            p = os.path.join(out, f"{fmt}-{name}-{where}.json")
            open(p, "wb").write(data)
            r = subprocess.run([cli, "history", "import", p, "--format", fmt, "--user", user, "--db", db, "--json"],
                               capture_output=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
            err = r.stderr.decode("utf-8", "backslashreplace").strip().splitlines()
            line = err[0] if err else r.stdout.decode("utf-8", "backslashreplace").replace("\n", " ")[:160]
            try:
                r.stderr.decode("utf-8")
                utf8 = "utf8-ok"
            except UnicodeDecodeError:
                utf8 = "STDERR-NOT-UTF8"
            print(f"{fmt:12} {name:18} {where:5} rc={r.returncode} {utf8} {line[:260]}")
