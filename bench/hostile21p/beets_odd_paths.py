#!/usr/bin/python3
"""Hostile pass 21 (integrations): the beets plugin (contrib/beets) run by the real `beet` on items
whose paths are odd: a line break, a tab and an escape sequence, a carriage return, a name starting
with '-', quotes and commas (CSV), a 255-byte name in folders 3,000 bytes deep, a name that is
not UTF-8 with no tags (history has nothing to find it by), and files outside beets' music
directory (imported with copy: no). Runs index, search -p, similar (by path and by query), tag,
history (play counts set by `beet modify`), and prints each outcome; a crash (a Python traceback
from beets) or a wrong item is a defect.

    beets_odd_paths.py CLAPSEARCH_BINARY MODEL_DIR PLUGIN_DIR WORK_DIR
"""
import json
import os
import subprocess
import sys

binary, model, plugin_dir, work = sys.argv[1:5]
music = os.path.join(work, "music")
outside = os.path.join(work, "elsewhere")
beetsdir = os.path.join(work, "beetsdir")
index = os.path.join(work, "index.db")
os.makedirs(beetsdir, exist_ok=True)
env = dict(os.environ, BEETSDIR=beetsdir, HOME=work, HF_HUB_OFFLINE="1", LC_ALL="C.UTF-8", PYTHONDONTWRITEBYTECODE="1")
env.pop("CLAPSEARCH_DB", None)
with open(os.path.join(beetsdir, "config.yaml"), "w") as f:
    f.write(f"""directory: {music}
library: {os.path.join(work, 'beets.db')}
pluginpath: [{plugin_dir}]
plugins: clapsearch
import: {{autotag: no, copy: no, move: no, write: no, quiet: yes}}
clapsearch: {{binary: {binary}, db: {index}, model: {model}}}
""")

deep = b"/".join([b"d" * 200] * 14)  # about 2,800 bytes of folders
files = {
    b"music/plain/ok.flac": ("sine=f=220:d=6", {"artist": "Plain", "title": "Plain Song"}),
    b"music/nl/line\nbreak.flac": ("sine=f=330:d=6", {"artist": "Newline", "title": "Line Break"}),
    b"music/cr/carriage\rreturn.flac": ("sine=f=360:d=6", {"artist": "CR", "title": "Carriage"}),
    b"music/esc/tab\tand\x1b[31mred.flac": ("sine=f=440:d=6", {"artist": "Escape", "title": "Red Tab"}),
    b"music/dash/-rf --db=x.flac": ("sine=f=550:d=6", {"artist": "Dash", "title": "Dash Name"}),
    b'music/csv/a "quoted", name;x.flac': ("sine=f=660:d=6", {"artist": "Quote", "title": "Quoted"}),
    b"music/" + deep + b"/" + b"L" * 250 + b".flac": ("sine=f=770:d=6", {"artist": "Long", "title": "Long Path"}),
    b"music/latin/caf\xe9 \xff.flac": ("sine=f=880:d=6", {}),  # not UTF-8, no tags
    b"elsewhere/out\nside.flac": ("sine=f=990:d=6", {"artist": "Outside", "title": "Outside Song"}),
}
for rel, (source, tags) in files.items():
    path = os.path.join(os.fsencode(work), rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(work, "tmp.flac")
    meta = [a for k, v in tags.items() for a in ("-metadata", f"{k}={v}")]
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source] + meta + [tmp], check=True)
    os.rename(tmp, path)


def beet(*args):
    r = subprocess.run(["beet"] + list(args), env=env, capture_output=True)
    out, err = r.stdout.decode("utf-8", "backslashreplace"), r.stderr.decode("utf-8", "backslashreplace")
    crash = "Traceback" in err
    print(f"{'CRASH' if crash else 'exit ' + str(r.returncode)}: beet {' '.join(map(repr, args))}")
    for line in (out + err).strip().splitlines()[:12]:
        print("    " + line[:300])
    return r


beet("import", "-A", music)
beet("import", "-A", outside)
beet("ls", "-p")
beet("clapsearch", "index")
beet("clapsearch", "search", "-p", "a sine tone")
beet("clapsearch", "search", "-f", "$artist - $title", "a sine tone")
for rel in files:
    beet("clapsearch", "similar", "-p", os.fsdecode(os.path.join(os.fsencode(work), rel)))
beet("clapsearch", "similar", "-f", "$title", "artist:Newline")
beet("clapsearch", "tag")
beet("ls", "-f", "$path | $clap_genre | $clap_mood")
beet("modify", "-y", "play_count=3", "skip_count=1")
beet("clapsearch", "history")
beet("clapsearch", "history")
r = subprocess.run([binary, "history", "--json", "--db", index], capture_output=True, text=True)
print("history:", r.stdout.strip()[:400], r.stderr.strip()[:300])
r = subprocess.run([binary, "history", "export", "--db", index], capture_output=True, text=True)
print("export lines:", len(r.stdout.splitlines()), "paths:", sorted({json.loads(l)["path"][-40:] for l in r.stdout.splitlines() if l})[:12])
