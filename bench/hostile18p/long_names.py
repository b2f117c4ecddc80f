#!/usr/bin/env python3
"""Hostile pass 18: ListenBrainz exports whose listens carry names just below, at and above the
resolver's 64 KiB limit (song_resolver.cpp kMaxReferenceNameBytes), N listens each; prints the
exit status, wall time and peak RSS of `history import` for each.
Usage: long_names.py CLAPSEARCH DB USER OUTDIR N"""
import json, os, resource, subprocess, sys, time

cli, db, user, out, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
os.makedirs(out, exist_ok=True)
limit = 64 << 10
for size in (limit - 1, limit, limit + 1):
    for what in ("artist_name", "track_name", "release_name", "recording_msid"):
        listens = []
        for i in range(n):
            md = {"artist_name": "A", "track_name": "T", "release_name": "R"}
            md[what if what != "recording_msid" else "artist_name"] = ("é" * (size // 2) + "x" * (size % 2)) if i % 2 else "x" * size
            listens.append({"listened_at": 1700000000 + i, "track_metadata": md})
        p = os.path.join(out, f"lb-{what}-{size}.json")
        with open(p, "w", encoding="utf-8") as f:
            json.dump(listens, f, ensure_ascii=False)
        t = time.time()
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        r = subprocess.run([cli, "history", "import", p, "--format", "listenbrainz", "--user", user, "--db", db, "--json"],
                           capture_output=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
        dt = time.time() - t
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        try:
            j = json.loads(r.stdout)
            summary = f"imported={j['imported']} unresolved={j['unresolved']}"
            ue = j.get("unresolved_entries", [])
            if ue:
                summary += " first=" + json.dumps(ue[0])[:200]
        except Exception:
            summary = r.stderr.decode("utf-8", "backslashreplace")[:300]
        print(f"{what:14} size={size} n={n} rc={r.returncode} {dt:.1f}s maxrss={rss//1024}MB {summary}", flush=True)
