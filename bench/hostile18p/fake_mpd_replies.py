#!/usr/bin/env python3
"""Hostile pass 18: `clapsearch radio --once` against a fake MPD whose replies carry control
characters (ESC, BEL, CR, NUL, DEL, C1), invalid UTF-8 and overlong lines, in the greeting, the
status's state word, the queue's file names and the ACK error texts. Prints each case's exit
status and whether stdout/stderr hold a raw control byte (terminal injection) or bytes that are
not UTF-8.
Usage: fake_mpd_replies.py CLAPSEARCH DB MUSIC_DIR SONG_FILE_NAME"""
import os, re, socket, subprocess, sys, threading

cli, db, music, song = sys.argv[1:5]
env = dict(os.environ, HF_HUB_OFFLINE="1")
BAD = {"esc": b"\x1b[2J\x1b]0;owned\x07", "cr": b"a\rb", "nul": b"a\x00b", "del": b"a\x7fb", "c1": b"a\xc2\x9bb",
       "latin1": b"caf\xe9", "cut": b"a\xe2\x82", "tab": b"a\tb", "long": b"x" * 300000}


def run(handler, greeting=b"OK MPD 0.23.5\n"):
    """handler(commands, f): answers one command list (or one command outside a list)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        try:
            conn, _ = srv.accept()
            with conn, conn.makefile("rwb") as f:
                f.write(greeting)
                f.flush()
                batch, in_list = [], False
                while line := f.readline():
                    if line.startswith(b"command_list_end"):
                        handler(batch, f)
                        batch, in_list = [], False
                    elif line.startswith(b"command_list"):
                        in_list = True
                    elif in_list:
                        batch.append(line)
                    else:
                        handler([line], f)
                    f.flush()
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    r = subprocess.run([cli, "radio", "--mpd", f"127.0.0.1:{srv.getsockname()[1]}", "--music-dir", music, "--db", db,
                        "--once", "--no-history"], env=env, capture_output=True, timeout=60)
    srv.close()
    return r


def verdict(r):
    out = r.stdout + r.stderr
    raw = re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", out)
    try:
        out.decode("utf-8")
        utf8 = "utf8-ok"
    except UnicodeDecodeError:
        utf8 = "NOT-UTF8"
    lines = r.stderr.decode("utf-8", "backslashreplace").strip().splitlines()
    return f"rc={r.returncode} {'RAW-CONTROL' if raw else 'no-raw-control'} {utf8} len={len(out)} {lines[-1][:220] if lines else ''}"


def status(state=b"play", file=None):
    file = song.encode() if file is None else file
    return b"state: " + state + b"\nsong: 0\nlist_OK\nfile: " + file + b"\nPos: 0\nId: 1\nlist_OK\nOK\n"


def normal(cmds, f, file=None, state=b"play", ack=None):
    if cmds and cmds[0].startswith(b"status"):
        f.write(status(state, file))
    elif ack is not None and any(c.startswith(b"add") for c in cmds):
        f.write(b"ACK [50@0] {add} No such file " + ack + b"\n")
    else:
        f.write(b"list_OK\n" * (len(cmds) - 1) + b"OK\n" if len(cmds) > 1 else b"OK\n")


for name, bad in BAD.items():
    print(f"greeting  {name:7}", verdict(run(normal, greeting=b"OK MPD 0.23.5" + bad + b"\n")), flush=True)
    print(f"file      {name:7}", verdict(run(lambda c, f: normal(c, f, file=b"dir/" + bad + b".flac"))), flush=True)
    print(f"state     {name:7}", verdict(run(lambda c, f: normal(c, f, state=bad))), flush=True)
    print(f"ack       {name:7}", verdict(run(lambda c, f: normal(c, f, ack=bad))), flush=True)
    print(f"ack-status {name:6}", verdict(run(lambda c, f: f.write(b"ACK [5@0] {status} " + bad + b"\n"))), flush=True)
