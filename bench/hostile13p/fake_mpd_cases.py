#!/usr/bin/python3
"""Hostile pass 13: `clapsearch radio --once` against a fake MPD played on a socket here: endless
lines, a slow drip (one byte at a time, each within libmpdclient's 30 s read timeout), a line with
no newline, binary, a huge queue, a drip in the greeting. Each case is run with a hard timeout and
recorded with its exit code, wall time and the last line of stderr.

    fake_mpd_cases.py CLAPSEARCH_BINARY MUSIC_DIR DB [ONLY]
"""
import os, socket, subprocess, sys, threading, time

binary, music, db = sys.argv[1:4]
only = sys.argv[4] if len(sys.argv) > 4 else ''
env = dict(os.environ, HF_HUB_OFFLINE='1')
STATUS = b'volume: -1\nrepeat: 0\nrandom: 0\nsingle: 0\nconsume: 0\nplaylist: 2\nplaylistlength: 1\n' \
         b'state: play\nsong: 0\nsongid: 1\ntime: 1:20\nelapsed: 1.0\n'


def drip(f, data, every):
    for b in data:
        f.write(bytes([b])); f.flush(); time.sleep(every)


def run_case(name, answer, greeting=b'OK MPD 0.23.5\n', timeout=400):
    server = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen(1)

    def serve():
        try:
            conn, _ = server.accept()
            with conn, conn.makefile('rwb') as f:
                if callable(greeting): greeting(f)
                else: f.write(greeting); f.flush()
                while line := f.readline():
                    answer(line, f); f.flush()
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    t0 = time.monotonic()
    try:
        d = subprocess.run([binary, 'radio', '--mpd', f'127.0.0.1:{server.getsockname()[1]}', '--music-dir', music,
                            '--db', db, '--once'], env=env, capture_output=True, text=True, timeout=timeout)
        res = f'rc {d.returncode} in {time.monotonic() - t0:.0f} s: {d.stderr.strip().splitlines()[-1][:220] if d.stderr.strip() else ""}'
    except subprocess.TimeoutExpired:
        res = f'HANG (killed after {timeout} s)'
    server.close()
    print(f'{name}: {res}', flush=True)


def queue_of(uris):
    return b''.join(b'file: %s\nPos: %d\nId: %d\n' % (u, i, i + 1) for i, u in enumerate(uris))


def good(line, f):
    if line.startswith(b'command_list_ok_begin'): return
    if line.startswith(b'status'): f.write(STATUS + b'list_OK\n')
    elif line.startswith(b'playlistinfo'): f.write(queue_of([b'00.flac']) + b'list_OK\n')
    elif line.startswith(b'command_list_end'): f.write(b'OK\n')
    else: f.write(b'OK\n')


def on(cmd, bad):
    def answer(line, f):
        if line.startswith(cmd): bad(line, f)
        else: good(line, f)
    return answer


def endless(f):
    while True: f.write(b'x: y\n')


CASES = [
    ('control: a good fake MPD', good, {}),
    ('endless status lines', on(b'status', lambda l, f: endless(f)), {}),
    ('one status line of 10 MB, no newline', on(b'status', lambda l, f: (f.write(b'state: ' + b'p' * 10_000_000), f.flush(), time.sleep(120))), {}),
    ('status: binary bytes', on(b'status', lambda l, f: f.write(os.urandom(5000) + b'\nOK\n')), {}),
    ('status: NUL inside a value', on(b'status', lambda l, f: f.write(b'state: pl\0ay\nsong: 0\nsongid: 1\nlist_OK\n')), {}),
    ('status: slow drip, a line a second for 70 s', on(b'status', lambda l, f: [ (f.write(b'x: y\n'), f.flush(), time.sleep(1)) for _ in range(70)]), {}),
    ('status: slow drip, a byte each 20 s (one line never ends)', on(b'status', lambda l, f: drip(f, b'state: play and on and on and on\n', 20)), {}),
    ('status: connection closed mid-line', on(b'status', lambda l, f: (f.write(b'state: pl'), f.flush(), f.close())), {}),
    ('queue: 200,000 songs (legal, large)', on(b'playlistinfo', lambda l, f: f.write(queue_of([b'00.flac'] + [b'x/%d.flac' % i for i in range(199_999)]) + b'list_OK\n')), {}),
    ('queue: endless songs', on(b'playlistinfo', lambda l, f: [f.write(b'file: x/%d.flac\n' % i) for i in range(10**9)]), {}),
    ('add: endless answer', on(b'add', lambda l, f: endless(f)), {}),
    ('greeting: a byte each 20 s', good, {'greeting': lambda f: drip(f, b'OK MPD 0.23.5\n', 20)}),
    ('greeting: not MPD (HTTP)', good, {'greeting': b'HTTP/1.1 400 Bad Request\r\n\r\n'}),
    ('greeting: endless line', good, {'greeting': lambda f: [f.write(b'O' * 65536) for _ in range(10**6)]}),
]

for name, answer, kw in CASES:
    if only and only not in name:
        continue
    run_case(name, answer, **kw)
