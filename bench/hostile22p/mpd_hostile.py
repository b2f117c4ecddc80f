#!/usr/bin/python3
"""Hostile pass 22 (MPD radio): a fake MPD on loopback TCP speaking the protocol, hostile in the
ways pass 21's NUL cases (bench/hostile21p/mpd_nul.py, H18P-1) did not cover: very long lines
(a valid tag longer than 4 KiB, a 2 MiB line, a line that never ends), many lines (a queue of
20,000 songs, 10^6 pairs in the status), slow answers (one byte at a time, a silence longer than
the 30 s timeout), disconnects (after the greeting, mid-line, between the status and the queue,
during `add`), answers that are not MPD's (a greeting that is not MPD's, a line without ': ',
more `list_OK`s than commands, an ACK to `status`, an early OK), plus the NUL cases again.
`radio --once --min-queue 2` is run against each; its exit, the `add`s the server received and
its message are printed. Looked for: a crash, a hang, a raw control byte on the terminal, a song
added that the server's bytes did not name, or a valid answer refused.

    mpd_hostile.py CLAPSEARCH_BINARY MUSIC_DIR INDEX_DB INDEXED_URI [CASE_SUBSTRING]
"""
import socket
import subprocess
import sys
import threading
import time

binary, music, db, uri = sys.argv[1:5]
only = sys.argv[5] if len(sys.argv) > 5 else ''
other = uri.encode()


def fake(answer, greeting=b"OK MPD 0.23.5\n", deadline=150):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    got = []

    def serve():
        conn, _ = server.accept()
        try:
            with conn, conn.makefile("rwb") as f:
                if callable(greeting):
                    greeting(f)
                else:
                    f.write(greeting)
                f.flush()
                while line := f.readline():
                    got.append(line)
                    if answer(line, f) == "close":
                        return
                    f.flush()
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    try:
        start = time.monotonic()
        done = subprocess.run([binary, "radio", "--mpd", f"127.0.0.1:{server.getsockname()[1]}", "--music-dir", music,
                               "--db", db, "--once", "--min-queue", "2"], capture_output=True, timeout=deadline)
        return done, got, time.monotonic() - start
    finally:
        server.close()


def status_lines(state=b"play", extra=b""):
    return b"state: " + state + b"\nsong: 0\nsongid: 1\ntime: 3:12\nelapsed: 3.250\n" + extra + b"list_OK\n"


def queue_lines(current=other, queued=(), tags=b""):
    out = b"file: " + current + b"\n" + tags + b"Pos: 0\nId: 1\n"
    for i, q in enumerate(queued):
        out += b"file: " + q + b"\nPos: %d\nId: %d\n" % (i + 1, i + 2)
    return out + b"list_OK\nOK\n"


def standard(status=None, queue=None, add=b"OK\n", config=b"ACK [4@0] {config} you don't have permission\n"):
    def answer(line, f):
        if line.startswith(b"command_list_end"):
            f.write(status if status is not None else status_lines())
            f.write(queue if queue is not None else queue_lines())
        elif line.startswith(b"add "):
            if callable(add):
                return add(f)
            f.write(add)
        elif line.startswith(b"config"):
            f.write(config)
    return answer


def drip(data, pause):
    def write(f):
        for b in data:
            f.write(bytes([b]))
            f.flush()
            time.sleep(pause)
    return write


def custom(on_list_end):
    def answer(line, f):
        if line.startswith(b"command_list_end"):
            return on_list_end(f)
        if line.startswith(b"config"):
            f.write(b"ACK [4@0] {config} you don't have permission\n")
        elif line.startswith(b"add "):
            f.write(b"OK\n")
    return answer


def close_after(data):
    def on(f):
        f.write(data)
        f.flush()
        return "close"
    return on


def slow_whole(f):
    drip(status_lines() + queue_lines(), 0.02)(f)


def silent(f):
    time.sleep(40)


def many_status_pairs(f):
    f.write(b"state: play\nsong: 0\n" + b"x: y\n" * 1_000_000 + b"list_OK\n" + queue_lines())


def long_queue(f):
    f.write(status_lines() + queue_lines(queued=[b"q/%05d.flac" % i for i in range(20000)]))


def never_ending_line(f):
    f.write(b"state: play\nsong: 0\nfile: ")
    for _ in range(700):
        f.write(b"a" * (1 << 20))
        f.flush()


