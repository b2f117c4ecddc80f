#!/usr/bin/python3
"""Hostile pass 21 (MPD radio, H18P-1): a fake MPD on loopback TCP speaking the protocol, whose
answers hold a NUL byte: in the state word, in the current song's file, in a queued file, in an
`add` refusal (ACK), in the greeting. `radio --once` is run against each; its exit and messages
are printed. What is looked for: a crash, a hang, a raw control byte on the terminal, or a song
added that the server's real bytes did not name.

    mpd_nul.py CLAPSEARCH_BINARY MUSIC_DIR INDEX_DB INDEXED_URI
"""
import socket
import subprocess
import sys
import threading

binary, music, db, uri = sys.argv[1:5]
other = uri.encode()


def fake(answer, greeting=b"OK MPD 0.23.5\n"):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    got = []

    def serve():
        conn, _ = server.accept()
        try:
            with conn, conn.makefile("rwb") as f:
                f.write(greeting)
                f.flush()
                while line := f.readline():
                    got.append(line)
                    answer(line, f)
                    f.flush()
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    try:
        done = subprocess.run([binary, "radio", "--mpd", f"127.0.0.1:{server.getsockname()[1]}", "--music-dir", music,
                               "--db", db, "--once", "--min-queue", "2"], capture_output=True, timeout=60)
        return done, got
    finally:
        server.close()


def status_queue(state=b"play", current=other, queued=b""):
    def answer(line, f):
        if line.startswith(b"command_list_end"):
            f.write(b"state: " + state + b"\nsong: 0\nsongid: 1\nlist_OK\nfile: " + current + b"\nPos: 0\nId: 1\n" +
                    (b"file: " + queued + b"\nPos: 1\nId: 2\n" if queued else b"") + b"list_OK\nOK\n")
        elif line.startswith(b"add "):
            f.write(b"OK\n")
        elif line.startswith(b"config"):
            f.write(b"ACK [4@0] {config} you don't have permission\n")
    return answer


def refuse_add(line, f):
    if line.startswith(b"command_list_end"):
        f.write(b"state: play\nsong: 0\nsongid: 1\nlist_OK\nfile: " + other + b"\nPos: 0\nId: 1\nlist_OK\nOK\n")
    elif line.startswith(b"add "):
        f.write(b"ACK [50@0] {add} No such song\x00\x1b[2Jhidden\n")


cases = {
    "NUL in the state word (play\\0ing)": (status_queue(state=b"play\x00ing"), None),
    "NUL in the current file (URI\\0junk)": (status_queue(current=other + b"\x00junk"), None),
    "NUL in a queued file": (status_queue(queued=b"x\x00" + other), None),
    "NUL and ESC in an add refusal": (refuse_add, None),
    "NUL in the greeting": (status_queue(), b"OK MPD 0.23\x00.5\n"),
    "NUL as a whole line": (lambda line, f: f.write(b"\x00\n") if line.startswith(b"command_list_end") else None, None),
}
for name, (answer, greeting) in cases.items():
    try:
        done, got = fake(answer, greeting or b"OK MPD 0.23.5\n")
    except subprocess.TimeoutExpired:
        print(f"HANG   {name}")
        continue
    err = done.stderr.decode("utf-8", "backslashreplace").strip().replace("\n", " | ")
    raw = any(b in done.stderr + done.stdout for b in (b"\x00", b"\x1b"))
    adds = [l.decode("utf-8", "backslashreplace").strip() for l in got if l.startswith(b"add ")]
    verdict = "CRASH" if done.returncode < 0 else ("RAW" if raw else "ran")
    print(f"{verdict:6} {name}: exit {done.returncode}; adds {adds[:3]}; {err[:300]}")
