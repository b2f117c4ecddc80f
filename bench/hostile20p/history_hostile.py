#!/usr/bin/python3
"""Hostile pass 20: `clapsearch history import` of hostile ListenBrainz / Last.fm exports. Each
case must be imported as the format says, or refused naming the file, the entry and the reason,
within its deadline, and never damage or lose what the index already holds (history export is
compared before and after every refused import). Needs an index with a user.

    history_hostile.py CLAPSEARCH INDEX.db USER ARTIST TITLE   (an indexed track's tags)
"""
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile

cli, db, user, artist, title = sys.argv[1:6]
tmp = tempfile.mkdtemp(prefix="h20p-history-")
results = []


def run(*args, stdin=None, timeout=300):
    return subprocess.run([cli, *args, "--db", db], capture_output=True, timeout=timeout, input=stdin)


def export():
    return run("history", "export", "--user", user).stdout


def lb(**over):
    listen = {"listened_at": 1700000000, "track_metadata": {"artist_name": artist, "track_name": title,
                                                           "additional_info": {"duration_ms": 5000}}}
    listen.update(over)
    return listen


def case(name, content, fmt=None, expect="any", suffix=".jsonl"):
    path = os.path.join(tmp, f"case{len(results)}{suffix}")
    with open(path, "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode("utf-8", "surrogateescape"))
    before = export()
    args = ["history", "import", path, "--user", user] + (["--format", fmt] if fmt else [])
    try:
        r = run(*args)
    except subprocess.TimeoutExpired:
        results.append((name, "HANG", ""))
        return
    after = export()
    err = r.stderr.decode("utf-8", "replace").strip().splitlines()
    last = err[-1][:220] if err else ""
    out = r.stdout.decode("utf-8", "replace").strip()[:160]
    lost = any(line not in after.splitlines() for line in before.splitlines())
    if r.returncode < 0 or r.returncode > 2:
        verdict = "CRASH"
    elif lost:
        verdict = "LOST"
    elif expect == "refused" and r.returncode == 0:
        verdict = "TAKEN?"
    else:
        verdict = "HELD"
    results.append((name, verdict, f"exit {r.returncode}: {out} {last}"))


def lines(*listens):
    return "\n".join(json.dumps(x) for x in listens) + "\n"


case("far future listened_at (year 3000)", lines(lb(listened_at=32503680000)), expect="refused")
case("listened_at 2**63", lines(lb(listened_at=2**63)), expect="refused")
case("listened_at -1", lines(lb(listened_at=-1)), expect="refused")
case("listened_at 1e308", '{"listened_at": 1e308, "track_metadata": {"track_name": "a"}}\n', expect="refused")
case("listened_at ISO with +14:00", lines(lb(listened_at="2024-01-01T00:00:00+14:00")))
case("listened_at ISO with -12:00", lines(lb(listened_at="2024-01-01T00:00:00-12:00")))
stored = {json.loads(x)["played_at"] for x in export().splitlines() if json.loads(x).get("type") == "play"}
want = {1704067200 - 14 * 3600, 1704067200 + 12 * 3600}
results.append(("time zones stored as UTC", "HELD" if want <= stored else "WRONG", f"want {sorted(want)}, stored {sorted(stored)[:6]}"))
case("listened_at ISO with +25:00", lines(lb(listened_at="2024-01-01T00:00:00+25:00")), expect="refused")
case("listened_at ISO 2024-02-30", lines(lb(listened_at="2024-02-30T00:00:00Z")), expect="refused")
case("listened_at ISO leap second", lines(lb(listened_at="2016-12-31T23:59:60Z")))
case("listened_at true", lines(lb(listened_at=True)), expect="refused")
case("listened_at list", lines(lb(listened_at=[1])), expect="refused")
case("track_metadata a string", lines(lb(track_metadata="x")), expect="refused")
case("track_name a number", lines(lb(track_metadata={"track_name": 5})), expect="refused")
case("track_name 20 MB", lines(lb(track_metadata={"track_name": "a" * 20_000_000, "artist_name": "b"})))
case("artist_name with NUL and ESC", lines(lb(track_metadata={"track_name": "a\u0000\u001b[31m", "artist_name": "b"})))
case("duration_ms -1e308 and NaN text", lines(lb(track_metadata={"track_name": title, "additional_info": {"duration_ms": "nan"}})))
n_before = len(export().splitlines())
case("the same listen 1000 times", lines(*[lb()] * 1000))
results.append(("the same listen kept once", "HELD" if len(export().splitlines()) == n_before + 1 else "WRONG",
                f"{n_before} -> {len(export().splitlines())} lines"))
case("10,000 distinct listens", lines(*[lb(listened_at=1600000000 + i) for i in range(10000)]))
case("a JSON array of 3 then garbage", json.dumps([lb(), lb(listened_at=1700000001)]) + " garbage", expect="refused", suffix=".json")
case("JSONL with a BOM and CRLF", "\ufeff" + lines(lb(listened_at=1700000100)).replace("\n", "\r\n"))
case("JSONL with invalid UTF-8", b'{"listened_at": 1700000200, "track_metadata": {"track_name": "\xff\xfe"}}\n', expect="refused")
case("JSONL of 1,000,000 empty lines", "\n" * 1_000_000, expect="refused")
case("a line of 200 MB whitespace then a listen", " " * 200_000_000 + lines(lb(listened_at=1700000300)))
case("Last.fm CSV: 4 columns, future date", "artist,album,track,date\n%s,y,%s,01 Jan 3000 00:00\n" % (artist, title), fmt="lastfm", suffix=".csv", expect="refused")
case("Last.fm CSV: unbalanced quote", 'artist,album,track,date\n"x,y,%s,01 Jan 2020 00:00\n' % title, fmt="lastfm", suffix=".csv", expect="refused")
case("Last.fm CSV: 100,000 columns", "a," * 100000 + "\n", fmt="lastfm", suffix=".csv", expect="refused")
case("Last.fm CSV: NUL in a field", "x,y,a\x00b,01 Jan 2020 00:00\n", fmt="lastfm", suffix=".csv")
case("Last.fm JSON: wrong types", json.dumps([{"artist": 1, "album": [], "track": {}, "date": None}]), fmt="lastfm", suffix=".json", expect="refused")
# zips
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("listens/2024/1.jsonl", lines(lb(listened_at=1700000400)))
    z.writestr("listens/2024/1.jsonl", lines(lb(listened_at=1700000500)))  # the same name twice
case("zip with one member name twice", buf.getvalue(), suffix=".zip")
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("listens/../../etc/1.jsonl", lines(lb(listened_at=1700000600)))
    z.writestr("/listens/abs.jsonl", lines(lb(listened_at=1700000700)))
case("zip with ../ and absolute member names", buf.getvalue(), suffix=".zip")
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("listens/2024/1.jsonl", " " * (600 << 20))  # 600 MiB of spaces, about 600 KB deflated
case("zip bomb: 600 MiB of spaces in one member", buf.getvalue(), suffix=".zip", expect="refused")
inner = io.BytesIO()
with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("listens/2024/1.jsonl", lines(lb(listened_at=1700000800)))
outer = io.BytesIO()
with zipfile.ZipFile(outer, "w") as z:
    z.writestr("listens/2024/2.zip", inner.getvalue())
case("zip in a zip", outer.getvalue(), suffix=".zip", expect="refused")
case("a zip cut in half", buf.getvalue()[: len(buf.getvalue()) // 2], suffix=".zip", expect="refused")
for name, verdict, detail in results:
    print(f"{verdict:7} {name}: {detail}")
bad = [r for r in results if r[1] != "HELD"]
print(f"{len(results)} cases, {len(bad)} to look at")