cases = {
    # NUL (H18P-1)
    "NUL in the state word": (standard(status=status_lines(b"play\x00ing")), None),
    "NUL in the current file": (standard(queue=queue_lines(current=other + b"\x00junk")), None),
    "NUL in a queued file": (standard(queue=queue_lines(queued=[b"x\x00" + other])), None),
    "NUL and ESC in an add refusal": (standard(add=b"ACK [50@0] {add} No such song\x00\x1b[2Jhidden\n"), None),
    "NUL in the greeting": (standard(), b"OK MPD 0.23\x00.5\n"),
    "NUL as a whole line": (custom(lambda f: f.write(b"\x00\n")), None),
    "NUL in a pair's name": (standard(status=status_lines(extra=b"vol\x00ume: 5\n")), None),
    # very long lines
    "a 6 KiB Comment tag in the queue (valid)": (standard(queue=queue_lines(tags=b"Comment: " + b"c" * 6144 + b"\n")), None),
    "a 64 KiB Comment tag in the queue (valid)": (standard(queue=queue_lines(tags=b"Comment: " + b"c" * 65536 + b"\n")), None),
    "a 2 MiB line in the status": (standard(status=b"state: play\nsong: 0\nx: " + b"y" * (2 << 20) + b"\nlist_OK\n"), None),
    "a line that never ends (700 MiB)": (custom(never_ending_line), None),
    "a 2 MiB greeting": (standard(), b"OK MPD " + b"9" * (2 << 20) + b"\n"),
    # many lines
    "a queue of 20,000 songs (valid)": (custom(long_queue), None),
    "10^6 pairs in the status": (custom(many_status_pairs), None),
    # slow answers
    "the whole answer one byte per 20 ms (valid)": (custom(slow_whole), None),
    "the greeting one byte per 100 ms (valid)": (standard(), drip(b"OK MPD 0.23.5\n", 0.1)),
    "silent for 40 s after the command list": (custom(silent), None),
    # disconnects
    "closed after the greeting": (lambda line, f: "close", None),
    "closed mid-line in the status": (custom(close_after(b"state: pl")), None),
    "closed between the status and the queue": (custom(close_after(status_lines())), None),
    "closed mid-queue": (custom(close_after(status_lines() + b"file: " + other + b"\nPos: 0\n")), None),
    "closed during add": (standard(add=lambda f: "close"), None),
    "closed before the greeting": (standard(), b""),
    # not MPD's protocol
    "a greeting that is not MPD's": (standard(), b"SSH-2.0-OpenSSH_9.2\r\n"),
    "a status line without ': '": (standard(status=b"state play\nsong: 0\nlist_OK\n"), None),
    "three list_OKs for two commands": (standard(queue=queue_lines()[:-3] + b"list_OK\nlist_OK\nOK\n"), None),
    "an ACK to status": (custom(lambda f: f.write(b"ACK [5@0] {status} \x1b[31mno\n")), None),
    "an early OK after the status": (custom(lambda f: f.write(b"state: play\nsong: 0\nOK\n")), None),
    "CRLF line ends (valid to a lenient reader)": (standard(status=status_lines().replace(b"\n", b"\r\n"),
                                                           queue=queue_lines().replace(b"\n", b"\r\n")), None),
}
counts = {}
for name, (answer, greeting) in cases.items():
    if only and only not in name:
        continue
    try:
        done, got, took = fake(answer, greeting if greeting is not None else b"OK MPD 0.23.5\n")
    except subprocess.TimeoutExpired:
        print(f"HANG   {name}")
        counts["HANG"] = counts.get("HANG", 0) + 1
        continue
    err = done.stderr.decode("utf-8", "backslashreplace").strip().replace("\n", " | ")
    raw = any(b in done.stderr + done.stdout for b in (b"\x00", b"\x1b"))
    adds = [l.decode("utf-8", "backslashreplace").strip()[:60] for l in got if l.startswith(b"add ")]
    verdict = "CRASH" if done.returncode < 0 else ("RAW" if raw else "ran")
    counts[verdict] = counts.get(verdict, 0) + 1
    print(f"{verdict:6} {name}: exit {done.returncode} in {took:.1f} s; adds {adds[:2]}; {err[:260]}")
print(counts)
